import type { Redis, RedisOptions } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import { redact } from '../core/secrets.js';

/**
 * One connection policy for every process that uses Redis. Commands (`runs list`, `sync --queue`,
 * a one-shot sync keeping its mirror state in Redis) give up after one bounded attempt with a
 * one-line E_UNREACHABLE; long-running processes (worker, serve) reconnect with a growing backoff
 * and never give up.
 */
export interface RedisPolicy {
  /** How long one connection attempt (TCP connect and Redis's answer) may take. */
  connectTimeoutMs: number;
  /** Workers and serve reconnect with a backoff that grows to this. */
  maxBackoffMs: number;
}

export const DEFAULT_REDIS_POLICY: RedisPolicy = { connectTimeoutMs: 5000, maxBackoffMs: 10_000 };

export function redisPolicyOf(config: {
  redis?: { connectTimeoutMs?: number; maxBackoffMs?: number } | undefined;
}): RedisPolicy {
  return {
    connectTimeoutMs: config.redis?.connectTimeoutMs ?? DEFAULT_REDIS_POLICY.connectTimeoutMs,
    maxBackoffMs: config.redis?.maxBackoffMs ?? DEFAULT_REDIS_POLICY.maxBackoffMs,
  };
}

/** `HOST:PORT` of a Redis URL: what messages name, never the user name or password. */
export function redisEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EPIPE: 'connection closed',
};

/** A short cause for a connection failure, without addresses or credentials. */
export function redisCause(e: unknown, policy: RedisPolicy = DEFAULT_REDIS_POLICY): string {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  if (code && CAUSES[code]) return CAUSES[code];
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message))
    return `no answer within ${formatSeconds(policy.connectTimeoutMs)}`;
  if (/Connection is closed|Stream isn't writeable|max retries per request/i.test(message)) return 'connection lost';
  // Whatever else the client says, minus anything that looks like an address with credentials.
  return redact(message.replace(/rediss?:\/\/\S*/g, 'Redis'))
    .replace(/\s+/g, ' ')
    .slice(0, 200);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function refusedCredentials(e: unknown): boolean {
  return /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test((e as Error | undefined)?.message ?? '');
}

/**
 * The error a command stops with when Redis is not there: `cannot reach Redis at HOST:PORT (cause)`,
 * exit 3; credentials Redis refused are E_UNAUTHORIZED (exit 4).
 */
export function redisUnreachable(
  url: string,
  e: unknown,
  policy: RedisPolicy = DEFAULT_REDIS_POLICY,
  context = '',
): AirlockError {
  if (e instanceof AirlockError && (e.code === 'E_UNREACHABLE' || e.code === 'E_UNAUTHORIZED')) return e;
  const where = redisEndpoint(url);
  if (refusedCredentials(e))
    return new AirlockError('E_UNAUTHORIZED', `Redis at ${where} refused the credentials of redis.url${context}`);
  return new AirlockError('E_UNREACHABLE', `cannot reach Redis at ${where} (${redisCause(e, policy)})${context}`);
}

/** Errors that say the connection is gone, as opposed to an answer from Redis. */
export function isRedisConnectionError(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  if (typeof err?.code === 'string' && (err.code in CAUSES || err.code === 'ETIMEDOUT')) return true;
  const message = typeof err?.message === 'string' ? err.message : '';
  return (
    err?.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|max retries per request|Socket timeout|connect ETIMEDOUT|ECONNREFUSED/i.test(
      message,
    )
  );
}

/**
 * ioredis waits this long for a socket it ends to close before destroying it (2 s by default),
 * and its timer holds the process even when the socket was never open: a command that found
 * Redis away would linger two seconds after saying so.
 */
const DISCONNECT_TIMEOUT_MS = 200;

/** ioredis options with a retry strategy that is a function (what BullMQ's connection options take). */
export type PolicyRedisOptions = Omit<RedisOptions, 'retryStrategy'> & {
  retryStrategy: (times: number) => number | null;
};

/**
 * ioredis options for a command: one attempt bounded by the connect timeout, then an error rather
 * than a wait. After a connection loss a few quick reconnects are tried before pending commands fail.
 */
export function commandRedisOptions(policy: RedisPolicy): PolicyRedisOptions {
  return {
    connectTimeout: policy.connectTimeoutMs,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    // A Redis that stops answering in the middle of a command (no blocking commands here) is away too.
    socketTimeout: Math.max(policy.connectTimeoutMs, 10_000),
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
  };
}

/**
 * ioredis options for a worker or serve: reconnect for ever with exponential backoff and jitter
 * (so a fleet of workers does not knock all at once), each attempt bounded by the connect timeout.
 * `blocking` connections (BullMQ's) let commands wait for the connection instead of failing.
 */
export function serviceRedisOptions(policy: RedisPolicy, options: { failFast?: boolean } = {}): PolicyRedisOptions {
  return {
    connectTimeout: policy.connectTimeoutMs,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    retryStrategy: (times) =>
      Math.min(policy.maxBackoffMs, 250 * 2 ** Math.min(times - 1, 10)) + Math.floor(Math.random() * 250),
    ...(options.failFast ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null }),
  };
}

/**
 * A client, with ioredis loaded only when Redis is used so one-shot commands start fast. ioredis is
 * CommonJS; in the bundled CLI its class arrives as the default export rather than the named one.
 * An error listener is always attached (ioredis prints an "Unhandled error event" stack otherwise):
 * callers that care about the connection's state watch it through `onError` or a RedisHealth.
 */
export async function connectRedis(
  url: string,
  options: RedisOptions = {},
  onError: (e: Error) => void = () => undefined,
): Promise<Redis> {
  const mod = (await import('ioredis')) as unknown as {
    Redis?: typeof Redis;
    default?: typeof Redis | { Redis?: typeof Redis };
  };
  const def = mod.default as (typeof Redis & { Redis?: typeof Redis }) | undefined;
  const Ctor = mod.Redis ?? def?.Redis ?? def;
  if (!Ctor) throw new Error('ioredis did not load');
  const client = new Ctor(url, options);
  client.on('error', onError);
  return client;
}

/** Rejects with `onTimeout()` when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A command's client, connected and answering, or E_UNREACHABLE after the connect timeout: a
 * server that accepts the connection but never answers (stopped, overloaded) counts as away too.
 */
export async function connectCommandRedis(url: string, policy: RedisPolicy = DEFAULT_REDIS_POLICY): Promise<Redis> {
  let last: unknown;
  const client = await connectRedis(url, { ...commandRedisOptions(policy), lazyConnect: true }, (e) => {
    last = e;
  });
  try {
    await withDeadline(
      client.connect().then(() => client.ping()),
      policy.connectTimeoutMs,
      () => Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }),
    );
    return client;
  } catch (e) {
    client.disconnect();
    throw redisUnreachable(url, last && !(e as { code?: string }).code ? last : e, policy);
  }
}

/** Closes a client politely when Redis answers, and drops the socket when it does not within `ms`. */
export async function closeRedis(client: Redis, ms = 1000): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await withDeadline(client.quit(), ms, () => new Error('quit timed out')).catch(() => client.disconnect());
}
