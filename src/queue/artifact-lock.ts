import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * One copy of an artifact at a time across every worker. Overlapping runs (a webhook, a schedule
 * tick, a push notification) can each plan the same image; the second waits here and then finds
 * the copy done (unchanged) instead of writing the same blobs and manifest again.
 */
export interface ArtifactLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export interface RedisLockOptions {
  /** How long a lock outlives a worker that died holding it. */
  ttlMs?: number;
  pollMs?: number;
  onError?: (e: unknown) => void;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** Locks as `SET NX PX` keys under the (hash-tagged) prefix, renewed while held, released by owner only. */
export function redisArtifactLock(redis: Redis, prefix: string, options: RedisLockOptions = {}): ArtifactLock {
  const ttl = options.ttlMs ?? 30_000;
  const poll = options.pollMs ?? 200;
  const onError = options.onError ?? (() => undefined);
  return {
    async run(key, fn) {
      const name = `${prefix}:lock:${key}`;
      const token = randomUUID();
      while ((await redis.set(name, token, 'PX', ttl, 'NX')) !== 'OK') {
        await new Promise((r) => setTimeout(r, poll + Math.floor(Math.random() * poll)));
      }
      const renew = setInterval(() => {
        redis.eval(RENEW, 1, name, token, String(ttl)).catch(onError);
      }, Math.max(1000, Math.floor(ttl / 3)));
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await redis.eval(RELEASE, 1, name, token).catch(onError);
      }
    },
  };
}
