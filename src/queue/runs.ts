import type { Job, Queue, QueueEvents } from 'bullmq';
import { AirlockError } from '../errors.js';
import { JOB } from './names.js';

export interface RunSummary {
  id: string;
  state: string;
  reason: string;
  scope: string;
  enqueuedAt: string;
  finishedAt?: string;
  durationMs?: number;
  summary?: Record<string, number>;
  failures?: Array<{ kind: string; source: string; error?: { code: string; message: string } }>;
  error?: string;
}

function toSummary(job: Job, state: string): RunSummary {
  const data = job.data as { scope?: string; reason?: string };
  const rv = job.returnvalue as { summary?: Record<string, number>; failures?: RunSummary['failures'] } | null;
  return {
    id: job.id ?? '',
    state,
    reason: data.reason ?? '',
    scope: data.scope ?? 'all',
    enqueuedAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString(), durationMs: job.finishedOn - (job.processedOn ?? job.timestamp) } : {}),
    ...(rv?.summary ? { summary: rv.summary } : {}),
    ...(rv?.failures ? { failures: rv.failures } : {}),
    ...(job.failedReason ? { error: job.failedReason } : {}),
  };
}

/** The last sync runs held by the queue (kept by removeOnComplete/removeOnFail bounds), newest first. */
export async function listRuns(queue: Queue, limit = 20): Promise<RunSummary[]> {
  const jobs = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'], 0, 500, false);
  const runs: RunSummary[] = [];
  for (const job of jobs) {
    if (job.name !== JOB.sync) continue;
    runs.push(toSummary(job, await job.getState()));
  }
  return runs.sort((a, b) => b.enqueuedAt.localeCompare(a.enqueuedAt)).slice(0, limit);
}

export async function showRun(queue: Queue, id: string): Promise<RunSummary> {
  const job = await queue.getJob(id);
  if (!job || job.name !== JOB.sync) throw new AirlockError('E_NOT_FOUND', `no sync run ${id} in the queue`, { artifact: id });
  return toSummary(job, await job.getState());
}

/** Enqueues a sync run and waits for its end through job events. */
export async function enqueueAndFollow(queue: Queue, events: QueueEvents, scope: string, reason: string, timeoutMs: number): Promise<RunSummary> {
  const job = await queue.add(JOB.sync, { scope, reason }, { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } });
  try {
    await job.waitUntilFinished(events, timeoutMs);
  } catch {
    // A failed or timed-out run is still reported below with its state.
  }
  const fresh = await queue.getJob(job.id ?? '');
  return toSummary(fresh ?? job, fresh ? await fresh.getState() : 'unknown');
}
