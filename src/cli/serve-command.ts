import { Command } from 'commander';
import { loadRunConfig } from '../plan/config-check.js';
import { redisUrlOf, resolveSecret } from '../config/secret-ref.js';
import { AirlockError } from '../core/errors.js';
import { createPinoLogger } from '../core/log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../model/job-names.js';
import { isRedisConnectionError, redisPolicyOf } from '../state/redis-connect.js';
import { wholeNumber } from './number-options.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, stopSignal, stopWithin } from './stop-signal.js';

/** `--port`: a whole number from 0 (any free port) to 65535, checked before anything starts. */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(port >= 0 && port <= 65535))
    throw new AirlockError('E_USAGE', `--port "${value}" is not a port number (0-65535)`);
  return port;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'HTTP server: webhooks (GitHub, registries, generic) that queue runs, /healthz, /metrics and Bull Board at /admin/queues',
    )
    .requiredOption('-c, --config <file>', 'config file (redis.url, serve:)')
    .option('--host <host>', 'listen address', '0.0.0.0')
    .option('--port <port>', 'listen port', parsePort, 8080)
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option(
      '--shutdown-grace <ms>',
      'after SIGTERM/SIGINT, how long requests in flight may take before serve exits 0',
      wholeNumber('--shutdown-grace', 0),
      DEFAULT_SHUTDOWN_GRACE_MS,
    )
    .option('--log-level <level>', 'log level', 'info')
    .action(
      async (opts: {
        config: string;
        host: string;
        port: number;
        queue: string;
        shutdownGrace: number;
        logLevel: string;
      }) => {
        // From the start: serve answers a stop at once, also while Redis is away.
        const signal = stopSignal();
        const config = await loadRunConfig(opts.config);
        const url = redisUrlOf(config, opts.config);
        const policy = redisPolicyOf(config);
        const prefix = config.redis?.prefix ?? DEFAULT_PREFIX;
        const s = config.serve;
        const secrets = {
          ...(s?.github ? { github: resolveSecret(s.github.secret, 'serve.github.secret') } : {}),
          ...(s?.registry ? { registry: resolveSecret(s.registry.token, 'serve.registry.token') } : {}),
          ...(s?.generic ? { generic: resolveSecret(s.generic.token, 'serve.generic.token') } : {}),
          ...(s?.adminToken ? { admin: resolveSecret(s.adminToken, 'serve.adminToken') } : {}),
        };
        // Fastify logs through pino itself: this logger is pino from the start.
        const logger = await createPinoLogger({ level: opts.logLevel });
        const { openServiceQueue } = await import('../queue/open-queue.js');
        const { watchRedis } = await import('../state/redis-health.js');
        const { buildServer } = await import('../server/http-server.js');
        const { queueTriggers } = await import('../server/queue-triggers.js');
        // Says once that Redis went away and once that it is back; the queue's own reconnects stay quiet.
        const health = await watchRedis(url, { policy, logger });
        const quiet = (e: Error) =>
          isRedisConnectionError(e)
            ? logger.debug({ err: e.message }, 'redis connection')
            : logger.warn({ err: e.message }, 'redis error');
        const service = await openServiceQueue(opts.queue, url, prefix, policy, quiet);
        const triggers = queueTriggers(service.queue, service.redis, prefix, {
          available: () => health.up && service.ready,
          timeoutMs: policy.connectTimeoutMs,
        });
        const app = buildServer(config, secrets, triggers, logger, {
          board: { name: opts.queue, url, prefix, connection: service.redis },
        });
        const closeAll = async () => {
          await service.close();
          health.close();
        };
        try {
          await app.listen({ host: opts.host, port: opts.port });
        } catch (e) {
          // Everything the server opened (the board's own queue connection too) is closed, so the
          // process exits with the error instead of staying up without a socket.
          await app.close().catch(() => undefined);
          await closeAll().catch(() => undefined);
          // Should a library still hold a handle, the failed server ends anyway (the timer itself holds nothing).
          setTimeout(() => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 2), 5000).unref();
          throw new AirlockError('E_USAGE', `cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
        }
        logger.info({ port: opts.port }, 'serving');
        const received = await signal;
        logger.info({ signal: received }, 'stopping');
        const flush = () => new Promise<void>((resolve) => logger.flush(() => resolve()));
        await stopWithin(
          opts.shutdownGrace,
          { warn: (obj, msg) => logger.warn(obj, msg), flush },
          (async () => {
            await app.close();
            await closeAll();
          })(),
        );
      },
    );
}
