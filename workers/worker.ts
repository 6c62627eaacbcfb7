import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { executeSync, type SyncKind } from '../src/runner/execute-sync.js';
import type { RetryPlan } from '../src/runner/retry-plan.js';
import type { AirlockConfig } from '../src/config/schema.js';
import type { Engine } from '../src/engine.js';
import { formatErrorLine, toAirlockError, type AirlockError } from '../src/errors.js';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import { mirrorBotkubeJob, mirrorFileJob } from '../src/jobs/mirror-files.js';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { createHelmRepoReader, memoryIndexCache } from '../src/sources/helm-repo.js';
import type { Logger } from '../src/log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, JOB } from '../src/queue/names.js';
import { redact } from '../src/secrets.js';
import type { MetricsSink } from '../src/queue/worker-metrics.js';
import { deferIfPaused, deferIfRateLimited } from '../src/queue/rate-defer.js';
import { chartItems, fileItem, imageItems, type ReportItem } from '../src/report/run-report.js';
import type { MirroredFile } from '../src/files/static-mirror.js';
import type { BotkubeMirrorResult } from '../src/botkube/mirror-plugin-index.js';

export interface QueueWorkerOptions {
  config: AirlockConfig;
  engine: Engine;
  logger: Logger;
  /** Redis connection URL. */
  redisUrl: string;
  queue?: string;
  prefix?: string;
  concurrency?: number;
  /** Where scheduled sync runs keep chart index validators and chart image lists. */
  cacheDir?: string;
  /** Job lock lifetime: a worker that dies holds its jobs this long before another takes them. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Where finished jobs are counted for `airlock serve`'s /metrics. */
  metrics?: MetricsSink;
}

const SCOPES: Record<string, SyncKind[]> = { all: ['addons', 'charts', 'images', 'files'], images: ['images'], charts: ['charts'], files: ['files'], addons: ['addons'] };

/**
 * The queue side of the same processors the one-shot CLI runs: one BullMQ worker dispatching by
 * job name. Permanent failures (401, 404, digest mismatch…) are not retried; the rest use the
 * job's backoff.
 */
