import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { JOB, mirrorImageJobId } from '../model/job-names.js';
import type { Triggers } from './http-server.js';
import { readWorkerMetrics } from '../queue/worker-metrics.js';
import { enqueueRun } from '../queue/runs.js';
import { AirlockError } from '../core/errors.js';
import { withDeadline } from '../state/redis-connect.js';

export interface QueueTriggerOptions {
  /** Whether Redis answers now (serve's health watch); default: the client's connection is ready. */
  available?: () => boolean;
  /** A Redis call that takes longer is answered as if Redis were away (503). */
  timeoutMs?: number;
}

/** Webhook triggers on a BullMQ queue; delivery ids are remembered in Redis for a day. */
export function queueTriggers(queue: Queue, redis: Redis, prefix: string, options: QueueTriggerOptions = {}): Triggers {
  const timeoutMs = options.timeoutMs ?? 5000;
  const bounded = <T>(p: Promise<T>): Promise<T> =>
    withDeadline(p, timeoutMs, () => new AirlockError('E_UNREACHABLE', `Redis did not answer within ${timeoutMs} ms`));
  return {
    async sync(scope, reason) {
      const job = await bounded(enqueueRun(queue, scope, reason));
      return job.id ?? '';
    },
    async images(payloads: MirrorImagePayload[]) {
      if (payloads.length === 0) return [];
      // A push notified twice while the copy waits copies once. A push that lands while the copy
      // runs may have moved the tag after the copy read it, so it is kept and copied once more
      // when the running one ends; a later push (a moved tag, or after a failure) is mirrored again.
      // All copies of one delivery go in one pipeline: with the connection down none is sent.
      const jobs = await bounded(
        queue.addBulk(
          payloads.map((payload) => {
            const id = mirrorImageJobId(payload.source, payload.target);
            return {
              name: JOB.mirrorImage,
              data: payload,
              opts: {
                deduplication: { id, keepLastIfActive: true },
                attempts: 5,
                backoff: { type: 'exponential' as const, delay: 5000 },
                removeOnComplete: { age: 24 * 3600, count: 5000 },
                removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
              },
            };
          }),
        ),
      );
      return jobs.map((job, i) => job.id ?? mirrorImageJobId(payloads[i]!.source, payloads[i]!.target));
    },
    async firstDelivery(id) {
      return (await bounded(redis.set(`${prefix}:delivery:${id}`, '1', 'EX', 24 * 3600, 'NX'))) === 'OK';
    },
    async forgetDelivery(id) {
      await bounded(redis.del(`${prefix}:delivery:${id}`));
    },
    async jobCounts() {
      return queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    },
    async workerMetrics() {
      return readWorkerMetrics(redis, prefix, queue.name);
    },
    async healthy() {
      return (await bounded(redis.ping())) === 'PONG';
    },
    available: options.available ?? (() => redis.status === 'ready'),
  };
}
