import { Queue } from 'bullmq';

/** A queue handle for commands: fails fast when Redis is down instead of queueing commands forever. */
export function openCommandQueue(name: string, url: string, prefix: string): Queue {
  const queue = new Queue(name, { connection: { url, enableOfflineQueue: false, maxRetriesPerRequest: 1 }, prefix });
  queue.on('error', () => undefined);
  return queue;
}
