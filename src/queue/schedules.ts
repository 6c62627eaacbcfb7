import type { Queue } from 'bullmq';
import type { ScheduleConfig } from '../config/schema.js';
import { AirlockError } from '../core/errors.js';
import { JOB } from '../model/job-names.js';
import { isRedisConnectionError } from '../state/redis-connect.js';

export interface ScheduleState {
  name: string;
  cron: string;
  tz?: string;
  scope: string;
  /** Next run, when Redis knows it. */
  next?: string;
}

/**
 * Makes Redis hold exactly the configured schedules: each is upserted (idempotent, so every start
 * may call this), and schedulers no longer in the config are removed.
 */
export async function applySchedules(
  queue: Queue,
  schedules: ScheduleConfig[],
): Promise<{ upserted: string[]; removed: string[] }> {
  const wanted = new Set(schedules.map((s) => s.name));
  for (const s of schedules) {
    try {
      await queue.upsertJobScheduler(
        s.name,
        { pattern: s.cron, ...(s.tz ? { tz: s.tz } : {}) },
        { name: JOB.sync, data: { scope: s.scope, reason: `schedule ${s.name}` } },
      );
    } catch (e) {
      // Redis going away is not a config error: the command says so as it says it elsewhere.
      if (isRedisConnectionError(e)) throw e;
      throw new AirlockError('E_CONFIG', `schedules: ${s.name}: ${(e as Error).message}`);
    }
  }
  const removed: string[] = [];
  for (const existing of await queue.getJobSchedulers(0, -1, true)) {
    const id = existing.key;
    if (!wanted.has(id)) {
      await queue.removeJobScheduler(id);
      removed.push(id);
    }
  }
  return { upserted: [...wanted], removed };
}

export async function listSchedules(queue: Queue): Promise<ScheduleState[]> {
  const all = await queue.getJobSchedulers(0, -1, true);
  return all.map((s) => {
    const data = (s.template?.data ?? {}) as { scope?: string };
    return {
      name: s.key,
      cron: s.pattern ?? '',
      ...(s.tz ? { tz: s.tz } : {}),
      scope: data.scope ?? 'all',
      ...(s.next ? { next: new Date(s.next).toISOString() } : {}),
    };
  });
}
