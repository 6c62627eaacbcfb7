import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AirlockConfig } from '../config/schema.js';

/**
 * Which config the workers of a queue run, so `sync --queue --config F` can tell whether F is it.
 * Workers keep the digest of their config in a sorted set scored by when they last said so; a
 * digest not renewed for LIVE_MS belongs to workers that are gone.
 */
export const PUBLISH_EVERY_MS = 10_000;
export const LIVE_MS = 30_000;

/** Keys that do not change what a run plans or does: how to reach Redis, the server, the schedules. */
const NOT_IN_DIGEST = new Set(['redis', 'serve', 'schedules']);

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The digest of a parsed config (defaults applied, so layout, comments and key order do not
 * matter). Secrets are references (`{env}`, `{file}`), never their values, so the digest says
 * nothing about them.
 */
export function configDigest(config: AirlockConfig): string {
  const kept = Object.fromEntries(Object.entries(config).filter(([k]) => !NOT_IN_DIGEST.has(k)));
  return createHash('sha256')
    .update(JSON.stringify(canonical(kept)))
    .digest('hex');
}

export function workerConfigKey(prefix: string, queue: string): string {
  return `${prefix}:worker-config:${queue}`;
}

/** A worker says which config it runs; old entries are dropped on the way. */
export async function publishWorkerConfig(
  redis: Redis,
  prefix: string,
  queue: string,
  digest: string,
  now = Date.now(),
): Promise<void> {
  const key = workerConfigKey(prefix, queue);
  await redis
    .multi()
    .zadd(key, now, digest)
    .zremrangebyscore(key, '-inf', now - LIVE_MS)
    .pexpire(key, LIVE_MS * 4)
    .exec();
}

/** Digests of the configs that workers of `queue` said they run within the last LIVE_MS. */
export async function liveWorkerConfigs(
  redis: Redis,
  prefix: string,
  queue: string,
  now = Date.now(),
): Promise<string[]> {
  return redis.zrangebyscore(workerConfigKey(prefix, queue), now - LIVE_MS, '+inf');
}

/**
 * Publishes `digest` now and every PUBLISH_EVERY_MS until stopped. A failed publish (Redis away)
 * is tried again at the next tick; the worker's health watch already says Redis is down.
 */
export function keepPublishingWorkerConfig(redis: Redis, prefix: string, queue: string, digest: string): () => void {
  const publish = () => void publishWorkerConfig(redis, prefix, queue, digest).catch(() => undefined);
  publish();
  const timer = setInterval(publish, PUBLISH_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
