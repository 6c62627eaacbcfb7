import type { Redis } from 'ioredis';
import type { ArtifactLock } from '../../http/ports.js';
import { redisRegistrySlots } from './registry-slots.js';

export interface RedisLockOptions {
  /** How long a lock outlives a worker that died holding it. */
  ttlMs?: number;
  pollMs?: number;
  /** Also told when a lease ran out while held (Redis away longer than the ttl). */
  onError?: (e: unknown) => void;
}

/**
 * A lock is a lease pool of one: the registry slots' leases (renewed while held, Redis time,
 * released by owner only), so both share one tested lease implementation.
 */
export function redisArtifactLock(redis: Redis, prefix: string, options: RedisLockOptions = {}): ArtifactLock {
  // Own key segment: these leases are sorted sets, and must not meet the SET-based locks of older workers.
  const leases = redisRegistrySlots(redis, prefix, {
    name: 'artifact-lock',
    leaseMs: options.ttlMs ?? 30_000,
    pollMs: options.pollMs ?? 200,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { run: (key, fn) => leases.run(key, 1, fn) };
}
