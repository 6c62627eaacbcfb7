import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger, createPinoLogger } from '../../src/core/log.js';
import { clearSecrets, redactValue, registerSecret } from '../../src/core/secrets.js';

describe('logger', () => {
  it('writes, once pino is up, every line that passed the level, in order, with child bindings and secrets redacted', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _e, cb) {
        lines.push(...String(chunk).trim().split('\n'));
        cb();
      },
    });
    registerSecret('s3cr3t-token-value');
    const logger = createLogger({ level: 'info', destination });
    logger.debug('below the level');
    logger.info({ n: 1 }, 'first');
    logger.child({ jobId: '42' }).warn('second with s3cr3t-token-value');
    logger.error('third');
    await logger.flush();
    const got = lines.map((l) => JSON.parse(l) as { msg: string; n?: number; jobId?: string; level: number });
    expect(got.map((l) => l.msg)).toEqual(['first', 'second with ***', 'third']);
    expect(got[0]).toMatchObject({ n: 1, level: 30 });
    expect(got[1]).toMatchObject({ jobId: '42', level: 40 });
    clearSecrets();
  });

  it('logs Fastify requests as method and redacted URL, responses as status, and copies only plain values', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _e, cb) {
        lines.push(...String(chunk).trim().split('\n'));
        cb();
      },
    });
    const app = Fastify({
      loggerInstance: (await createPinoLogger({ level: 'info', destination })) as FastifyBaseLogger,
    });
    app.get('/hook', async () => ({ ok: true }));
    try {
      expect((await app.inject({ method: 'GET', url: '/hook?token=abcdef123456&x=1' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
    const got = lines.map((l) => JSON.parse(l) as { msg: string; req?: unknown; res?: unknown });
    expect(got.find((l) => l.msg === 'incoming request')?.req).toEqual({ method: 'GET', url: '/hook?token=***&x=1' });
    expect(got.find((l) => l.msg === 'request completed')?.res).toEqual({ statusCode: 200 });
    expect(lines.join('\n')).not.toContain('abcdef123456');

    class Box {
      constructor(readonly password: string) {}
    }
    const box = new Box('hunter2-secret');
    const out = redactValue({
      box,
      list: [{ token: 'x' }],
      url: 'https://u:pw-123@h/',
      err: new Error('token=abc failed'),
    }) as Record<string, unknown>;
    expect(out.box).toBe(box);
    expect(out.list).toEqual([{ token: '***' }]);
    expect(out.url).toBe('https://u:***@h/');
    expect(out.err).toEqual({ type: 'Error', message: 'token=*** failed', code: undefined });
  });

  it('stays silent without loading anything, and names a bad level', async () => {
    const logger = createLogger({ level: 'silent' });
    logger.fatal('nothing');
    await logger.flush();
    expect(() => createLogger({ level: 'verbose' })).toThrow(/unknown log level "verbose"/);
  });
});
