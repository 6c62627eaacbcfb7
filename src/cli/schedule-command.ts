import { Command } from 'commander';
import type { Queue, QueueEvents } from 'bullmq';
import { loadConfig } from '../config/load.js';
import { redisUrlOf } from '../config/secret-ref.js';
import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../errors.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../queue/names.js';
import { applySchedules, listSchedules } from '../queue/schedules.js';
import { enqueueAndFollow, followRun, listRuns, retryRun, showRun, type RunSummary } from '../queue/runs.js';
import { formatRunDetail, formatRunTable } from './run-table.js';
import { terminalJson, terminalSafe } from '../util/terminal.js';

async function openQueue(config: AirlockConfig, file: string, name: string): Promise<Queue> {
  const url = redisUrlOf(config, file);
  // BullMQ is loaded only by the commands that use it: the CLI's start-up stays small.
  const { openCommandQueue } = await import('../queue/open-queue.js');
  const queue = openCommandQueue(name, url, config.redis?.prefix ?? DEFAULT_PREFIX);
  return queue;
}

export async function withQueue<T>(config: AirlockConfig, file: string, name: string, fn: (q: Queue) => Promise<T>): Promise<T> {
  const queue = await openQueue(config, file, name);
  try {
    await queue.waitUntilReady().catch((e: unknown) => {
      throw new AirlockError('E_UNREACHABLE', `cannot reach Redis: ${(e as Error).message}`);
    });
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

export function schedulerCommand(): Command {
  return new Command('scheduler')
    .description('make Redis hold exactly the schedules of the config (BullMQ job schedulers), then exit; workers run the sync jobs they fire')
    .requiredOption('-c, --config <file>', 'config file (redis.url, schedules:)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .action(async (opts: { config: string; queue: string }) => {
      const config = loadConfig(opts.config, { checkSchedules: true });
      const r = await withQueue(config, opts.config, opts.queue, (q) => applySchedules(q, config.schedules));
      for (const n of r.upserted) process.stdout.write(`scheduled ${n}\n`);
      for (const n of r.removed) process.stdout.write(`removed   ${n}\n`);
    });
}

export function schedulesCommand(): Command {
  const schedules = new Command('schedules').description('inspect the schedules held in Redis');
  schedules
    .command('list')
    .description('schedules with their next run time')
    .requiredOption('-c, --config <file>', 'config file (redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; queue: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const list = await withQueue(config, opts.config, opts.queue, (q) => listSchedules(q));
      if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else for (const s of list) process.stdout.write(`${s.name.padEnd(20)} ${s.cron.padEnd(16)} ${(s.tz ?? 'UTC').padEnd(16)} ${s.scope.padEnd(7)} next ${s.next ?? '-'}\n`);
    });
  return schedules;
}

function printRun(r: RunSummary): void {
  // A run's reason comes from a webhook and its failures from upstreams: no raw control characters.
  process.stdout.write(`${formatRunDetail(terminalSafe(r)).join('\n')}\n`);
}

export function runsCommand(): Command {
  const runs = new Command('runs').description('sync runs held by the queue: counts, durations and every failure with its cause');
  runs
    .command('list')
    .description('the sync runs the queue holds, newest first: trigger, scope, state, start, duration and counts (schedules that have not fired are in schedules list)')
    .requiredOption('-c, --config <file>', 'config file (redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--limit <n>', 'how many', (v) => Number.parseInt(v, 10), 20)
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; queue: string; limit: number; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const list = await withQueue(config, opts.config, opts.queue, (q) => listRuns(q, opts.limit));
      if (opts.json) process.stdout.write(`${terminalJson(list, 2)}\n`);
      else if (list.length === 0) process.stdout.write(`no sync runs in queue ${opts.queue}\n`);
      else process.stdout.write(`${formatRunTable(terminalSafe(list)).join('\n')}\n`);
    });
  runs
    .command('show')
    .description('one run: trigger, scope, state, times, counts, and every failure with its cause')
    .argument('<run>', 'run id (from runs list or sync --queue)')
    .requiredOption('-c, --config <file>', 'config file (redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { config: string; queue: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const run = await withQueue(config, opts.config, opts.queue, (q) => showRun(q, id));
      if (opts.json) process.stdout.write(`${terminalJson(run, 2)}\n`);
      else printRun(run);
    });
  runs
    .command('retry')
    .description('queue a new run of only the failed artifacts of RUN; prints the new run id')
    .argument('<run>', 'run id (from runs list or sync --queue)')
    .requiredOption('-c, --config <file>', 'config file (redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--follow', 'wait for the new run to end and print it, like sync --queue')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { config: string; queue: string; follow?: boolean; json?: boolean }) => {
      const config = loadConfig(opts.config);
      if (!opts.follow) {
        const r = await withQueue(config, opts.config, opts.queue, (q) => retryRun(q, id));
        process.stdout.write(opts.json ? `${JSON.stringify({ id: r.job.id, retryOf: r.retryOf, artifacts: r.artifacts })}\n` : `${r.job.id}\n`);
        return;
      }
      process.exitCode = await followed(config, opts.config, opts.queue, opts.json, async (q, events) => {
        const r = await retryRun(q, id);
        if (!opts.json) process.stdout.write(`run ${r.job.id ?? ''}: retrying ${r.artifacts} failed artifact(s) of run ${id}\n`);
        return followRun(q, events, r.job, 6 * 3600_000);
      });
    });
  return runs;
}

/** Opens job events, runs `start` (which queues and follows a run), prints the run; 0 only for a clean run. */
async function followed(config: AirlockConfig, file: string, name: string, json: boolean | undefined, start: (q: Queue, events: QueueEvents) => Promise<RunSummary>): Promise<number> {
  const url = redisUrlOf(config, file);
  const { openCommandEvents } = await import('../queue/open-queue.js');
  const events = openCommandEvents(name, url, config.redis?.prefix ?? DEFAULT_PREFIX);
  try {
    await events.waitUntilReady();
    const run = await withQueue(config, file, name, (q) => start(q, events));
    if (json) process.stdout.write(`${terminalJson(run, 2)}\n`);
    else printRun(run);
    return run.state === 'completed' && (run.summary?.failed ?? 0) === 0 ? 0 : 1;
  } finally {
    await events.close();
  }
}

/** `airlock sync --queue`: the run goes to the workers; this command follows it to the end. */
export async function syncThroughQueue(config: AirlockConfig, file: string, scope: string, options: { queue?: string; json?: boolean; timeoutMs?: number }): Promise<number> {
  return followed(config, file, options.queue ?? DEFAULT_QUEUE, options.json, (q, events) => enqueueAndFollow(q, events, scope, 'airlock sync --queue', options.timeoutMs ?? 6 * 3600_000));
}
