import { Queue, QueueEvents } from 'bullmq';

/** A queue handle for commands: fails fast when Redis is down instead of queueing commands forever. */
export function openCommandQueue(name: string, url: string, prefix: string): Queue {
  const queue = new Queue(name, { connection: { url, enableOfflineQueue: false, maxRetriesPerRequest: 1 }, prefix });
  queue.on('error', () => undefined);
  return queue;
}

/** Job events for following a run; QueueEvents blocks on its own connection. */
export function openCommandEvents(name: string, url: string, prefix: string): QueueEvents {
  const events = new QueueEvents(name, { connection: { url, maxRetriesPerRequest: null }, prefix });
  events.on('error', () => undefined);
  return events;
}
