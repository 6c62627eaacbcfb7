import { UnrecoverableError, Worker, type Job } from 'bullmq';
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
    removeOnComplete: { count: 1000, age: 24 * 3600 },
    removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
  });
  worker.on('error', (e) => logger.error({ err: e }, 'worker error'));
  worker.on('failed', (job, e) => logger.warn({ jobId: job?.id, reason: e.message }, 'job failed'));
  return worker;
}
