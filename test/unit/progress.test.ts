import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createRunTracker, fit, renderLive, type Terminal } from '../../src/cli/progress.js';
import type { SettledArtifact } from '../../src/model/progress.js';

const MiB = 1024 * 1024;
// Escape sequences and carriage returns out: what a reader of the terminal sees, line by line.
// The display's own escape sequence: back to the block's first line, then clear to the end.
// eslint-disable-next-line no-control-regex
const CLEAR_BLOCK = /^\r\x1b\[\d+A\x1b\[J$/;

const plainLines = (out: string) =>
  out
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n')
    .split(/[\r\n]+/)
    .filter((l) => l.trim() !== '');

describe('the progress display (units)', () => {
  it('draws bytes of total, percentage, speed, ETA and the artifacts in flight, within the width', () => {
    const lines = renderLive(
      {
        done: 1,
        failed: 1,
        total: 4,
        moved: 50 * MiB,
        toMove: 200 * MiB,
        speed: 10 * MiB,
        inFlight: [
          {
            name: 'docker://registry.example:5000/a/very/long/repository/name/that/goes/on/and/on:1.0',
            planned: 150 * MiB,
            moved: 40 * MiB,
            skipped: 0,
          },
          { name: 'docker://r/b:2', planned: 50 * MiB, moved: 10 * MiB, skipped: 10 * MiB },
        ],
      },
      60,
    );
    expect(lines[0]).toMatch(/^25% /);
    expect(lines[0]).toContain('50.0 MiB of 200.0 MiB');
    expect(lines[0]).toContain('10.0 MiB/s');
    expect(lines[0]).toContain('ETA 15s');
    expect(
      renderLive({ done: 0, failed: 0, total: 1, moved: MiB, toMove: 4 * MiB, speed: undefined, inFlight: [] }, 100)[0],
    ).toBe(`[${'█'.repeat(5)}${'░'.repeat(15)}] 25%  1.0 MiB of 4.0 MiB  0/1 done`);
    expect(lines[1]).toContain('…');
    expect(lines[1]).toMatch(/on:1\.0 {2}40\.0 MiB of 150\.0 MiB$/);
    expect(lines[2]).toBe('  docker://r/b:2  10.0 MiB of 40.0 MiB');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(59);
    expect(fit('abcdef', 4)).toBe('…def');
    // HEAD requests only: no bytes, no speed to speak of.
    expect(renderLive({ done: 0, failed: 0, total: 2, moved: 0, toMove: 0, speed: 0, inFlight: [] }, 80)).toEqual([
      '0/2 done',
    ]);
  });

  it('keeps count of bytes planned, moved and skipped, prints each artifact as it settles, and says what was not done', () => {
    vi.useFakeTimers();
    try {
      let screen = '';
      const terminal: Terminal = { write: (t) => void (screen += t), columns: () => 100 };
      const tracker = createRunTracker({ terminal, redrawMs: 1000 });
      tracker.queued(['docker://r/a:1', 'docker://r/b:1', 'docker://r/c:1']);
      const a = tracker.start('docker://r/a:1');
      const b = tracker.start('docker://r/b:1');
      a.planned(10 * MiB);
      b.planned(6 * MiB);
      // b shares a 2 MiB layer with a copy elsewhere, and the target has another 1 MiB.
      b.skipped(3 * MiB);
      for (let s = 0; s < 3; s++) {
        a.moved(MiB);
        b.moved(MiB);
        vi.advanceTimersByTime(1000);
      }
      const mid = tracker.snapshot();
      expect(mid).toMatchObject({ done: 0, total: 3, moved: 6 * MiB, toMove: 13 * MiB });
      expect(mid.speed).toBe(2 * MiB);
      expect(
        plainLines(screen).some(
          (l) => l.includes('6.0 MiB of 13.0 MiB') && l.includes('2.0 MiB/s') && l.includes('ETA 4s'),
        ),
      ).toBe(true);
      // An upload that starts over takes its bytes back.
      b.moved(-MiB);
      const item: SettledArtifact = {
        kind: 'image',
        source: 'docker://r/b:1',
        target: 'docker://m/b',
        status: 'failed',
        bytes: 0,
        durationMs: 1,
        warnings: [],
        error: { code: 'E_UNREACHABLE', message: 'cannot reach r\u001b[31m' },
      };
      b.done(item);
      // b's bytes that never moved leave the total.
      expect(tracker.snapshot()).toMatchObject({ done: 1, failed: 1, moved: 5 * MiB, toMove: 12 * MiB });
      expect(screen).toContain('failed    docker://r/b:1 -> docker://m/b [E_UNREACHABLE] cannot reach r?[31m\n');
      // The report's item for b was shown; a plan failure was not, and is shown at the end.
      const planFailure: SettledArtifact = {
        ...item,
        source: 'config images[3]',
        target: '',
        error: { code: 'E_NOT_FOUND', message: 'no tags' },
      };
      screen = '';
      tracker.showRest([{ ...item }, planFailure], false);
      expect(screen).toContain('failed    config images[3] [E_NOT_FOUND] no tags');
      expect(screen).not.toContain('docker://r/b:1 ->');
      const summary = tracker.interrupted('SIGINT', { removed: 2, kept: [] });
      expect(summary[0]).toBe(
        'airlock: interrupted (SIGINT): 1 of 3 artifacts done (0 copied, 0 unchanged, 0 planned, 1 failed), 2 not done',
      );
      expect(summary).toContain('  in flight    docker://r/a:1 (3.0 MiB of 10.0 MiB moved)');
      expect(summary).toContain('  not started  docker://r/c:1');
      expect(summary.at(-1)).toBe(
        'airlock: removed 2 temporary files (unfinished writes, locks); nothing half-written is left (tags are written last); the next run copies what is missing',
      );
      // Partial blobs of a layout stay as resume points: the summary says where, not that nothing is left.
      const kept = ['a', 'b'].map((d) =>
        path.join(process.cwd(), 'store', '.airlock', 'partial', `sha256-${d}.partial`),
      );
      expect(tracker.interrupted('SIGINT', { removed: 2, kept }).at(-1)).toBe(
        `airlock: removed 2 temporary files (unfinished writes, locks); kept 2 partial blobs under ${path.join('store', '.airlock', 'partial')} as resume points for the next run; tags are written last, so nothing points at missing content`,
      );
      screen = '';
      tracker.stop();
      expect(screen).toMatch(CLEAR_BLOCK);
      tracker.stop();
      vi.advanceTimersByTime(5000);
      expect(screen).toMatch(CLEAR_BLOCK);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says when a run was interrupted before anything started', () => {
    expect(createRunTracker().interrupted('SIGINT', { removed: 0, kept: [] })).toEqual([
      'airlock: interrupted (SIGINT) while planning, before any artifact started',
    ]);
  });

  it('draws nothing without a terminal, and still knows what was done', () => {
    const tracker = createRunTracker();
    tracker.queued(['x', 'y']);
    tracker
      .start('x')
      .done({ kind: 'image', source: 'x', target: 't', status: 'copied', bytes: 1, durationMs: 1, warnings: [] });
    const summary = tracker.interrupted('SIGTERM', { removed: 0, kept: [] });
    expect(summary).toContain('  copied       x');
    expect(summary).toContain('  not started  y');
    tracker.stop();
  });
});
