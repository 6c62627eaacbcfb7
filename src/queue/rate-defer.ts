import { DelayedError, type Job } from 'bullmq';
import { toAirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { UpstreamBudget } from '../http/upstream-budget.js';
import { jobKind, looseData } from './job-kinds.js';

/** A pause shorter than this is waited out inside the job; a longer one hands the job back to the queue. */
export const DEFER_AFTER_MS = 3_000;
/** A job still rate limited this long after it was queued fails like any other (spending attempts). */
export const MAX_DEFER_AGE_MS = 24 * 3600_000;

/** The upstream host a mirror job reads from, as the HTTP layer keys its budget; undefined when unknown (its kind's table entry says). */
export function jobUpstream(name: string, data: unknown): string | undefined {
  return jobKind(name)?.upstream?.(looseData(data));
}

async function defer(job: Job, token: string | undefined, untilMs: number, why: string, log: Logger): Promise<void> {
  if (!token || Date.now() - job.timestamp > MAX_DEFER_AGE_MS) return;
  // Jitter: the jobs of one paused upstream do not all wake in the same instant.
  const until = untilMs + Math.floor(Math.random() * 500);
  await job.moveToDelayed(until, token);
  log.info(
    { until: new Date(until).toISOString(), why },
    'upstream rate limited: job deferred without using an attempt',
  );
  throw new DelayedError(why);
}

/** Before a job runs: its upstream is paused for a while, so it goes back to the queue until then. */
export async function deferIfPaused(
  job: Job,
  token: string | undefined,
  budget: UpstreamBudget,
  log: Logger,
): Promise<void> {
  const host = jobUpstream(job.name, job.data);
  if (!host) return;
  const until = await budget.pausedUntil(host);
  if (until - Date.now() > DEFER_AFTER_MS) await defer(job, token, until, `${host} paused`, log);
}

/** After a job failed with E_RATE_LIMITED: back to the queue until the pause ends, its attempt not spent. */
export async function deferIfRateLimited(
  job: Job,
  token: string | undefined,
  budget: UpstreamBudget,
  error: unknown,
  log: Logger,
): Promise<void> {
  const err = toAirlockError(error);
  if (err.code !== 'E_RATE_LIMITED') return;
  const host = jobUpstream(job.name, job.data);
  const paused = host ? await budget.pausedUntil(host) : 0;
  const until = Math.max(Date.now() + (err.retryAfterMs ?? 0), paused, Date.now() + 1_000);
  await defer(job, token, until, err.message, log);
}
