import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReportItem } from '../model/report.js';
import { emptyRetryPlan } from '../model/retry-plan.js';
import { toSummary, type RunSummary } from './runs.js';
import type { ChildResult } from './sync-flow.js';
import { failedChildItems } from './job-kinds.js';
import { readSyncRunPayload } from './step-payloads.js';

/** What following a run reports as it happens. */
export interface FollowListener {
  /** A worker took the run. */
  started?(): void;
  /** The run planned this many artifacts (its direct children). */
  planned?(total: number): void;
  /** One of them settled; `items` are the artifacts it settled (a chart and its images, a plugin index and its files). */
  settled?(items: ReportItem[], done: number, total: number | undefined): void;
  /** Bytes written since the last call: while an image copies (its job's progress), and the rest when a job ends. */
  bytes?(n: number): void;
  /** An artifact failed for good (also inside a child that otherwise completed). */
  failed?(item: ReportItem): void;
  /** Nobody took the run within the wait; `workers` is how many BullMQ workers Redis lists on the queue, when it says. */
  unclaimed?(waitedMs: number, workers: number | undefined): void;
}

export interface FollowOptions {
  /** Give up following after this long; the run goes on and is reported in its state then. */
  timeoutMs: number;
  /** Say once that no worker has taken the run after this long. */
  unclaimedAfterMs: number;
  pollMs?: number;
  /** The events stream id to read from: taken before the run was queued, so none of its events is missed. */
  fromEventId?: string;
  listener?: FollowListener;
}

/** The last id of the queue's events stream, or `0` while it has none. */
export async function lastEventId(redis: Redis, queue: Queue): Promise<string> {
  const last = (await redis.xrevrange(queue.toKey('events'), '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return last[0]?.[0] ?? '0';
}

function fields(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = String(list[i + 1]);
  return out;
}

const UNCLAIMED_STATES = new Set(['waiting', 'prioritized', 'delayed', 'wait']);

/**
 * Follows a queued run to its end. The run's job and its descendants have ids `RUN-KEY[-KEY…]`
 * (src/queue/sync-flow.ts), so the queue's events stream says what settled, read without blocking
 * from where it stood when the run was queued; the run job itself says its state and how many
 * artifacts it planned. What the workers did is read back from the job at the end, whatever events
 * were missed (the stream is capped).
 */
export async function followRun(queue: Queue, redis: Redis, job: Job, options: FollowOptions): Promise<RunSummary> {
  const id = job.id ?? '';
  const listener = options.listener ?? {};
  const pollMs = options.pollMs ?? 500;
  const start = Date.now();
  const direct = new RegExp(`^${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]+$`);
  let cursor = options.fromEventId ?? '0';
  let started = false;
  let total: number | undefined;
  let done = 0;
  let saidUnclaimed = false;
  let current: Job | undefined;
  // Bytes each job under the run reported so far, so its final count adds only the rest.
  const seen = new Map<string, number>();
  // What the children say waits until the run says it planned them: the events stream often
  // tells of a child that failed fast before the run job's data is read, and the listener should
  // hear "N planned" first, then the failures found while planning, then the children.
  const deferred: Array<() => void> = [];
  const tell = (fn: () => void) => (total === undefined ? deferred.push(fn) : fn());
  const flush = () => {
    for (const fn of deferred.splice(0)) fn();
  };
  const moved = (jobId: string, bytes: number) => {
    const before = seen.get(jobId) ?? 0;
    if (bytes > before) {
      seen.set(jobId, bytes);
      tell(() => listener.bytes?.(bytes - before));
    }
  };
  let state: string;
  for (;;) {
    const entries = (await redis.xrange(queue.toKey('events'), `(${cursor}`, '+', 'COUNT', 1000)) as Array<
      [string, string[]]
    >;
    for (const [eventId, list] of entries) {
      cursor = eventId;
      const e = fields(list);
      const jobId = e.jobId ?? '';
      if (jobId === id) {
        if (e.event === 'active' && !started) {
          started = true;
          listener.started?.();
        }
        continue;
      }
      if (!jobId.startsWith(`${id}-`)) continue;
      if (e.event === 'progress') {
        const p = parseJson(e.data) as { bytes?: unknown } | undefined;
        if (typeof p?.bytes === 'number') moved(jobId, p.bytes);
      } else if (e.event === 'completed') {
        const value = parseJson(e.returnvalue) as ChildResult | undefined;
        const items = Array.isArray(value?.items) ? value.items : [];
        moved(
          jobId,
          items.reduce((n, i) => n + (typeof i.bytes === 'number' ? i.bytes : 0), 0),
        );
        seen.delete(jobId);
        tell(() => {
          for (const item of items) if (item.status === 'failed') listener.failed?.(item);
          if (direct.test(jobId)) listener.settled?.(items, ++done, total);
        });
      } else if (e.event === 'failed') {
        // Only a final failure is a `failed` event; a retry is `delayed` or `waiting`.
        const child = await queue.getJob(jobId);
        const items = child
          ? failedChildItems(
              { name: child.name, data: child.data, reason: e.failedReason ?? child.failedReason ?? '' },
              emptyRetryPlan(),
            )
          : [];
        tell(() => {
          for (const item of items) listener.failed?.(item);
          if (direct.test(jobId)) listener.settled?.(items, ++done, total);
        });
      }
    }
    // The state first: a job read after it says `completed` holds its return value.
    state = await queue.getJobState(id);
    current = await queue.getJob(id);
    if (!current || state === 'unknown') {
      flush();
      return { ...toSummary(job, 'unknown'), error: `run ${id} is no longer in the queue` };
    }
    if (!started && !UNCLAIMED_STATES.has(state)) {
      started = true;
      listener.started?.();
    }
    const data = readSyncRunPayload(current.data);
    if (total === undefined && typeof data.total === 'number') {
      total = data.total;
      listener.planned?.(total);
      // What failed while planning (a tag list, an index) is not a child: it is in the run's data.
      for (const item of data.planned ?? []) if (item?.status === 'failed') listener.failed?.(item);
      flush();
    }
    if (state === 'completed' || state === 'failed') break;
    const waited = Date.now() - start;
    if (!started && !saidUnclaimed && waited >= options.unclaimedAfterMs) {
      saidUnclaimed = true;
      const workers = await queue.getWorkersCount().catch(() => undefined);
      listener.unclaimed?.(waited, workers);
    }
    if (waited >= options.timeoutMs) break;
    if (entries.length < 1000) await new Promise((r) => setTimeout(r, pollMs));
  }
  // A run that ended without saying it planned (refused as a whole): what its children said, if any.
  flush();
  return toSummary(current, state);
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
