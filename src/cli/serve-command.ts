import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { redisUrlOf, resolveSecret } from '../config/secret-ref.js';
import { AirlockError } from '../errors.js';
import { createPinoLogger } from '../log.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from '../queue/names.js';
import { connectRedis } from '../state/redis-connect.js';

/** `--port`: a whole number from 0 (any free port) to 65535, checked before anything starts. */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new AirlockError('E_USAGE', `--port "${value}" is not a port number (0-65535)`);
  return port;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('HTTP server: webhooks (GitHub, registries, generic) that queue runs, /healthz, /metrics and Bull Board at /admin/queues')
    .requiredOption('-c, --config <file>', 'config file (redis.url, serve:)')
    .option('--host <host>', 'listen address', '0.0.0.0')
    .option('--port <port>', 'listen port', parsePort, 8080)
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: { config: string; host: string; port: number; queue: string; logLevel: string }) => {
      const config = loadConfig(opts.config);
      const url = redisUrlOf(config, opts.config);
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
      const { openCommandQueue } = await import('../queue/open-queue.js');
      const { buildServer } = await import('../server/http-server.js');
      const { queueTriggers } = await import('../server/queue-triggers.js');
      const queue = openCommandQueue(opts.queue, url, prefix);
      const redis = await connectRedis(url, { maxRetriesPerRequest: 1 });
      redis.on('error', (e: Error) => logger.warn({ err: e.message }, 'redis connection error'));
      const app = buildServer(config, secrets, queueTriggers(queue, redis, prefix), logger, { board: { name: opts.queue, url, prefix } });
      try {
        await app.listen({ host: opts.host, port: opts.port });
      } catch (e) {
        // Everything the server opened (the board's own queue connection too) is closed, so the
        // process exits with the error instead of staying up without a socket.
        await app.close().catch(() => undefined);
        await queue.close().catch(() => undefined);
        redis.disconnect();
        // Should a library still hold a handle, the failed server ends anyway (the timer itself holds nothing).
        setTimeout(() => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 2), 5000).unref();
        throw new AirlockError('E_USAGE', `cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
      }
      logger.info({ port: opts.port }, 'serving');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await app.close();
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
      logger.flush();
    });
}
