import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Runs the built dist/ in a child process, so it stays out of the unit project.
describe('logger', () => {
  it('writes plain JSON lines to stderr when pino cannot start, instead of keeping them', () => {
    const log = path.resolve(import.meta.dirname, '../dist/src/core/log.js');
    // A destination pino cannot even inspect makes starting pino fail in the child process.
    const script = `
      const { createLogger } = await import(${JSON.stringify(log)});
      const destination = new Proxy({}, { get() { throw new Error('no destination'); } });
      const logger = createLogger({ level: 'info', destination });
      logger.info({ n: 1 }, 'while loading token=abcdef123');
      await logger.flush();
      logger.child({ jobId: '7' }).warn('after the failure');
      logger.debug('below the level');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^airlock: cannot start the logger: .*no destination/);
    const got = lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toHaveLength(2);
    expect(got[0]).toMatchObject({ level: 30, name: 'airlock', n: 1, msg: 'while loading token=***' });
    expect(got[1]).toMatchObject({ level: 40, jobId: '7', msg: 'after the failure' });
  });
});
