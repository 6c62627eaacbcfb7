import path from 'node:path';
import { Command } from 'commander';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadRunConfig } from '../plan/config-check.js';
import { redisUrlOf } from '../config/secret-ref.js';
import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../core/errors.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../model/job-names.js';
import { applySchedules, listSchedules } from '../queue/schedules.js';
import { enqueueRun, listRuns, retryRun, runExitCode, showRun, type RunSummary } from '../queue/runs.js';
import { seconds, wholeNumber } from './number-options.js';
import { formatRunDetail, formatRunTable } from './run-table.js';
import { terminalCell, terminalJson, terminalSafe } from '../core/terminal.js';
import { isRedisConnectionError, redisPolicyOf, redisUnreachable } from '../state/redis-connect.js';

/**
 * Runs `fn` on the queue, Redis answering within `redis.connectTimeoutMs` or the command ends with
 * one line, `[E_UNREACHABLE] cannot reach Redis at HOST:PORT (…)`, exit 3; the same when the
 * connection is lost on the way.
 */
export async function withQueue<T>(
  config: AirlockConfig,
  file: string,
  name: string,
  fn: (q: Queue, redis: Redis) => Promise<T>,
): Promise<T> {
  const url = redisUrlOf(config, file);
  const policy = redisPolicyOf(config);
  // BullMQ is loaded only by the commands that use it: the CLI's start-up stays small.
  const { openCommandQueue, commandRedisStep } = await import('../queue/open-queue.js');
  const cq = await openCommandQueue(name, url, config.redis?.prefix ?? DEFAULT_PREFIX, policy);
  try {
    return await commandRedisStep(url, policy, () => fn(cq.queue, cq.redis));
  } finally {
    await cq.close();
  }
}

export function schedulerCommand(): Command {
  return new Command('scheduler')
    .description(
      'make Redis hold exactly the schedules of the config (BullMQ job schedulers), then exit; workers run the sync jobs they fire',
    )
    .requiredOption('-c, --config <file>', 'config file (redis.url, schedules:)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .action(async (opts: { config: string; queue: string }) => {
      const config = await loadRunConfig(opts.config, { checkSchedules: true });
      const r = await withQueue(config, opts.config, opts.queue, (q) => applySchedules(q, config.schedules));
      for (const n of r.upserted) process.stdout.write(`scheduled ${n}\n`);
      for (const n of r.removed) process.stdout.write(`removed   ${n}\n`);
      // Silence would read as "did nothing, maybe failed": say what Redis holds now.
      if (r.upserted.length === 0 && r.removed.length === 0)
        process.stdout.write(`no schedules in ${opts.config}; queue ${opts.queue} holds none\n`);
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
      const config = await loadRunConfig(opts.config);
      const list = await withQueue(config, opts.config, opts.queue, (q) => listSchedules(q));
      if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else
        for (const s of list)
          process.stdout.write(
            `${s.name.padEnd(20)} ${s.cron.padEnd(16)} ${(s.tz ?? 'UTC').padEnd(16)} ${s.scope.padEnd(7)} next ${s.next ?? '-'}\n`,
          );
    });
  return schedules;
}

function printRun(r: RunSummary): void {
  // A run's reason comes from a webhook and its failures from upstreams: no raw control characters.
  process.stdout.write(`${formatRunDetail(terminalSafe(r)).join('\n')}\n`);
}

