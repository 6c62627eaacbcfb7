import { Command } from 'commander';
import { indexCacheDir } from './state-store.js';
import { loadConfig } from '../config/load.js';
import { redisUrlOf } from '../config/secret-ref.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../queue/names.js';
import { createEngine } from '../engine.js';
import { createLogger } from '../log.js';
import { redisMirrorState } from '../state/mirror-state.js';
import { connectRedis } from '../state/redis-connect.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('run job processors from the Redis queue (BullMQ) until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'config file (needs redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--concurrency <n>', 'jobs at once (default: concurrency.images)', (v) => Number.parseInt(v, 10))
    .option('--lock-duration <ms>', 'job lock lifetime; a dead worker\'s jobs are taken over after it (default 30000)', (v) => Number.parseInt(v, 10))
    .option('--stalled-interval <ms>', 'how often stalled jobs are looked for (default 30000)', (v) => Number.parseInt(v, 10))
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: { config: string; queue: string; concurrency?: number; lockDuration?: number; stalledInterval?: number; logLevel: string }) => {
      const config = loadConfig(opts.config);
      const redisUrl = redisUrlOf(config, opts.config);
      const logger = createLogger({ level: opts.logLevel });
      const stateRedis = await connectRedis(redisUrl, { maxRetriesPerRequest: null });
      const prefix = config.redis?.prefix ?? DEFAULT_PREFIX;
      const { redisArtifactLock } = await import('../queue/artifact-lock.js');
      const lock = redisArtifactLock(stateRedis, prefix, { onError: (e) => logger.warn({ err: (e as Error).message }, 'artifact lock') });
      const { redisUpstreamBudget } = await import('../queue/rate-budget.js');
      const { redisRegistrySlots } = await import('../queue/registry-slots.js');
      // Shared by every worker on this Redis: request budgets and 429 pauses per upstream, registry concurrency.
      const budget = redisUpstreamBudget(stateRedis, prefix, config, { onError: (e) => logger.warn({ err: (e as Error).message }, 'upstream budget') });
      const slots = redisRegistrySlots(stateRedis, prefix, { onError: (e) => logger.warn({ err: (e as Error).message }, 'registry slots') });
      const engine = createEngine({ config, logger, state: redisMirrorState(stateRedis, prefix), lock, budget, slots });
      const { startQueueWorker } = await import('../../workers/worker.js');
      const { redisMetricsSink } = await import('../queue/worker-metrics.js');
      const metrics = redisMetricsSink(stateRedis, prefix, opts.queue, (e) => logger.warn({ err: (e as Error).message }, 'metrics not recorded'));
      const worker = startQueueWorker({ config, engine, logger, redisUrl, queue: opts.queue, cacheDir: indexCacheDir(config), metrics, ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), ...(opts.lockDuration ? { lockDurationMs: opts.lockDuration } : {}), ...(opts.stalledInterval ? { stalledIntervalMs: opts.stalledInterval } : {}) });
      logger.info({ queue: opts.queue }, 'worker started');
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping: no new jobs, finishing the current ones');
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      // close() waits for running jobs; a job cut off by a kill is recovered as stalled by another worker.
      await worker.close();
      await engine.close();
      await stateRedis.quit();
      await logger.flush();
    });
}
