import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../core/errors.js';
import { registryEndpointHost } from './registry-host.js';
import { parseRetryAfter } from './retry-after.js';

/**
 * What an upstream allows, shared by everything that talks to it: a request budget per window
 * (`registries[].rateLimit`) and a pause after it said "too many requests". Keyed by the host:port
 * actually contacted (`registry-1.docker.io` for Docker Hub); token realms and blob redirect
 * targets are hosts of their own, paused only by their own 429s and never counted against the
 * registry's budget.
 */
export interface UpstreamBudget {
  /** Waits until a request to `host` may go out: past any pause, within the request budget. */
  acquire(host: string, artifact?: string): Promise<void>;
  /** Learns from a response: a 429, `Retry-After`, an exhausted `RateLimit-Remaining`. */
  observe(host: string, status: number, headers: ResponseHeaders): void | Promise<void>;
  /** When the host's pause ends (epoch ms, this process's clock); 0 when it is not paused. */
  pausedUntil(host: string): Promise<number>;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface RateLimit {
  requests: number;
  windowMs: number;
}

/** The result of trying to take one request slot. */
export type Take = { granted: true } | { granted: false; waitMs: number; paused: boolean };

/** Where budgets live: this process (one-shot CLI) or Redis (every worker). */
export interface BudgetStore {
  take(host: string, limit: RateLimit | undefined): Promise<Take>;
  /** Extends the host's pause to at least `ms` from now. */
  pause(host: string, ms: number): Promise<void>;
  /** How long the host stays paused, in ms (0 when not). */
  pauseRemaining(host: string): Promise<number>;
}

/** A 429 without any hint: everyone holds off this long. */
export const DEFAULT_429_PAUSE_MS = 2_000;
/** A quota at 0 without a reset time: probe again after this (the probe's 429 says how long). */
export const DEFAULT_EXHAUSTED_PAUSE_MS = 60_000;
const MAX_PAUSE_MS = 24 * 3600_000;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Reset as delta seconds, or (GitHub's x-ratelimit-reset) as epoch seconds. */
function resetMs(v: string | undefined, now: number): number | undefined {
  if (!v || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined;
  const n = Number(v);
  return n > 1e9 ? Math.max(0, n * 1000 - now) : n * 1000;
}

/**
 * How long an upstream asked everyone to hold off, from one response: a 429 (its `Retry-After`,
 * else its reset time, else a short default), a 503 with `Retry-After`, or a quota that reached 0
 * (`RateLimit-Remaining`, Docker Hub's `ratelimit-remaining: 0;w=21600`, `X-RateLimit-Remaining`,
 * the structured `RateLimit: r=0;t=30`) until its reset time.
 */
export function pauseFromResponse(status: number, headers: ResponseHeaders, now = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers['retry-after'], now);
  const combined = first(headers['ratelimit']);
  const remainingText =
    first(headers['ratelimit-remaining']) ??
    first(headers['x-ratelimit-remaining']) ??
    (combined ? /(?:^|[;,\s])(?:r|remaining)=(\d+)/.exec(combined)?.[1] : undefined);
  const reset = resetMs(
    first(headers['ratelimit-reset']) ??
      first(headers['x-ratelimit-reset']) ??
      (combined ? /(?:^|[;,\s])(?:t|reset)=(\d+)/.exec(combined)?.[1] : undefined),
    now,
  );
  const exhausted = remainingText !== undefined && Number.parseInt(remainingText, 10) === 0;
  let ms: number | undefined;
  // Docker Hub's pull-limit 429 carries no Retry-After, only the exhausted quota: probing every 2 s would be pointless.
  if (status === 429) ms = retryAfter ?? reset ?? (exhausted ? DEFAULT_EXHAUSTED_PAUSE_MS : DEFAULT_429_PAUSE_MS);
  else if (status === 503 && retryAfter !== undefined) ms = retryAfter;
  else if (exhausted) ms = reset ?? DEFAULT_EXHAUSTED_PAUSE_MS;
  return ms === undefined || ms <= 0 ? undefined : Math.min(ms, MAX_PAUSE_MS);
}

/** `registries[].rateLimit` by the host requests go to. */
export function rateLimitsOf(config: Pick<AirlockConfig, 'registries'>): Map<string, RateLimit> {
  const limits = new Map<string, RateLimit>();
  for (const r of config.registries) {
    if (r.rateLimit)
      limits.set(registryEndpointHost(r.host), {
        requests: r.rateLimit.requests,
        windowMs: r.rateLimit.perSeconds * 1000,
      });
  }
  return limits;
}

export interface BudgetOptions {
  limits?: Map<string, RateLimit>;
  /** Longest wait for one request (a pause or a full budget); beyond it, E_RATE_LIMITED at once. */
  maxWaitMs: number;
  sleep?: (ms: number) => Promise<void>;
  /** A store failure (Redis down) lets requests through rather than failing copies. */
  onError?: (e: unknown) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createUpstreamBudget(store: BudgetStore, options: BudgetOptions): UpstreamBudget {
  const limits = options.limits ?? new Map<string, RateLimit>();
  const sleep = options.sleep ?? realSleep;
  const onError = options.onError ?? (() => undefined);
  return {
    async acquire(host, artifact) {
      const limit = limits.get(host);
      const deadline = Date.now() + options.maxWaitMs;
      for (;;) {
        let t: Take;
        try {
          t = await store.take(host, limit);
        } catch (e) {
          onError(e);
          return;
        }
        if (t.granted) return;
        if (Date.now() + t.waitMs > deadline) {
          const why = t.paused
            ? `${host} asked to pause requests`
            : `the request budget for ${host} (${limit?.requests} per ${(limit?.windowMs ?? 0) / 1000} s) is used up`;
          throw new AirlockError(
            'E_RATE_LIMITED',
            `${why} for another ${Math.ceil(t.waitMs / 1000)} s, longer than retry.maxRetryAfterMs`,
            { ...(artifact ? { artifact } : {}), retryAfterMs: t.waitMs },
          );
        }
        // A little jitter so waiters across workers do not all come back in the same millisecond.
        await sleep(t.waitMs + Math.floor(Math.random() * 50));
      }
    },
    observe(host, status, headers) {
      const ms = pauseFromResponse(status, headers);
      if (ms === undefined) return undefined;
      return store.pause(host, ms).catch(onError);
    },
    async pausedUntil(host) {
      try {
        const ms = await store.pauseRemaining(host);
        return ms > 0 ? Date.now() + ms : 0;
      } catch (e) {
        onError(e);
        return 0;
      }
    },
  };
}

/** The budget of one process: a sliding log of request times and a pause deadline per host. */
export function memoryBudgetStore(now: () => number = Date.now): BudgetStore {
  const pauses = new Map<string, number>();
  const logs = new Map<string, number[]>();
  const remaining = (host: string) => Math.max(0, (pauses.get(host) ?? 0) - now());
  return {
    async take(host, limit) {
      const paused = remaining(host);
      if (paused > 0) return { granted: false, waitMs: paused, paused: true };
      if (!limit) return { granted: true };
      const t = now();
      const log = (logs.get(host) ?? []).filter((at) => at > t - limit.windowMs);
      logs.set(host, log);
      if (log.length < limit.requests) {
        log.push(t);
        return { granted: true };
      }
      return { granted: false, waitMs: Math.max(1, (log[0] ?? t) + limit.windowMs - t), paused: false };
    },
    async pause(host, ms) {
      pauses.set(host, Math.max(pauses.get(host) ?? 0, now() + ms));
    },
    async pauseRemaining(host) {
      return remaining(host);
    },
  };
}

/** A per-process budget from the config (the one-shot CLI's default). */
export function memoryUpstreamBudget(
  config: Pick<AirlockConfig, 'registries' | 'retry'>,
  options: Partial<BudgetOptions> = {},
): UpstreamBudget {
  return createUpstreamBudget(memoryBudgetStore(), {
    limits: rateLimitsOf(config),
    maxWaitMs: config.retry.maxRetryAfterMs,
    ...options,
  });
}
