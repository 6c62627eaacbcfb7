import os from 'node:os';
import { cacheDirsIn, type CacheDirs } from '../src/config/cache-dirs.js';
import path from 'node:path';
import { DelayedError, FlowProducer, Queue, UnrecoverableError, WaitingChildrenError, Worker, type Job } from 'bullmq';
import { chartImagePayloads } from '../src/plan/image-payloads.js';
import { runImageJobs } from '../src/runner/run-image-jobs.js';
import type { AddonChartGroup } from '../src/addons/artifacts.js';
import { failedJobItems, type ChildResult } from '../src/queue/sync-flow.js';
import { syncRunStep } from '../src/queue/steps/sync-run.js';
import { publishAddonsStep } from '../src/queue/steps/publish-addons.js';
import { mirrorAddonChartJob } from '../src/jobs/mirror-addon-chart.js';
import type { RepositoryClient } from '../src/spaceone/repository-client.js';
import type { AirlockConfig } from '../src/config/schema.js';
import type { Engine } from '../src/app/engine.js';
import { formatErrorLine, toAirlockError, type AirlockError } from '../src/core/errors.js';
import { chartImageCache, chartSource, mirrorChart } from '../src/jobs/mirror-chart.js';
import { mirrorBotkubeJob, mirrorFileJob } from '../src/jobs/mirror-files.js';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { createHelmRepoReader, memoryIndexCache } from '../src/sources/helm-repo.js';
import type { Logger } from '../src/core/log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, JOB } from '../src/model/job-names.js';
import { redact } from '../src/core/secrets.js';
import type { MetricsSink } from '../src/queue/worker-metrics.js';
import { deferIfPaused, deferIfRateLimited } from '../src/queue/rate-defer.js';
import { botkubeItems, chartItems, failureItems, fileItem, imageItems } from '../src/report/run-report.js';
import type { ReportItem } from '../src/model/report.js';
import type { ChartResult } from '../src/jobs/mirror-chart.js';
import { DEFAULT_REDIS_POLICY, isRedisConnectionError, serviceRedisOptions, type RedisPolicy } from '../src/state/redis-connect.js';
import { configDigest } from '../src/queue/worker-config.js';
import type { Redis } from 'ioredis';

export interface QueueWorkerOptions {
  config: AirlockConfig;
  engine: Engine;
  logger: Logger;
  /** Redis connection URL. */
  redisUrl: string;
  queue?: string;
  prefix?: string;
  concurrency?: number;
  /** Where scheduled sync runs keep chart index validators, chart image lists, addon archives and catalogs. */
  cacheDirs?: CacheDirs;
  /** Job lock lifetime: a worker that dies holds its jobs this long before another takes them. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Where finished jobs are counted for `airlock serve`'s /metrics. */
  metrics?: MetricsSink;
  /** Connect timeout and reconnect backoff (default: DEFAULT_REDIS_POLICY). */
  policy?: RedisPolicy;
  /** A client the queue and flow handles share (the caller closes it); default: their own. */
  connection?: Redis;
  /** Counts the jobs inside the processor now, for a shutdown that knows whether it waits for anything. */
  inFlight?: { count: number };
}


/**
 * The queue side of the same processors the one-shot CLI runs: one BullMQ worker dispatching by
 * job name. Permanent failures (401, 404, digest mismatch…) are not retried; the rest use the
 * job's backoff.
 */
