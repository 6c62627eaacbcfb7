import os from 'node:os';
import path from 'node:path';
import { DelayedError, FlowProducer, Queue, UnrecoverableError, WaitingChildrenError, Worker, type Job } from 'bullmq';
import { cacheDirsIn, type CacheDirs } from '../src/config/cache-dirs.js';
import type { RepositoryClient } from '../src/spaceone/repository-client.js';
import type { AirlockConfig } from '../src/config/schema.js';
import type { Engine } from '../src/app/engine.js';
import { toAirlockError } from '../src/core/errors.js';
import { chartImageCache } from '../src/jobs/mirror-chart.js';
import type { JobContext } from '../src/jobs/kinds.js';
import { createHelmRepoReader, memoryIndexCache } from '../src/sources/helm-repo.js';
import type { Logger } from '../src/core/log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../src/model/job-names.js';
import type { MetricsSink } from '../src/queue/worker-metrics.js';
import { deferIfPaused, deferIfRateLimited } from '../src/queue/rate-defer.js';
import { failedJobItems, jobArtifact } from '../src/queue/job-kinds.js';
import { workerKind, type JobRun } from '../src/queue/worker-kinds.js';
import { encodeJobFailure, isBullmqChildFailure } from '../src/queue/failure-text.js';
import type { ReportItem } from '../src/model/report.js';
import {
  DEFAULT_REDIS_POLICY,
  isRedisConnectionError,
  serviceRedisOptions,
  type RedisPolicy,
} from '../src/state/redis-connect.js';
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
  const repos = () =>
    createHelmRepoReader(engine, { cache: indexCache, maxIndexBytes: options.config.limits.chartIndexBytes });
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
  const run = async (job: Job, log: Logger, token: string | undefined): Promise<JobRun> => {
    const kind = workerKind(job.name);
    if (!kind) throw new UnrecoverableError(`unknown job name "${job.name}"`);
    // Parsed once, here: a malformed payload fails its job with E_USAGE, naming what is wrong.
    const payload = kind.parse(job.data);
    const jobs: JobContext = { config: options.config, engine, logger: log, repos, imageCache };
    const flowCtx = {
      config: options.config,
      engine,
      logger: log,
      cacheDirs,
      queue,
      flow,
      token,
      configDigest: digest,
    };
    return kind.run(job, payload, { jobs, flow: flowCtx, repositoryClient });
  };
  const record = async (job: Job, state: 'completed' | 'failed', items: ReportItem[]) => {
    // Metrics never fail a job: a Redis hiccup here costs a count, not a copy.
    await options.metrics
      ?.record(job.name, state, items)
      .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'metrics not recorded'));
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
        await record(
          job,
          'failed',
          failedJobItems(job.name, job.data, toAirlockError(e, jobArtifact(job.name, job.data))),
        );
        throw e;
      }
      await deferIfRateLimited(job, token, engine.budget, e, log);
      const err = toAirlockError(e, jobArtifact(job.name, job.data));
      // Counted once, when the job has failed for good, not per attempt.
      if (err.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
        await record(job, 'failed', settled ?? failedJobItems(job.name, job.data, err));
      const line = encodeJobFailure(err);
      if (err.permanent) throw new UnrecoverableError(line);
      throw new Error(line, { cause: e });
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
    if (job && isBullmqChildFailure(e.message))
      void record(
        job,
        'failed',
        failedJobItems(job.name, job.data, toAirlockError(e, jobArtifact(job.name, job.data))),
      );
  });
  worker.on('closed', () => {
    void Promise.all([queue.close(), flow.close(), client?.then((c) => c.close())]).catch(() => undefined);
  });
  return worker;
}

/** A lost connection is logged at debug (the health watch says it once); anything else is an error. */
function logConnectionError(logger: Logger, e: Error, what: string): void {
  if (isRedisConnectionError(e)) logger.debug({ err: e.message }, what);
  else logger.error({ err: e }, what);
}