export function startQueueWorker(options: QueueWorkerOptions): Worker {
  const { engine, logger } = options;
  // Index validators live as long as the worker; each job reads the index afresh (304 when unchanged).
  const indexCache = memoryIndexCache();
  const run = async (job: Job, log: Logger): Promise<{ value: unknown; items: ReportItem[]; failure?: AirlockError }> => {
    if (job.name === JOB.mirrorImage) {
      const value = await mirrorImage(job.data, { engine, logger: log });
      return { value, items: imageItems([{ payload: job.data, result: value, durationMs: 0 }]) };
    }
    if (job.name === JOB.mirrorFile) {
      const value = await mirrorFileJob(job.data, { engine, logger: log });
      return { value, items: [fileItem('file', value.source, value.url, value.status, value.bytes, value.sha256)] };
    }
    if (job.name === JOB.mirrorBotkube) {
      const r = await mirrorBotkubeJob(job.data, { engine, logger: log });
      // Files that failed fail the job (and its retries), after the rest was copied.
      return { value: { ...r, failures: [] }, items: botkubeItems(r), ...(r.failures[0] ? { failure: r.failures[0] } : {}) };
    }
    if (job.name === JOB.sync) {
      // A scheduled (or triggered) run of the whole config scope, in this worker, like the one-shot sync.
      const data = job.data as { scope?: string; retry?: RetryPlan };
      const scope = String(data.scope ?? 'all');
      const kinds = SCOPES[scope];
      if (!kinds) throw new UnrecoverableError(`unknown sync scope "${scope}"`);
      const { report, retry } = await executeSync({ config: options.config, kinds, engine, logger: log, cacheDir: options.cacheDir ?? path.join(os.tmpdir(), 'airlock-cache'), ...(data.retry ? { retry: data.retry } : {}) });
      // The job result is the summary, the failures and what to run again for them; the full report would bloat Redis.
      const failures = report.items.filter((i) => i.status === 'failed');
      return { value: { summary: report.summary, ok: report.ok, failures, ...(failures.length ? { retry } : {}) }, items: report.items };
    }
    if (job.name === JOB.mirrorChart) {
      const value = await mirrorChart(job.data, { engine, logger: log, repos: createHelmRepoReader(engine, { cache: indexCache }) });
      return { value, items: chartItems([{ source: chartSource(job.data), target: value.target, result: value, durationMs: 0 }]) };
    }
    throw new UnrecoverableError(`unknown job name "${job.name}"`);
  };
  const record = async (job: Job, state: 'completed' | 'failed', items: ReportItem[]) => {
    // Metrics never fail a job: a Redis hiccup here costs a count, not a copy.
    await options.metrics?.record(job.name, state, items).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'metrics not recorded'));
  };
  const processor = async (job: Job, token?: string) => {
    const log = logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    // A paused upstream's jobs wait in the queue, not in a worker slot, and keep their attempts.
    await deferIfPaused(job, token, engine.budget, log);
    let settled: ReportItem[] | undefined;
    try {
      const { value, items, failure } = await run(job, log);
      if (failure) {
        settled = items;
        throw failure;
      }
      await record(job, 'completed', items);
      return value;
    } catch (e) {
      if (e instanceof UnrecoverableError) {
        await record(job, 'failed', []);
        throw e;
      }
      await deferIfRateLimited(job, token, engine.budget, e, log);
      const err = toAirlockError(e, artifactOf(job));
      // Counted once, when the job has failed for good, not per attempt.
      if (err.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await record(job, 'failed', settled ?? failedItems(job, err));
      const line = redact(formatErrorLine(err));
      if (err.permanent) throw new UnrecoverableError(line);
      throw new Error(line);
    }
  };
  const worker = new Worker(options.queue ?? DEFAULT_QUEUE, processor, {
    connection: { url: options.redisUrl, maxRetriesPerRequest: null },
    prefix: options.prefix ?? options.config.redis?.prefix ?? DEFAULT_PREFIX,
    concurrency: options.concurrency ?? options.config.concurrency.images,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
    removeOnComplete: { count: 1000, age: 24 * 3600 },
    removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
  });
  worker.on('error', (e) => logger.error({ err: e }, 'worker error'));
  worker.on('failed', (job, e) => logger.warn({ jobId: job?.id, reason: e.message }, 'job failed'));
  return worker;
}

function chartSource(p: { source?: string; chart?: string; version?: string }): string {
  return `${p.source ?? ''} ${p.chart ?? ''}@${p.version ?? ''}`;
}

function botkubeItems(r: BotkubeMirrorResult): ReportItem[] {
  return [
    ...r.files.map((f: MirroredFile) => fileItem('file', f.source, f.url, f.status, f.bytes, f.sha256)),
    ...r.failures.map((e) => fileItem('file', e.artifact ?? r.name, '', 'failed', 0, undefined, e)),
  ];
}

/** The artifact a job is about, for its error and its upstream. */
function artifactOf(job: Job): string {
  const d = (job.data ?? {}) as { source?: string; url?: string; chart?: string; version?: string };
  if (job.name === JOB.mirrorChart) return chartSource(d);
  return d.source ?? d.url ?? job.name;
}

/** A job that failed for good, as the report item it would be in a run. */
function failedItems(job: Job, err: AirlockError): ReportItem[] {
  const d = (job.data ?? {}) as { source?: string; target?: string; url?: string };
  if (job.name === JOB.mirrorImage) return imageItems([{ payload: { source: d.source ?? '', target: d.target ?? '' }, error: err, durationMs: 0 }]);
  if (job.name === JOB.mirrorChart) return chartItems([{ source: artifactOf(job), target: d.target ?? '', error: err, durationMs: 0 }]);
  if (job.name === JOB.mirrorFile || job.name === JOB.mirrorBotkube) return [fileItem(job.name === JOB.mirrorFile ? 'file' : 'plugin-index', d.url ?? '', '', 'failed', 0, undefined, err)];
  return [];
}
