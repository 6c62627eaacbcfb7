import type { Job, Queue, QueueEvents } from 'bullmq';
import { AirlockError } from '../errors.js';
import { JOB } from './names.js';
import { retryPlanSize, type RetryPlan } from '../runner/retry-plan.js';

export interface RunSummary {
  id: string;
  state: string;
  reason: string;
  scope: string;
  /** The run this one retries the failures of. */
  retryOf?: string;
  enqueuedAt: string;
  finishedAt?: string;
  durationMs?: number;
  summary?: Record<string, number>;
  failures?: Array<{ kind: string; source: string; error?: { code: string; message: string } }>;
  error?: string;
}

function toSummary(job: Job, state: string): RunSummary {
  const data = job.data as { scope?: string; reason?: string; retryOf?: string };
  const rv = job.returnvalue as { summary?: Record<string, number>; failures?: RunSummary['failures'] } | null;
  return {
    id: job.id ?? '',
    state,
    reason: data.reason ?? '',
    scope: data.scope ?? 'all',
    ...(data.retryOf ? { retryOf: data.retryOf } : {}),
    enqueuedAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString(), durationMs: job.finishedOn - (job.processedOn ?? job.timestamp) } : {}),
    ...(rv?.summary ? { summary: rv.summary } : {}),
    ...(rv?.failures ? { failures: rv.failures } : {}),
    ...(job.failedReason ? { error: job.failedReason } : {}),
  };
}

// A run in progress waits for its children (waiting-children), so that state must be listed too.
const RUN_STATES = ['active', 'waiting-children', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'] as const;
// Runs share the queue with their children, thousands of them: read in pages, and stop looking
// after this many jobs of one state rather than load them all for a listing.
const RUNS_PAGE = 200;
const RUNS_SCAN_MAX = 2000;

/** The last sync runs held by the queue (kept by removeOnComplete/removeOnFail bounds), newest first. */
export async function listRuns(queue: Queue, limit = 20): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for (const state of RUN_STATES) {
    let found = 0;
    for (let start = 0; start < RUNS_SCAN_MAX && found < limit; start += RUNS_PAGE) {
      const page = await queue.getJobs([state], start, start + RUNS_PAGE - 1, false);
      for (const job of page) {
        // A job removed between listing and reading comes back empty.
        if (job?.name !== JOB.sync) continue;
        // A job scheduler's next run waits as a delayed job until it fires: a schedule, not a run
        // (`schedules list` shows it with its next time).
        if (state === 'delayed' && job.repeatJobKey) continue;
        runs.push(toSummary(job, state));
        found += 1;
      }
      if (page.length < RUNS_PAGE) break;
    }
  }
  // Newest first; runs queued in the same millisecond by their ids, which grow (a numeric id is compared as a number).
  const byId = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(b) - Number(a) : b.localeCompare(a));
  return runs.sort((a, b) => b.enqueuedAt.localeCompare(a.enqueuedAt) || byId(a.id, b.id)).slice(0, limit);
}

export async function showRun(queue: Queue, id: string): Promise<RunSummary> {
  const job = await queue.getJob(id);
  if (!job || job.name !== JOB.sync) throw new AirlockError('E_NOT_FOUND', `no sync run ${id} in the queue`, { artifact: id });
  return toSummary(job, await job.getState());
}

const RUN_OPTIONS = { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } };

/** Waits for a run's end through job events, then reads it back. */
export async function followRun(queue: Queue, events: QueueEvents, job: Job, timeoutMs: number): Promise<RunSummary> {
  try {
    await job.waitUntilFinished(events, timeoutMs);
  } catch {
    // A failed or timed-out run is still reported below with its state.
  }
  const fresh = await queue.getJob(job.id ?? '');
  return toSummary(fresh ?? job, fresh ? await fresh.getState() : 'unknown');
}

/** Enqueues a sync run: every producer (CLI, webhooks) keeps the same job options. */
export function enqueueRun(queue: Queue, scope: string, reason: string): Promise<Job> {
  return queue.add(JOB.sync, { scope, reason }, RUN_OPTIONS);
}

/** Enqueues a sync run and waits for its end through job events. */
export async function enqueueAndFollow(queue: Queue, events: QueueEvents, scope: string, reason: string, timeoutMs: number): Promise<RunSummary> {
  return followRun(queue, events, await enqueueRun(queue, scope, reason), timeoutMs);
}

export interface RetriedRun {
  /** The new run. */
  job: Job;
  retryOf: string;
  /** Payloads and config entries queued again. */
  artifacts: number;
}

/**
 * Queues a new run of only what run `id` failed: its failed payloads, and the config entries it
 * could not plan. A run that failed as a whole (no report) is queued again with its own data.
 */
export async function retryRun(queue: Queue, id: string): Promise<RetriedRun> {
  const old = await queue.getJob(id);
  if (!old || old.name !== JOB.sync) throw new AirlockError('E_NOT_FOUND', `no sync run ${id} in the queue`, { artifact: id });
  const state = await old.getState();
  const data = old.data as { scope?: string; retry?: RetryPlan };
  const scope = data.scope ?? 'all';
  if (state === 'failed') {
    // Only what the run was asked: its flow state (step, planned items) belongs to the old run.
    const job = await queue.add(JOB.sync, { scope, ...(data.retry ? { retry: data.retry } : {}), reason: `retry of run ${id}`, retryOf: id }, RUN_OPTIONS);
    return { job, retryOf: id, artifacts: data.retry ? retryPlanSize(data.retry) : 0 };
  }
  if (state !== 'completed') throw new AirlockError('E_USAGE', `run ${id} is ${state}; retry it once it has finished`, { artifact: id });
  const rv = old.returnvalue as { failures?: unknown[]; retry?: RetryPlan } | null;
  if (!rv?.failures?.length) throw new AirlockError('E_USAGE', `run ${id} has no failures to retry`, { artifact: id });
  if (!rv.retry || retryPlanSize(rv.retry) === 0) throw new AirlockError('E_UNSUPPORTED', `run ${id} recorded no retryable payloads for its failures (a config error, or a worker older than runs retry)`, { artifact: id });
  const job = await queue.add(JOB.sync, { scope, reason: `retry of run ${id}`, retryOf: id, retry: rv.retry }, RUN_OPTIONS);
  return { job, retryOf: id, artifacts: retryPlanSize(rv.retry) };
}
