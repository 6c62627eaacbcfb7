import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AirlockConfig } from '../../config/schema.js';
import {
  createUpstreamBudget,
  rateLimitsOf,
  type BudgetOptions,
  type BudgetStore,
  type UpstreamBudget,
} from '../../http/upstream-budget.js';

// Times come from Redis (TIME) and pauses are key lifetimes (PTTL), so workers with skewed clocks
// still agree on windows and pauses. Both keys of a call share the prefix's hash tag (one slot).
const TAKE = `
if redis.replicate_commands then redis.replicate_commands() end
local pttl = redis.call('pttl', KEYS[1])
if pttl > 0 then return {0, pttl, 1} end
if ARGV[1] == '0' then return {1, 0, 0} end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[2], '-inf', now - win)
if redis.call('zcard', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('zadd', KEYS[2], now, ARGV[3])
  redis.call('pexpire', KEYS[2], win)
  return {1, 0, 0}
end
local oldest = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES')
return {0, math.max(1, tonumber(oldest[2]) + win - now), 0}
`;

const PAUSE = `
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[1]) then redis.call('set', KEYS[1], '1', 'px', ARGV[1]) end
return 1
`;

/** Request budgets and pauses in Redis: a sliding log per host (ZSET of request times) and a pause key per host. */
export function redisBudgetStore(redis: Redis, prefix: string): BudgetStore {
  const pauseKey = (host: string) => `${prefix}:upstream:${host}:pause`;
  const logKey = (host: string) => `${prefix}:upstream:${host}:requests`;
  return {
    async take(host, limit) {
      const r = (await redis.eval(
        TAKE,
        2,
        pauseKey(host),
        logKey(host),
        String(limit?.requests ?? 0),
        String(limit?.windowMs ?? 0),
        randomUUID(),
      )) as [number, number, number];
      return r[0] === 1 ? { granted: true } : { granted: false, waitMs: Number(r[1]), paused: r[2] === 1 };
    },
    async pause(host, ms) {
      await redis.eval(PAUSE, 1, pauseKey(host), String(Math.ceil(ms)));
    },
    async pauseRemaining(host) {
      return Math.max(0, await redis.pttl(pauseKey(host)));
    },
  };
}

/** The budget every worker on this Redis shares. */
export function redisUpstreamBudget(
  redis: Redis,
  prefix: string,
  config: Pick<AirlockConfig, 'registries' | 'retry'>,
  options: Partial<BudgetOptions> = {},
): UpstreamBudget {
  return createUpstreamBudget(redisBudgetStore(redis, prefix), {
    limits: rateLimitsOf(config),
    maxWaitMs: config.retry.maxRetryAfterMs,
    ...options,
  });
}
