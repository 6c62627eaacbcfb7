import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RegistrySlots } from '../../http/ports.js';

export interface RedisSlotsOptions {
  /** How long a dead holder keeps its slot. */
  leaseMs?: number;
  pollMs?: number;
  onError?: (e: unknown) => void;
  /** Key segment after the prefix: other lease pools (the artifact lock) keep their keys apart. */
  name?: string;
}

// A sorted set of lease tokens scored by expiry (Redis TIME, so worker clocks do not matter).
const NOW = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
const TAKE = `${NOW}
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('pexpire', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
`;
const RENEW = `${NOW}
if redis.call('zscore', KEYS[1], ARGV[2]) then
  redis.call('zadd', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
  redis.call('pexpire', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0
`;

export function redisRegistrySlots(redis: Redis, prefix: string, options: RedisSlotsOptions = {}): RegistrySlots {
  const lease = options.leaseMs ?? 30_000;
  const poll = options.pollMs ?? 100;
  const onError = options.onError ?? (() => undefined);
  const name = options.name ?? 'slots';
  return {
    async run(registry, max, fn) {
      const key = `${prefix}:${name}:${registry}`;
      const token = randomUUID();
      while ((await redis.eval(TAKE, 1, key, String(max), String(lease), token)) !== 1) {
        await new Promise((r) => setTimeout(r, poll + Math.floor(Math.random() * poll)));
      }
      const renew = setInterval(
        () => {
          redis
            .eval(RENEW, 1, key, String(lease), token)
            .then((held) => {
              // Renewal came too late (Redis was away longer than the lease): the work goes on, one over the limit for a while.
              if (held !== 1) onError(new Error(`${name} lease for ${registry} expired while in use`));
            })
            .catch(onError);
        },
        Math.max(250, Math.floor(lease / 3)),
      );
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await redis.zrem(key, token).catch(onError);
      }
    },
  };
}