export function startQueueWorker(options: QueueWorkerOptions): Worker {
  const { engine, logger } = options;
  // Index validators live as long as the worker; each job reads the index afresh (304 when unchanged).
  const indexCache = memoryIndexCache();
  const prefix = options.prefix ?? options.config.redis?.prefix ?? DEFAULT_PREFIX;
  const queueName = options.queue ?? DEFAULT_QUEUE;
  // Reconnects for ever with backoff; commands wait for the connection rather than fail the job.
  const connection = { url: options.redisUrl, ...serviceRedisOptions(options.policy ?? DEFAULT_REDIS_POLICY) };
  // Flow parents add their children through the FlowProducer and read failed ones through the queue.
  const queue = new Queue(queueName, { connection: options.connection ?? connection, prefix });
  const flow = new FlowProducer({ connection: options.connection ?? connection, prefix });
  // Their connection errors are the health watch's to report, once (src/state/redis-health.ts).
  queue.on('error', (e) => logConnectionError(logger, e, 'queue error'));
  flow.on('error', (e) => logConnectionError(logger, e, 'flow producer error'));
  const digest = configDigest(options.config);
  const cacheDirs = options.cacheDirs ?? cacheDirsIn(path.join(os.tmpdir(), 'airlock-cache'), options.config);
  // On disk, not per job: an unchanged chart's images are known without downloading it again.
  const imageCache = chartImageCache(cacheDirs.chartImages);
  // One Repository service client per worker, opened on the first plugin registration. A failed
  // open is forgotten, so the next registration tries again instead of failing for the worker's life.
  let client: Promise<RepositoryClient> | undefined;
  const repositoryClient = () =>
    (client ??= import('../src/plugins/plugin-sources.js')
      .then(({ repositoryClientFor }) => repositoryClientFor(options.config, 'worker'))
      .catch((e: unknown) => {
        client = undefined;
        throw e;
      }));
  /** Inside a flow a child returns its report items to its parent with its value. */
  const asChild = (job: Job, value: unknown, items: ReportItem[], retry?: ChildResult['retry']) => (job.parentKey ? ({ items, value, ...(retry ? { retry } : {}) } satisfies ChildResult) : value);
  /** The images a chart needs, copied right after it (a flow cannot add siblings to its parent). */
  const chartImagesInline = async (results: ChartResult[], log: Logger) => {
    const { payloads, failures } = chartImagePayloads(results, options.config, new Set());
    const outcomes = await runImageJobs(payloads, { engine, logger: log }, { concurrency: options.config.concurrency.images });
    return { items: [...failureItems(failures, 'image'), ...imageItems(outcomes)], failedPayloads: outcomes.flatMap((o) => (o.error ? [o.payload] : [])) };
  };
  const run = async (job: Job, log: Logger, token: string | undefined): Promise<{ value: unknown; items: ReportItem[]; failure?: AirlockError }> => {
    if (job.name === JOB.mirrorImage) {
      const moved = byteProgress(job);
      const value = await mirrorImage(job.data, { engine, logger: log, progress: { planned: () => undefined, moved: moved.add, skipped: () => undefined } }).finally(moved.stop);
      const items = imageItems([{ payload: job.data, result: value, durationMs: 0 }]);
      return { value: asChild(job, value, items), items };
    }
    if (job.name === JOB.mirrorFile) {
      const value = await mirrorFileJob(job.data, { engine, logger: log });
      const items = [fileItem('file', value.source, value.url, value.status, value.bytes, value.sha256)];
      return { value: asChild(job, value, items), items };
    }
    if (job.name === JOB.mirrorBotkube) {
      const r = await mirrorBotkubeJob(job.data, { engine, logger: log });
      // Files that failed fail the job (and its retries), after the rest was copied.
      const items = botkubeItems(r);
      return { value: asChild(job, { ...r, failures: [] }, items), items, ...(r.failures[0] ? { failure: r.failures[0] } : {}) };
    }
    const flowCtx = { config: options.config, engine, logger: log, cacheDirs, queue, flow, token, configDigest: digest };
    if (job.name === JOB.sync) return syncRunStep(job, flowCtx);
    if (job.name === JOB.publishAddons) return publishAddonsStep(job, flowCtx);
    if (job.name === JOB.registerPlugin) {
      const { registerPluginStep } = await import('../src/queue/steps/register-plugin.js');
      return registerPluginStep(job, { ...flowCtx, repositoryClient });
    }
    if (job.name === JOB.mirrorAddonChart) {
      const g = job.data as AddonChartGroup;
      const r = await mirrorAddonChartJob(g, { config: options.config, engine, logger: log, repos: createHelmRepoReader(engine, { cache: indexCache, maxIndexBytes: options.config.limits.chartIndexBytes }), imageCache });
      const images = await chartImagesInline(r.outcomes.flatMap((o) => (o.result ? [o.result] : [])), log);
      const items = [...chartItems(r.outcomes), ...images.items];
      return { value: asChild(job, { key: r.key, failed: r.failed }, items), items };
    }
    if (job.name === JOB.mirrorChart) {
      const value = await mirrorChart(job.data, { engine, logger: log, repos: createHelmRepoReader(engine, { cache: indexCache, maxIndexBytes: options.config.limits.chartIndexBytes }), imageCache });
      const items = chartItems([{ source: chartSource(job.data), target: value.target, result: value, durationMs: 0 }]);
      if (!job.parentKey) return { value, items };
      const images = await chartImagesInline([value], log);
      return { value: asChild(job, value, [...items, ...images.items], images.failedPayloads.length ? { images: images.failedPayloads } : undefined), items: [...items, ...images.items] };
    }
    throw new UnrecoverableError(`unknown job name "${job.name}"`);
  };
  const record = async (job: Job, state: 'completed' | 'failed', items: ReportItem[]) => {
    // Metrics never fail a job: a Redis hiccup here costs a count, not a copy.
    await options.metrics?.record(job.name, state, items).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'metrics not recorded'));
  };
  const inFlight = options.inFlight ?? { count: 0 };
  const processor = async (job: Job, token?: string) => {
    inFlight.count += 1;
    try {
      return await handle(job, token);
    } finally {
      inFlight.count -= 1;
    }
  };
  const handle = async (job: Job, token?: string) => {
    const log = logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    // A paused upstream's jobs wait in the queue, not in a worker slot, and keep their attempts.
    await deferIfPaused(job, token, engine.budget, log);
    let settled: ReportItem[] | undefined;
    try {
      const { value, items, failure } = await run(job, log, token);
      if (failure) {
        settled = items;
        throw failure;
      }
      await record(job, 'completed', items);
      return value;
    } catch (e) {
      // A flow parent waiting for its children, or a job put off: not a failure, no attempt used.
      if (e instanceof WaitingChildrenError || e instanceof DelayedError) throw e;
      if (e instanceof UnrecoverableError) {
        await record(job, 'failed', failedJobItems(job.name, job.data, toAirlockError(e, artifactOf(job))));
        throw e;
      }
      await deferIfRateLimited(job, token, engine.budget, e, log);
      const err = toAirlockError(e, artifactOf(job));
      // Counted once, when the job has failed for good, not per attempt.
      if (err.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await record(job, 'failed', settled ?? failedJobItems(job.name, job.data, err));
      const line = redact(formatErrorLine(err));
      if (err.permanent) throw new UnrecoverableError(line);
      throw new Error(line);
    }
  };
  const worker = new Worker(queueName, processor, {
    connection,
    prefix,
    concurrency: options.concurrency ?? options.config.concurrency.images,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
    removeOnComplete: { count: 1000, age: 24 * 3600 },
    removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
  });
  worker.on('error', (e) => logConnectionError(logger, e, 'worker error'));
  worker.on('failed', (job, e) => {
    logger.warn({ jobId: job?.id, reason: e.message }, 'job failed');
    // A parent failed by a child (a plugin by its image copy) while it waited never reaches the
    // processor: BullMQ fails it with its deferred failure, exactly `child <key> failed`. The
    // processor's own `child <key> failed: why` was counted where it was thrown.
    if (job && /^child \S+ failed$/.test(e.message)) void record(job, 'failed', failedJobItems(job.name, job.data, toAirlockError(e, artifactOf(job))));
  });
  worker.on('closed', () => {
    void Promise.all([queue.close(), flow.close(), client?.then((c) => c.close())]).catch(() => undefined);
  });
  return worker;
}

/**
 * The bytes a copy has written so far, as the job's progress (`{bytes}`), at most once a second:
 * what `sync --queue` shows while a large image is still on its way. A progress that cannot be
 * written (Redis away) is skipped; the job does not wait for it.
 */
function byteProgress(job: Job): { add: (n: number) => void; stop: () => void } {
  let bytes = 0;
  let sent = 0;
  const timer = setInterval(() => {
    if (bytes === sent) return;
    sent = bytes;
    void job.updateProgress({ bytes }).catch(() => undefined);
  }, 1000);
  timer.unref();
  return {
    add: (n) => {
      bytes += n;
    },
    stop: () => clearInterval(timer),
  };
}

/** A lost connection is logged at debug (the health watch says it once); anything else is an error. */
function logConnectionError(logger: Logger, e: Error, what: string): void {
  if (isRedisConnectionError(e)) logger.debug({ err: e.message }, what);
  else logger.error({ err: e }, what);
}

/** The artifact a job is about, for its error and its upstream. */
function artifactOf(job: Job): string {
  const d = (job.data ?? {}) as { source?: string; url?: string; chart?: string; version?: string };
  if (job.name === JOB.mirrorChart) return chartSource(d);
  return d.source ?? d.url ?? job.name;
}

