import type { Job, Queue } from 'bullmq';
import { AirlockError, EXIT_CODES, exitCodeForErrors, type ErrorCode } from '../core/errors.js';
import { decodeJobFailure } from './failure-text.js';
import { parseSyncRunPayload, readSyncRunPayload } from './step-payloads.js';
import { JOB } from '../model/job-names.js';
import { retryPlanSize, type RetryPlan } from '../model/retry-plan.js';

export interface RunSummary {
  id: string;
  state: string;
  reason: string;
  scope: string;
  /** The run this one retries the failures of. */
  retryOf?: string;
  /** When the run was queued. */
  enqueuedAt: string;
  /** When a worker took the run (it then planned it); absent while it waits for one. */
  startedAt?: string;
  finishedAt?: string;
  /**
   * From `startedAt` to `finishedAt` (after its last child), so that started + duration is the
   * end; the time waiting for a worker is `startedAt - enqueuedAt`, not part of it.
   */
  durationMs?: number;
  summary?: Record<string, number>;
  failures?: Array<{ kind: string; source: string; error?: { code: string; message: string } }>;
  error?: string;
}

export function toSummary(job: Job, state: string): RunSummary {
  const data = readSyncRunPayload(job.data);
  const rv = job.returnvalue as { summary?: Record<string, number>; failures?: RunSummary['failures'] } | null;
  // Not processedOn first: a flow parent is processed again when its children have settled, and
  // BullMQ overwrites processedOn then, so it would measure only the last few milliseconds of the
  // run. A run that ended before it recorded its start (refused, failed planning) was processed
  // once: there processedOn is when a worker took it.
  const startedAt = typeof data.startedAt === 'number' ? data.startedAt : job.processedOn || undefined;
  return {
    id: job.id ?? '',
    state,
    reason: data.reason ?? '',
    scope: data.scope ?? 'all',
    ...(data.retryOf ? { retryOf: data.retryOf } : {}),
    enqueuedAt: new Date(job.timestamp).toISOString(),
    ...(startedAt ? { startedAt: new Date(startedAt).toISOString() } : {}),
    ...(job.finishedOn
      ? {
          finishedAt: new Date(job.finishedOn).toISOString(),
          // A run cannot finish unless a worker took it; the enqueue time is only a fallback.
          durationMs: job.finishedOn - (startedAt ?? job.timestamp),
        }
      : {}),
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
  const byId = (a: string, b: string) =>
    /^\d+$/.test(a) && /^\d+$/.test(b) ? Number(b) - Number(a) : b.localeCompare(a);
  return runs.sort((a, b) => b.enqueuedAt.localeCompare(a.enqueuedAt) || byId(a.id, b.id)).slice(0, limit);
}

export async function showRun(queue: Queue, id: string): Promise<RunSummary> {
  const job = await queue.getJob(id);
  if (!job || job.name !== JOB.sync)
    throw new AirlockError('E_NOT_FOUND', `no sync run ${id} in the queue`, { artifact: id });
  return toSummary(job, await job.getState());
}

const RUN_OPTIONS = { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } };

/** Enqueues a sync run: every producer (CLI, webhooks) keeps the same job options. */
export function enqueueRun(
  queue: Queue,
  scope: string,
  reason: string,
  extra: { configDigest?: string; configFile?: string } = {},
): Promise<Job> {
  return queue.add(JOB.sync, { scope, reason, ...extra }, RUN_OPTIONS);
}

/**
 * The exit status of a followed run, as the one-shot `sync` would give for the same failures: 0
 * for a clean run, the failures' own code when they agree (a lone E_NOT_FOUND is 5), else 1; a run
 * that failed as a whole takes the code of its reason (`[E_CONFIG] …` is 2).
 */
export function runExitCode(run: RunSummary): number {
  if (run.state === 'completed') {
    const failures = run.failures ?? [];
    if (failures.length === 0) return (run.summary?.failed ?? 0) === 0 ? 0 : 1;
    return exitCodeForErrors(failures.map((f) => new AirlockError(codeOf(f.error?.code), f.error?.message ?? ''))) || 1;
  }
  if (run.state === 'failed') return EXIT_CODES[decodeJobFailure(run.error ?? '').code];
  return 1;
}

function codeOf(code: string | undefined): ErrorCode {
  return code && code in EXIT_CODES ? (code as ErrorCode) : 'E_REGISTRY';
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
  if (!old || old.name !== JOB.sync)
    throw new AirlockError('E_NOT_FOUND', `no sync run ${id} in the queue`, { artifact: id });
  const state = await old.getState();
  const data = parseSyncRunPayload(old.data);
  const scope = data.scope ?? 'all';
  if (state === 'failed') {
    // Only what the run was asked: its flow state (step, planned items) belongs to the old run.
    const job = await queue.add(
      JOB.sync,
      { scope, ...(data.retry ? { retry: data.retry } : {}), reason: `retry of run ${id}`, retryOf: id },
      RUN_OPTIONS,
    );
    return { job, retryOf: id, artifacts: data.retry ? retryPlanSize(data.retry) : 0 };
  }
  if (state !== 'completed')
    throw new AirlockError('E_USAGE', `run ${id} is ${state}; retry it once it has finished`, { artifact: id });
  const rv = old.returnvalue as { failures?: unknown[]; retry?: RetryPlan } | null;
  if (!rv?.failures?.length) throw new AirlockError('E_USAGE', `run ${id} has no failures to retry`, { artifact: id });
  if (!rv.retry || retryPlanSize(rv.retry) === 0)
    throw new AirlockError(
      'E_UNSUPPORTED',
      `run ${id} recorded no retryable payloads for its failures (a config error, or a worker older than runs retry)`,
      { artifact: id },
    );
  const job = await queue.add(
    JOB.sync,
    { scope, reason: `retry of run ${id}`, retryOf: id, retry: rv.retry },
    RUN_OPTIONS,
  );
  return { job, retryOf: id, artifacts: retryPlanSize(rv.retry) };
}
