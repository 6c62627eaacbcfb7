import type { Redis } from 'ioredis';
import type { ReportItem } from '../model/report.js';
import { parseImageRef, repoName, type ImageRef } from '../oci/reference.js';
import { displayUrl } from '../core/url-credentials.js';

/**
 * Worker-side metrics. Workers and `airlock serve` are separate processes, so workers add their
 * counts to Redis when a job ends and the server reads them at scrape time. Both keys of a queue
 * carry the prefix's hash tag: one slot, so the MULTI below works on Redis Cluster.
 */
export type JobState = 'completed' | 'failed';

export interface MetricsSink {
  /** Adds one finished job and the artifacts it settled. Never throws into the job. */
  record(job: string, state: JobState, items: ReportItem[], at?: Date): Promise<void>;
}

export interface CounterSample {
  labels: Record<string, string>;
  value: number;
}

export interface WorkerMetrics {
  bytes: CounterSample[];
  artifacts: CounterSample[];
  errors: CounterSample[];
  jobs: CounterSample[];
  /** Seconds since the epoch of each source's last success. */
  lastSuccess: CounterSample[];
}

/** `bytes`, `artifacts`… with their label names, in the order they are stored in a hash field. */
const COUNTERS = {
  bytes: ['kind'],
  artifacts: ['kind', 'status'],
  errors: ['upstream', 'code'],
  jobs: ['kind', 'state'],
} as const;
type CounterName = keyof typeof COUNTERS;

export function metricsKeys(prefix: string, queue: string): { counters: string; lastSuccess: string } {
  // Not under `${prefix}:${queue}:`, where BullMQ keeps keys of its own (including `metrics`).
  return {
    counters: `${prefix}:worker-metrics:${queue}:counters`,
    lastSuccess: `${prefix}:worker-metrics:${queue}:last-success`,
  };
}

function field(name: CounterName, ...labels: string[]): string {
  return JSON.stringify([name, ...labels]);
}

function firstToken(source: string): string {
  return source.split(' ')[0] ?? source;
}

/** `URL rest…` with the URL in its display form (no credentials). */
function withDisplayUrl(source: string): string {
  const space = source.indexOf(' ');
  return space < 0 ? displayUrl(source) : `${displayUrl(source.slice(0, space))}${source.slice(space)}`;
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** An image item's reference, or undefined for one that does not parse (it is then labelled by its text). */
function imageRefOf(source: string): ImageRef | undefined {
  try {
    // parseImageRef takes a bare `host/repo` as a registry reference already: no transport to add.
    return parseImageRef(source, { defaultTag: false });
  } catch {
    return undefined;
  }
}

/** Where an artifact comes from: a registry host, a chart repository URL, a file server's origin. */
export function upstreamOf(item: Pick<ReportItem, 'kind' | 'source'>): string {
  if (item.kind === 'image') {
    const ref = imageRefOf(item.source);
    // Not a reference: its registry part, without anything before an `@` (a user name is no label).
    if (!ref)
      return (
        firstToken(item.source)
          .replace(/^docker:\/\//, '')
          .split('/')[0] ?? item.source
      ).replace(/^.*@/, '');
    return ref.transport === 'oci' ? `oci:${ref.dir}` : ref.registry;
  }
  // Labels are stored and scraped: URLs from upstream content never checked at the door lose any credentials.
  if (item.kind === 'chart') return displayUrl(firstToken(item.source));
  return origin(item.source);
}

/** What "a source" is for the last-success gauge: an image repository, a chart in a repository, a file URL. */
export function sourceOf(item: Pick<ReportItem, 'kind' | 'source'>): string {
  if (item.kind === 'image') {
    const ref = imageRefOf(item.source);
    if (!ref) return item.source;
    return ref.transport === 'oci' ? `oci:${ref.dir}` : repoName(ref);
  }
  // `URL chart@version` → `URL chart`, `registry/addon@version` → `registry/addon`: one series per chart or addon, not per version.
  if (item.kind === 'chart' || item.kind === 'addon') return withDisplayUrl(item.source.replace(/@[^@\s]*$/, ''));
  return withDisplayUrl(item.source);
}

/** The hash increments one finished job stands for. */
export function counterDeltas(job: string, state: JobState, items: ReportItem[]): Map<string, number> {
  const deltas = new Map<string, number>();
  const add = (f: string, n: number) => deltas.set(f, (deltas.get(f) ?? 0) + n);
  add(field('jobs', job, state), 1);
  for (const i of items) {
    add(field('artifacts', i.kind, i.status), 1);
    if (i.bytes > 0 && i.status === 'copied') add(field('bytes', i.kind), i.bytes);
    if (i.status === 'failed') add(field('errors', upstreamOf(i), i.error?.code ?? 'E_UNKNOWN'), 1);
  }
  return deltas;
}

/**
 * How long a source stays in the last-success gauge after its last success. Sources come and go
 * with the config (and per-version names did before); without a bound the set only grows. A source
 * that has not succeeded for this long is gone from the gauge, which alerting on staleness sees too.
 */
export const LAST_SUCCESS_RETENTION_SECONDS = 30 * 24 * 3600;

export function redisMetricsSink(
  redis: Redis,
  prefix: string,
  queue: string,
  onError: (e: unknown) => void = () => undefined,
): MetricsSink {
  const keys = metricsKeys(prefix, queue);
  return {
    async record(job, state, items, at = new Date()) {
      const multi = redis.multi();
      for (const [f, n] of counterDeltas(job, state, items)) multi.hincrby(keys.counters, f, n);
      const seconds = Math.floor(at.getTime() / 1000);
      const ok = [...new Set(items.filter((i) => i.status === 'copied' || i.status === 'unchanged').map(sourceOf))];
      // GT: a worker finishing an older job later never moves a source's time backwards.
      for (const s of ok) multi.zadd(keys.lastSuccess, 'GT', seconds, s);
      multi.zremrangebyscore(keys.lastSuccess, '-inf', `(${seconds - LAST_SUCCESS_RETENTION_SECONDS}`);
      try {
        await multi.exec();
      } catch (e) {
        onError(e);
      }
    },
  };
}

export async function readWorkerMetrics(redis: Redis, prefix: string, queue: string): Promise<WorkerMetrics> {
  const keys = metricsKeys(prefix, queue);
  const [counters, last] = await Promise.all([
    redis.hgetall(keys.counters),
    redis.zrange(keys.lastSuccess, '0', '-1', 'WITHSCORES'),
  ]);
  const out: WorkerMetrics = { bytes: [], artifacts: [], errors: [], jobs: [], lastSuccess: [] };
  for (const [f, v] of Object.entries(counters)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(f);
    } catch {
      continue;
    }
    if (!Array.isArray(parsed)) continue;
    const [name, ...values] = parsed as string[];
    const names = COUNTERS[name as CounterName] as readonly string[] | undefined;
    if (!names || values.length !== names.length) continue;
    out[name as CounterName].push({
      labels: Object.fromEntries(names.map((n, i) => [n, String(values[i])])),
      value: Number(v),
    });
  }
  for (let i = 0; i + 1 < last.length; i += 2)
    out.lastSuccess.push({ labels: { source: last[i] ?? '' }, value: Number(last[i + 1]) });
  return out;
}
