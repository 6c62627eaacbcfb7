import type { Redis } from 'ioredis';
import { connectRedis, redisCause, redisEndpoint, serviceRedisOptions, type RedisPolicy } from './redis-connect.js';

/**
 * Whether Redis answers, as a long-running process sees it. One small connection of its own pings
 * Redis every `intervalMs`; the process's other connections (BullMQ's, the mirror state's) keep
 * their own reconnect loops quiet, and this one logs once when Redis goes away and once when it is
 * back, instead of a line per failed attempt per connection.
 */
export interface RedisHealth {
  /** True once Redis answered and until an attempt fails; false before the first answer. */
  readonly up: boolean;
  /** Resolves with the next change of `up`. */
  changed(): Promise<boolean>;
  close(): void;
}

/** airlock's Logger or pino: both log an object and a message. */
export interface HealthLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export async function watchRedis(
  url: string,
  options: { policy: RedisPolicy; logger: HealthLog; intervalMs?: number },
): Promise<RedisHealth> {
  const { policy, logger } = options;
  const endpoint = redisEndpoint(url);
  let up = false;
  let known = false;
  let since = Date.now();
  let closed = false;
  let waiters: Array<(up: boolean) => void> = [];
  const set = (now: boolean, cause?: unknown) => {
    if (closed || (known && now === up)) return;
    const first = !known;
    known = true;
    up = now;
    const downFor = Date.now() - since;
    since = Date.now();
    if (now)
      logger.info(
        first ? { redis: endpoint } : { redis: endpoint, downForMs: downFor },
        first ? 'Redis connected' : 'Redis reachable again',
      );
    else
      logger.warn(
        { redis: endpoint, cause: redisCause(cause, policy) },
        'Redis unreachable; retrying with backoff until it is back',
      );
    const w = waiters;
    waiters = [];
    for (const fn of w) fn(now);
  };
  // Fails fast: a ping while the connection is down is an answer ("down"), not a wait.
  const client: Redis = await connectRedis(
    url,
    {
      ...serviceRedisOptions(policy, { failFast: true }),
      socketTimeout: policy.connectTimeoutMs,
      connectionName: 'airlock-health',
    },
    (e) => set(false, e),
  );
  client.on('ready', () => set(true));
  // A closed connection is Redis away until the next attempt succeeds, however soon: what serve
  // answers (503) follows its connection, and the log says the same.
  client.on('close', () => set(false, new Error('Connection is closed.')));
  const probe = async () => {
    if (client.status !== 'ready') return;
    try {
      await client.ping();
      set(true);
    } catch (e) {
      set(false, e);
    }
  };
  const timer = setInterval(() => void probe(), options.intervalMs ?? 1000);
  timer.unref();
  return {
    get up() {
      return up;
    },
    changed() {
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      closed = true;
      clearInterval(timer);
      client.disconnect();
    },
  };
}
