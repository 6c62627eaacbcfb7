import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { executeSync, type SyncKind } from '../src/runner/execute-sync.js';
import type { AirlockConfig } from '../src/config/schema.js';
import type { Engine } from '../src/engine.js';
import { formatErrorLine, toAirlockError } from '../src/errors.js';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import { mirrorBotkubeJob, mirrorFileJob } from '../src/jobs/mirror-files.js';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { createHelmRepoReader, memoryIndexCache } from '../src/sources/helm-repo.js';
import type { Logger } from '../src/log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, JOB } from '../src/queue/names.js';
import { redact } from '../src/secrets.js';

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
  const processor = async (job: Job) => {
    const log = logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    try {
      if (job.name === JOB.mirrorImage) return await mirrorImage(job.data, { engine, logger: log });
      if (job.name === JOB.mirrorFile) return await mirrorFileJob(job.data, { engine, logger: log });
      if (job.name === JOB.mirrorBotkube) {
        const r = await mirrorBotkubeJob(job.data, { engine, logger: log });
        // Files that failed fail the job (and its retries), after the rest was copied.
        if (r.failures.length > 0) throw r.failures[0];
        return { ...r, failures: [] };
      }
      if (job.name === JOB.sync) {
        // A scheduled (or triggered) run of the whole config scope, in this worker, like the one-shot sync.
        const scope = String((job.data as { scope?: string }).scope ?? 'all');
        const kinds = SCOPES[scope];
        if (!kinds) throw new UnrecoverableError(`unknown sync scope "${scope}"`);
        const { report } = await executeSync({ config: options.config, kinds, engine, logger: log, cacheDir: options.cacheDir ?? path.join(os.tmpdir(), 'airlock-cache') });
        // The job result is the summary and the failures; the full report would bloat Redis.
        return { summary: report.summary, ok: report.ok, failures: report.items.filter((i) => i.status === 'failed') };
      }
      if (job.name === JOB.mirrorChart) return await mirrorChart(job.data, { engine, logger: log, repos: createHelmRepoReader(engine, { cache: indexCache }) });
      throw new UnrecoverableError(`unknown job name "${job.name}"`);
    } catch (e) {
      if (e instanceof UnrecoverableError) throw e;
      const err = toAirlockError(e);
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
