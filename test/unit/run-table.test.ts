import { describe, expect, it } from 'vitest';
import { formatDuration, formatRunDetail, formatRunTable, formatWhen, runTrigger } from '../../src/cli/run-table.js';
import type { RunSummary } from '../../src/queue/runs.js';

const run = (over: Partial<RunSummary>): RunSummary => ({
  id: '1',
  state: 'completed',
  reason: 'schedule nightly',
  scope: 'all',
  enqueuedAt: '2026-12-04T15:57:04.894Z',
  ...over,
});

describe('runs list and runs show (formatting)', () => {
  it('names what started a run; a retry once, by the run it retries', () => {
    expect(runTrigger(run({ reason: 'retry of run 26', retryOf: '26' }))).toBe('retry of 26');
    expect(runTrigger(run({ reason: 'schedule nightly' }))).toBe('schedule nightly');
    expect(runTrigger(run({ reason: 'airlock sync --queue' }))).toBe('sync --queue');
    // A generic webhook's reason is the sender's text: no escape sequence reaches the terminal.
    expect(runTrigger(run({ reason: 'deploy \u001b[2Jnow' }))).toBe('deploy ?[2Jnow');
  });

  it('is a table with a header, one row per run in the order given', () => {
    const lines = formatRunTable([
      run({
        id: '27',
        reason: 'retry of run 26',
        retryOf: '26',
        scope: 'images',
        // Waited 40 s for a worker: not part of the duration, and not the start shown.
        startedAt: '2026-12-04T15:57:44.894Z',
        finishedAt: '2026-12-04T15:57:47.290Z',
        durationMs: 2396,
        summary: { copied: 2, unchanged: 0, failed: 0 },
      }),
      run({ id: '26', reason: 'airlock sync --queue', scope: 'images', state: 'waiting' }),
    ]);
    expect(lines[0]).toMatch(/^RUN +TRIGGER +SCOPE +STATE +STARTED +DURATION +COPIED\/UNCHANGED\/FAILED$/);
    const cols = (l: string) => l.split(/ {2,}/);
    expect(cols(lines[1]!)).toEqual([
      '27',
      'retry of 26',
      'images',
      'completed',
      formatWhen('2026-12-04T15:57:44.894Z'),
      '2.4 s',
      '2/0/0',
    ]);
    expect(cols(lines[2]!)).toEqual(['26', 'sync --queue', 'images', 'waiting', '-', '-', '-']);
    // Columns line up under the header.
    expect(lines[1]!.indexOf('retry of 26')).toBe(lines[0]!.indexOf('TRIGGER'));
    expect(lines[2]!.indexOf('waiting')).toBe(lines[0]!.indexOf('STATE'));
    expect(formatWhen('2026-12-04T15:57:04.894Z')).toMatch(/^2026-12-0[45] \d\d:\d\d:04$/);
    expect(formatDuration(185_000)).toBe('3m05s');
  });

  it('shows one run field by field, with every failure and its cause', () => {
    const lines = formatRunDetail(
      run({
        id: '27',
        reason: 'retry of run 26',
        retryOf: '26',
        startedAt: '2026-12-04T15:57:04.894Z',
        durationMs: 2396,
        finishedAt: '2026-12-04T15:57:07.290Z',
        summary: { copied: 1, unchanged: 0, failed: 1, bytes: 2048 },
        failures: [
          { kind: 'image', source: 'docker://r/a:1', error: { code: 'E_NOT_FOUND', message: 'manifest unknown' } },
        ],
      }),
    );
    expect(lines).toContain('trigger   retry of 26');
    expect(lines).toContain(`queued    ${formatWhen('2026-12-04T15:57:04.894Z')}`);
    expect(lines).toContain(`started   ${formatWhen('2026-12-04T15:57:04.894Z')}`);
    expect(lines).toContain(`finished  ${formatWhen('2026-12-04T15:57:07.290Z')}`);
    expect(lines).toContain('duration  2.4 s');
    expect(formatRunDetail(run({ state: 'waiting' }))).toContain('started   -');
    expect(lines).toContain('artifacts 1 copied, 0 unchanged, 1 failed, 2.0 KiB');
    expect(lines).toContain('  failed image docker://r/a:1: [E_NOT_FOUND] manifest unknown');
    expect(lines.join('\n')).not.toContain('retries run');
  });
});
