import { Command } from 'commander';
import { cacheDirsFor } from '../config/cache-dirs.js';
import { wholeNumber } from './number-options.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, stopSignal, stopWithin } from './stop-signal.js';
import { loadRunConfig } from '../plan/config-check.js';
import { redisUrlOf } from '../config/secret-ref.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../model/job-names.js';
import { createEngine } from '../app/engine.js';
import { createLogger } from '../core/log.js';
import { redisMirrorState } from '../state/mirror-state.js';
import { connectRedis, redisPolicyOf, serviceRedisOptions, type RedisPolicy } from '../state/redis-connect.js';
import type { RedisHealth } from '../state/redis-health.js';
import type { AirlockConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Redis } from 'ioredis';

export function workerCommand(): Command {
  return new Command('worker')
    .description('run job processors from the Redis queue (BullMQ) until SIGTERM/SIGINT; rides out Redis outages')
    .requiredOption('-c, --config <file>', 'config file (needs redis.url)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--concurrency <n>', 'jobs at once (default: concurrency.images)', wholeNumber('--concurrency'))
    .option(
      '--lock-duration <ms>',
      "job lock lifetime; a dead worker's jobs are taken over after it (default 30000)",
      wholeNumber('--lock-duration'),
    )
    .option(
      '--stalled-interval <ms>',
      'how often stalled jobs are looked for (default 30000)',
      wholeNumber('--stalled-interval'),
    )
    .option(
      '--shutdown-grace <ms>',
      'after SIGTERM/SIGINT, how long running jobs may take to finish before the worker exits 0',
      wholeNumber('--shutdown-grace', 0),
      DEFAULT_SHUTDOWN_GRACE_MS,
    )
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: WorkerOptions) => {
      // From the start: a worker that cannot reach Redis still answers a stop at once.
      const signal = stopSignal();
      const config = await loadRunConfig(opts.config);
      const redisUrl = redisUrlOf(config, opts.config);
      const policy = redisPolicyOf(config);
      const logger = createLogger({ level: opts.logLevel });
      const { watchRedis } = await import('../state/redis-health.js');
      // Says once that Redis went away and once that it is back; the other connections stay quiet.
      const health = await watchRedis(redisUrl, { policy, logger });
      // Shared by the mirror state, locks, budgets, metrics and the queue handles: waits for Redis
      // while it is away instead of failing the jobs that need it.
      const stateRedis = await connectRedis(redisUrl, {
        ...serviceRedisOptions(policy),
        connectionName: 'airlock-worker',
      });
      try {
        await runWorker(opts, { signal, config, redisUrl, policy, logger, health, stateRedis });
      } catch (e) {
        // Whatever failed on the way up (a registry secret that is not set), the connections
        // opened for it must not keep a worker that has said why it stops running.
        health.close();
        stateRedis.disconnect();
        await logger.flush();
        throw e;
      }
    });
}

interface WorkerOptions {
  config: string;
  queue: string;
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  shutdownGrace: number;
  logLevel: string;
}

interface WorkerSetup {
  signal: Promise<NodeJS.Signals>;
  config: AirlockConfig;
  redisUrl: string;
  policy: RedisPolicy;
  logger: Logger;
  health: RedisHealth;
  stateRedis: Redis;
}

async function runWorker(opts: WorkerOptions, setup: WorkerSetup): Promise<void> {
  const { signal, config, redisUrl, policy, logger, health, stateRedis } = setup;
  const prefix = config.redis?.prefix ?? DEFAULT_PREFIX;
  const { redisArtifactLock } = await import('../queue/redis/artifact-lock.js');
  const lock = redisArtifactLock(stateRedis, prefix, {
    onError: (e) => logger.warn({ err: (e as Error).message }, 'artifact lock'),
  });
  const { redisUpstreamBudget } = await import('../queue/redis/rate-budget.js');
  const { redisRegistrySlots } = await import('../queue/redis/registry-slots.js');
  // Shared by every worker on this Redis: request budgets and 429 pauses per upstream, registry concurrency.
  const budget = redisUpstreamBudget(stateRedis, prefix, config, {
    onError: (e) => logger.warn({ err: (e as Error).message }, 'upstream budget'),
  });
  const slots = redisRegistrySlots(stateRedis, prefix, {
    onError: (e) => logger.warn({ err: (e as Error).message }, 'registry slots'),
  });
  const engine = createEngine({
    config,
    logger,
    state: redisMirrorState(stateRedis, prefix),
    lock,
    budget,
    slots,
  });
  const { startQueueWorker } = await import('../../workers/worker.js');
  const { redisMetricsSink } = await import('../queue/worker-metrics.js');
  const { configDigest, keepPublishingWorkerConfig } = await import('../queue/worker-config.js');
  const metrics = redisMetricsSink(stateRedis, prefix, opts.queue, (e) =>
    logger.warn({ err: (e as Error).message }, 'metrics not recorded'),
  );
  const inFlight = { count: 0 };
  const worker = startQueueWorker({
    config,
    engine,
    logger,
    redisUrl,
    queue: opts.queue,
    cacheDirs: cacheDirsFor(config),
    metrics,
    policy,
    connection: stateRedis,
    inFlight,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.lockDuration ? { lockDurationMs: opts.lockDuration } : {}),
    ...(opts.stalledInterval ? { stalledIntervalMs: opts.stalledInterval } : {}),
  });
  // `sync --queue --config F` compares F with this before it queues a run.
  const stopPublishing = keepPublishingWorkerConfig(stateRedis, prefix, opts.queue, configDigest(config));
  logger.info({ queue: opts.queue }, 'worker started');
  const received = await signal;
  logger.info({ signal: received, graceMs: opts.shutdownGrace }, 'stopping: no new jobs, finishing the current ones');
  stopPublishing();
  // close() stops fetching at once and then waits for running jobs; a job cut off by the exit
  // is recovered as stalled by another worker.
  const graceful = (async () => {
    await worker.close();
    await engine.close();
    health.close();
    stateRedis.disconnect();
  })();
  await stopWithin(opts.shutdownGrace, logger, graceful, () => !health.up && inFlight.count === 0);
}
