import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  closeRedis,
  connectCommandRedis,
  connectRedis,
  isRedisConnectionError,
  redisUnreachable,
  serviceRedisOptions,
  withDeadline,
  type RedisPolicy,
} from '../state/redis-connect.js';

/**
 * BullMQ handles on a client airlock owns. A Queue given a client shares it and never closes it,
 * so shutting down cannot hang on a QUIT that a Redis that went away will never answer; the
 * owner drops the client itself, within a bound.
 */
export interface CommandQueue {
  queue: Queue;
  /** The same connection, for airlock's own keys (worker configs, the events stream). */
  redis: Redis;
  close(): Promise<void>;
}

/**
 * A queue for a CLI command: Redis answering within the connect timeout, or E_UNREACHABLE
 * (`cannot reach Redis at HOST:PORT (…)`). A connection lost while the command runs fails its
 * next Redis call instead of waiting for Redis to come back.
 */
export async function openCommandQueue(
  name: string,
  url: string,
  prefix: string,
  policy: RedisPolicy,
): Promise<CommandQueue> {
  const redis = await connectCommandRedis(url, policy);
  const queue = new Queue(name, { connection: redis, prefix });
  queue.on('error', () => undefined);
  const close = async () => {
    await withDeadline(queue.close(), 1000, () => new Error('close timed out')).catch(() => undefined);
    await closeRedis(redis);
  };
  try {
    await withDeadline(queue.waitUntilReady(), policy.connectTimeoutMs, () =>
      Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }),
    );
  } catch (e) {
    await close();
    throw redisUnreachable(url, e, policy);
  }
  return { queue, redis, close };
}

/** Runs a command's Redis work; a connection lost on the way becomes the one-line E_UNREACHABLE. */
export async function commandRedisStep<T>(
  url: string,
  policy: RedisPolicy,
  fn: () => Promise<T>,
  context = '',
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw isRedisConnectionError(e) ? redisUnreachable(url, e, policy, context) : e;
  }
}

/**
 * A queue for `airlock serve`: its client reconnects for ever, but fails a command at once while
 * the connection is down (a webhook answers 503 instead of queueing something later). `ready`
 * turns true once BullMQ has loaded its scripts on it; until then nothing may be asked of it.
 */
export async function openServiceQueue(
  name: string,
  url: string,
  prefix: string,
  policy: RedisPolicy,
  onError: (e: Error) => void,
): Promise<CommandQueue & { readonly ready: boolean }> {
  const redis = await connectRedis(url, serviceRedisOptions(policy, { failFast: true }), onError);
  const queue = new Queue(name, { connection: redis, prefix });
  queue.on('error', onError);
  let ready = false;
  void queue.waitUntilReady().then(
    () => {
      ready = true;
    },
    () => undefined,
  );
  return {
    queue,
    redis,
    get ready() {
      return ready && redis.status === 'ready';
    },
    async close() {
      await withDeadline(queue.close(), 1000, () => new Error('close timed out')).catch(() => undefined);
      await closeRedis(redis);
    },
  };
}