export function runsCommand(): Command {
  const runs = new Command('runs').description(
    'sync runs held by the queue: counts, durations and every failure with its cause',
  );
  runs
    .command('list')
    .description(
      'the sync runs the queue holds, newest first: trigger, scope, state, start, duration and counts (schedules that have not fired are in schedules list)',
    )
    .requiredOption('-c, --config <file>', 'config file (redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--limit <n>', 'how many', wholeNumber('--limit'), 20)
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; queue: string; limit: number; json?: boolean }) => {
      const config = await loadRunConfig(opts.config);
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
      const config = await loadRunConfig(opts.config);
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
    .option(
      '--unclaimed-after <seconds>',
      'with --follow: say when no worker has taken the run after this long',
      seconds('--unclaimed-after'),
      DEFAULT_UNCLAIMED_S,
    )
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        opts: { config: string; queue: string; follow?: boolean; unclaimedAfter: number; json?: boolean },
      ) => {
        const config = await loadRunConfig(opts.config);
        if (!opts.follow) {
          const r = await withQueue(config, opts.config, opts.queue, (q) => retryRun(q, id));
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ id: r.job.id, retryOf: r.retryOf, artifacts: r.artifacts })}\n`
              : `${r.job.id}\n`,
          );
          return;
        }
        process.exitCode = await followed(
          config,
          opts.config,
          opts.queue,
          { json: opts.json, unclaimedAfterMs: opts.unclaimedAfter * 1000 },
          async (q) => {
            const r = await retryRun(q, id);
            return { job: r.job, what: `retrying ${r.artifacts} failed artifact(s) of run ${id}` };
          },
        );
      },
    );
  return runs;
}

const DEFAULT_UNCLAIMED_S = 30;
const FOLLOW_TIMEOUT_MS = 6 * 3600_000;

export interface FollowOptions {
  json?: boolean | undefined;
  /** Say that no worker has taken the run after this long (default 30 s). */
  unclaimedAfterMs?: number | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Queues a run (`start`), says its id on stderr at once, follows it with progress on stderr, then
 * prints it; the exit status is what the one-shot `sync` gives for the same failures.
 */
async function followed(
  config: AirlockConfig,
  file: string,
  name: string,
  options: FollowOptions,
  start: (q: Queue, redis: Redis) => Promise<{ job: Job; what: string }>,
): Promise<number> {
  const { followRun, lastEventId } = await import('../queue/follow-run.js');
  const { followDisplay } = await import('./follow-display.js');
  const url = redisUrlOf(config, file);
  const policy = redisPolicyOf(config);
  return withQueue(config, file, name, async (q, redis) => {
    // Read from where the events stream stands before the run exists: none of its events is missed.
    const from = await lastEventId(redis, q);
    const { job, what } = await start(q, redis);
    const id = job.id ?? '';
    process.stderr.write(`run ${id} queued on ${name}: ${what}; following it (Ctrl-C stops following, not the run)\n`);
    const display = followDisplay(id, name, { json: options.json });
    const release = stopFollowingOnSignals(id, file, name, display);
    let run: RunSummary;
    try {
      run = await followRun(q, redis, job, {
        timeoutMs: options.timeoutMs ?? FOLLOW_TIMEOUT_MS,
        unclaimedAfterMs: options.unclaimedAfterMs ?? DEFAULT_UNCLAIMED_S * 1000,
        fromEventId: from,
        listener: display.listener,
      });
    } catch (e) {
      throw isRedisConnectionError(e)
        ? redisUnreachable(url, e, policy, `; run ${id} goes on in the workers: airlock runs show ${id}`)
        : e;
    } finally {
      release();
      display.stop();
    }
    if (options.json) process.stdout.write(`${terminalJson(run, 2)}\n`);
    else printRun(run);
    return runExitCode(run);
  });
}

/**
 * Ctrl-C (or SIGTERM) while following stops the following, not the run: say so, and how to see
 * the run afterwards, then exit 130 (143). Until the returned function is called.
 */
function stopFollowingOnSignals(id: string, file: string, queue: string, display: { stop(): void }): () => void {
  const handler = (signal: NodeJS.Signals) => {
    display.stop();
    const where = `--config ${file}${queue === DEFAULT_QUEUE ? '' : ` --queue ${queue}`}`;
    process.stderr.write(
      `airlock: stopped following run ${terminalCell(id)} (${signal}); the run goes on in the workers: airlock runs show ${terminalCell(id)} ${terminalCell(where)}\n`,
    );
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * `airlock sync --queue`: the run goes to the workers; this command follows it to the end. The
 * workers plan it from their own config, so `file` must be that config: a run is refused when the
 * workers say they run another one (src/queue/worker-config.ts), and carries the digest of `file`
 * so a worker that runs another config refuses it too, unless `useWorkerConfig`.
 */
export async function syncThroughQueue(
  config: AirlockConfig,
  file: string,
  scope: string,
  options: FollowOptions & { queue?: string | undefined; useWorkerConfig?: boolean | undefined },
): Promise<number> {
  const { configDigest, liveWorkerConfigs } = await import('../queue/worker-config.js');
  const digest = configDigest(config);
  const prefix = config.redis?.prefix ?? DEFAULT_PREFIX;
  return followed(config, file, options.queue ?? DEFAULT_QUEUE, options, async (q, redis) => {
    if (options.useWorkerConfig)
      return {
        job: await enqueueRun(q, scope, 'airlock sync --queue'),
        what: `scope ${scope}, with the workers' config`,
      };
    const live = await liveWorkerConfigs(redis, prefix, q.name);
    if (live.length > 0 && !live.includes(digest)) {
      throw new AirlockError(
        'E_CONFIG',
        `${file} (config ${digest.slice(0, 12)}) is not the config the workers on queue ${q.name} run (${live.map((d) => d.slice(0, 12)).join(', ')}): deploy it to the workers, run it in-process with airlock sync --config ${file}, or pass --use-worker-config to run theirs`,
      );
    }
    if (live.length > 1)
      process.stderr.write(
        `airlock: workers on queue ${q.name} run ${live.length} different configs (a deploy in progress?); one with another config than ${file} refuses the run\n`,
      );
    const job = await enqueueRun(q, scope, 'airlock sync --queue', {
      configDigest: digest,
      configFile: path.basename(file),
    });
    return { job, what: `scope ${scope}, config ${digest.slice(0, 12)}` };
  });
}
