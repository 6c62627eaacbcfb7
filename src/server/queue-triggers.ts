import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import { JOB, mirrorImageJobId } from '../queue/names.js';
import type { Triggers } from './http-server.js';
import { readWorkerMetrics } from '../queue/worker-metrics.js';
import { enqueueRun } from '../queue/runs.js';

/** Webhook triggers on a BullMQ queue; delivery ids are remembered in Redis for a day. */
export function queueTriggers(queue: Queue, redis: Redis, prefix: string): Triggers {
  return {
    async sync(scope, reason) {
      const job = await enqueueRun(queue, scope, reason);
      return job.id ?? '';
    },
    async image(payload: MirrorImagePayload) {
      // A push notified twice while the copy waits copies once. A push that lands while the copy
      // runs may have moved the tag after the copy read it, so it is kept and copied once more
      // when the running one ends; a later push (a moved tag, or after a failure) is mirrored again.
      const id = mirrorImageJobId(payload.source, payload.target);
      const job = await queue.add(JOB.mirrorImage, payload, { deduplication: { id, keepLastIfActive: true }, attempts: 5, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { age: 24 * 3600, count: 5000 }, removeOnFail: { age: 7 * 24 * 3600, count: 5000 } });
      return job.id ?? id;
    },
    async firstDelivery(id) {
      return (await redis.set(`${prefix}:delivery:${id}`, '1', 'EX', 24 * 3600, 'NX')) === 'OK';
    },
    async forgetDelivery(id) {
      await redis.del(`${prefix}:delivery:${id}`);
    },
    async jobCounts() {
      return queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    },
    async workerMetrics() {
      return readWorkerMetrics(redis, prefix, queue.name);
    },
    async healthy() {
      return (await redis.ping()) === 'PONG';
    },
  };
}
