import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/cli/log-line.js';
import { createLogger } from '../../src/core/log.js';

/** What pino itself writes for these calls, line by line. */
async function pinoLines(write: (logger: ReturnType<typeof createLogger>) => void): Promise<string[]> {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => void lines.push(l) } });
  write(logger);
  await logger.flush();
  return lines;
}

describe('log lines on a terminal', () => {
  it("renders pino's lines as one line of text: level, message, then the fields, times with their unit", async () => {
    const lines = await pinoLines((logger) => {
      logger.warn(
        { url: 'https://ghcr.io', status: 503, attempt: 2, wait: 1500 },
        'registry asked to back off, retrying',
      );
      logger.child({ jobId: '7' }).error({ err: new Error('socket hang up') }, 'artifact lock');
      logger.debug('plain');
      logger.info({ waitMs: 250, nested: { a: 1 } }, 'with object');
    });
    expect(lines.map(formatLogLine)).toEqual([
      'airlock: warning: registry asked to back off, retrying (url=https://ghcr.io, status=503, attempt=2, wait=1.5s)',
      'airlock: error: artifact lock (jobId=7, err=socket hang up)',
      'airlock: debug: plain',
      'airlock: info: with object (waitMs=250ms, nested={"a":1})',
    ]);
  });

  it('escapes control characters from upstream text and passes a line that is not JSON through, escaped', () => {
    const line = `${JSON.stringify({ level: 40, time: 1, name: 'airlock', msg: 'bad \u001b[2J name' })}\n`;
    expect(formatLogLine(line)).toBe('airlock: warning: bad \\x1b[2J name');
    expect(formatLogLine('airlock: run 12 queued\n')).toBe('airlock: run 12 queued');
    expect(formatLogLine('[1,2]\n')).toBe('[1,2]');
    expect(formatLogLine(`${JSON.stringify({ level: 45, msg: '' })}\n`)).toBe('airlock: level 45: (no message)');
  });
});
