import { createRequire } from 'node:module';
import type { CronExpressionParser } from 'cron-parser';
import { AirlockError } from '../core/errors.js';
import type { ScheduleConfig } from './schema.js';

let parser: typeof CronExpressionParser | undefined;

/**
 * BullMQ's own copy of cron-parser, resolved from BullMQ's directory, so a pattern and zone that
 * pass here are read the same way by the scheduler. Loaded only by the commands that check
 * schedules: it and its date library cost a one-shot command more start-up time than its work.
 */
function cronParser(): typeof CronExpressionParser {
  if (!parser) {
    const fromHere = createRequire(import.meta.url);
    const fromBullmq = createRequire(fromHere.resolve('bullmq'));
    parser = (fromBullmq('cron-parser') as typeof import('cron-parser')).CronExpressionParser;
  }
  return parser;
}

/** Why a schedule's cron pattern or time zone would fail in the scheduler, with the key it concerns. */
export function scheduleProblem(
  s: Pick<ScheduleConfig, 'name' | 'cron' | 'tz'>,
  now = new Date(),
): { key: 'cron' | 'tz'; message: string } | undefined {
  if (s.tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: s.tz });
    } catch {
      return {
        key: 'tz',
        message: `schedule "${s.name}": unknown time zone "${s.tz}" (an IANA name such as Europe/Berlin or UTC)`,
      };
    }
  }
  const fields = s.cron.trim().split(/\s+/);
  // cron-parser takes other field counts too and reads them in ways no one means.
  if (!s.cron.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    return {
      key: 'cron',
      message: `schedule "${s.name}": cron "${s.cron}" has ${fields.length} field(s); expected 5 (minute hour day month weekday), or 6 with seconds first`,
    };
  }
  try {
    // As BullMQ computes the next run: parse with the zone, then ask for the next date.
    cronParser()
      .parse(s.cron, { currentDate: now, ...(s.tz ? { tz: s.tz } : {}) })
      .next();
  } catch (e) {
    const key = /timestamp|zone/i.test((e as Error).message) && s.tz ? 'tz' : 'cron';
    return {
      key,
      message: `schedule "${s.name}": ${key === 'tz' ? `time zone "${s.tz}"` : `cron "${s.cron}"`} is not valid: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  return undefined;
}

/** Every schedule checked as the scheduler will read it; the first problem throws E_CONFIG naming its key path. */
export function checkSchedules(schedules: ScheduleConfig[], file = 'config'): void {
  schedules.forEach((s, i) => {
    const problem = scheduleProblem(s);
    if (problem) throw new AirlockError('E_CONFIG', `${file}: schedules[${i}].${problem.key}: ${problem.message}`);
  });
}
