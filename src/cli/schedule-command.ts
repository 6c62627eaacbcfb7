import { Command } from 'commander';
import type { Queue } from 'bullmq';
import { loadConfig } from '../config/load.js';
import { resolveSecret } from '../config/secret-ref.js';
import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../errors.js';
import { DEFAULT_QUEUE } from '../queue/names.js';
import { applySchedules, listSchedules } from '../queue/schedules.js';

async function openQueue(config: AirlockConfig, file: string, name: string): Promise<Queue> {
  if (!config.redis) throw new AirlockError('E_CONFIG', `${file}: redis.url is required for schedules`);
  const url = typeof config.redis.url === 'string' ? config.redis.url : resolveSecret(config.redis.url, 'redis.url');
  // BullMQ is loaded only by the commands that use it: the CLI's start-up stays small.
  const { openCommandQueue } = await import('../queue/open-queue.js');
  const queue = openCommandQueue(name, url, config.redis.prefix);
  return queue;
}

async function withQueue<T>(config: AirlockConfig, file: string, name: string, fn: (q: Queue) => Promise<T>): Promise<T> {
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
      const config = loadConfig(opts.config);
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
