import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRunTracker, fit, renderLive, type Terminal } from '../src/cli/progress.js';
import type { SettledArtifact } from '../src/model/progress.js';
import { CLI } from './support/cli.js';
import { buildManifest, pushImage, randomBlob, type BuiltManifest } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

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
          { name: 'docker://registry.example:5000/a/very/long/repository/name/that/goes/on/and/on:1.0', planned: 150 * MiB, moved: 40 * MiB, skipped: 0 },
          { name: 'docker://r/b:2', planned: 50 * MiB, moved: 10 * MiB, skipped: 10 * MiB },
        ],
      },
      60,
    );
    expect(lines[0]).toMatch(/^25% /);
    expect(lines[0]).toContain('50.0 MiB of 200.0 MiB');
    expect(lines[0]).toContain('10.0 MiB/s');
    expect(lines[0]).toContain('ETA 15s');
    expect(renderLive({ done: 0, failed: 0, total: 1, moved: MiB, toMove: 4 * MiB, speed: undefined, inFlight: [] }, 100)[0]).toBe(`[${'█'.repeat(5)}${'░'.repeat(15)}] 25%  1.0 MiB of 4.0 MiB  0/1 done`);
    expect(lines[1]).toContain('…');
    expect(lines[1]).toMatch(/on:1\.0 {2}40\.0 MiB of 150\.0 MiB$/);
    expect(lines[2]).toBe('  docker://r/b:2  10.0 MiB of 40.0 MiB');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(59);
    expect(fit('abcdef', 4)).toBe('…def');
    // HEAD requests only: no bytes, no speed to speak of.
    expect(renderLive({ done: 0, failed: 0, total: 2, moved: 0, toMove: 0, speed: 0, inFlight: [] }, 80)).toEqual(['0/2 done']);
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
      expect(plainLines(screen).some((l) => l.includes('6.0 MiB of 13.0 MiB') && l.includes('2.0 MiB/s') && l.includes('ETA 4s'))).toBe(true);
      // An upload that starts over takes its bytes back.
      b.moved(-MiB);
      const item: SettledArtifact = { kind: 'image', source: 'docker://r/b:1', target: 'docker://m/b', status: 'failed', bytes: 0, durationMs: 1, warnings: [], error: { code: 'E_UNREACHABLE', message: 'cannot reach r\u001b[31m' } };
      b.done(item);
      // b's bytes that never moved leave the total.
      expect(tracker.snapshot()).toMatchObject({ done: 1, failed: 1, moved: 5 * MiB, toMove: 12 * MiB });
      expect(screen).toContain('failed    docker://r/b:1 -> docker://m/b [E_UNREACHABLE] cannot reach r?[31m\n');
      // The report's item for b was shown; a plan failure was not, and is shown at the end.
      const planFailure: SettledArtifact = { ...item, source: 'config images[3]', target: '', error: { code: 'E_NOT_FOUND', message: 'no tags' } };
      screen = '';
      tracker.showRest([{ ...item }, planFailure], false);
      expect(screen).toContain('failed    config images[3] [E_NOT_FOUND] no tags');
      expect(screen).not.toContain('docker://r/b:1 ->');
      const summary = tracker.interrupted('SIGINT', 2);
      expect(summary[0]).toBe('airlock: interrupted (SIGINT): 1 of 3 artifacts done (0 copied, 0 unchanged, 0 planned, 1 failed), 2 not done');
      expect(summary).toContain('  in flight    docker://r/a:1 (3.0 MiB of 10.0 MiB moved)');
      expect(summary).toContain('  not started  docker://r/c:1');
      expect(summary.at(-1)).toContain('removed 2 partly written files');
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
    expect(createRunTracker().interrupted('SIGINT', 0)).toEqual(['airlock: interrupted (SIGINT) while planning, before any artifact started']);
  });

  it('draws nothing without a terminal, and still knows what was done', () => {
    const tracker = createRunTracker();
    tracker.queued(['x', 'y']);
    tracker.start('x').done({ kind: 'image', source: 'x', target: 't', status: 'copied', bytes: 1, durationMs: 1, warnings: [] });
    const summary = tracker.interrupted('SIGTERM', 0);
    expect(summary).toContain('  copied       x');
    expect(summary).toContain('  not started  y');
    tracker.stop();
  });
});

let upstream: TestRegistry;
let proxy: TestProxy;
let work: string;
let image: BuiltManifest;
const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(async () => {
  upstream = await startRegistry();
  proxy = await startProxy(upstream.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-progress-'));
  image = buildManifest({ layers: [randomBlob(6 * MiB), randomBlob(3 * MiB)] });
  await pushImage(upstream.url, 'slow/app', '1', image);
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Blob downloads through the proxy at `bytesPerSecond`: a copy long enough to watch. */
function throttle(bytesPerSecond: number): void {
  proxy.rules.length = 0;
  proxy.rules.push({ match: (method, p) => method === 'GET' && p.includes('/blobs/'), action: { type: 'throttle', bytesPerSecond } });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), 100 columns wide, as an operator's
 * shell would; `stdoutFile` sends stdout to a file instead, so only stderr is the terminal.
 */
function onTerminal(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; stdoutFile?: string }): Promise<{ code: number; screen: string }> {
  const command = `stty cols 100 rows 40; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}${options.stdoutFile ? ` > ${quote(options.stdoutFile)}` : ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: options.cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out on the terminal: ${screen}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe.skipIf(!hasScript)('the progress display on a terminal', () => {
  it('shows bytes of the total, speed, ETA and the image in flight, then its line as it finishes; stdout keeps the report', async () => {
    throttle(3 * MiB);
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const out = path.join(cwd, 'report.txt');
    const source = `docker://${proxy.host}/slow/app:1`;
    const r = await onTerminal(['image', 'copy', source, 'oci:./store:1'], { cwd, env: { XDG_CACHE_HOME: path.join(cwd, 'cache') }, stdoutFile: out });
    expect(r.code, r.screen).toBe(0);
    const lines = plainLines(r.screen);
    // The bar over the bytes the manifest announced before any blob moved.
    expect(lines.some((l) => /\d+%/.test(l) && /MiB of 9\.0 MiB/.test(l)), r.screen).toBe(true);
    expect(lines.some((l) => /[\d.]+ (KiB|MiB)\/s/.test(l) && /ETA \d+s/.test(l)), r.screen).toBe(true);
    expect(lines.some((l) => l.startsWith(`  ${source}  `) && / of 9\.0 MiB$/.test(l)), r.screen).toBe(true);
    expect(lines.filter((l) => l.startsWith(`copied    ${source} -> `))).toHaveLength(1);
    // The live lines fit the terminal's width (a wrapped line would break the redraw).
    for (const l of lines.filter((x) => /\d+\/\d+ done/.test(x) || x.startsWith('  '))) expect(l.length, l).toBeLessThan(100);
    const report = fs.readFileSync(out, 'utf8');
    expect(report).toMatch(/^copied {4}docker:\/\/.*slow\/app:1 -> .*9\.0 MiB, 3 blobs copied/m);
    expect(report).toMatch(/^1 image: 1 copied, 0 unchanged, 0 planned, 0 failed;/m);
    // Read back by skopeo, which checks every blob against its digest.
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${path.join(cwd, 'store')}:1`, `dir:${path.join(cwd, 'check')}`]);
    expect(fs.readFileSync(path.join(cwd, 'check', 'manifest.json')).equals(image.bytes)).toBe(true);
  });

  it('prints a failure once on a terminal at the default log level', async () => {
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const r = await onTerminal(['image', 'copy', `docker://${upstream.host}/slow/none:1`, 'oci:./store:1'], { cwd, env: { XDG_CACHE_HOME: path.join(cwd, 'cache') } });
    expect(r.code, r.screen).toBe(5);
    expect(r.screen.split('[E_NOT_FOUND]')).toHaveLength(2);
    expect(r.screen).not.toContain('"level"');
    expect(r.screen).not.toContain('airlock: [');
    expect(plainLines(r.screen).at(-1)).toMatch(/^1 image: 0 copied, 0 unchanged, 0 planned, 1 failed;/);
  });

  it('draws nothing with --json, and nothing when stderr is a pipe', async () => {
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const out = path.join(cwd, 'report.json');
    const env = { XDG_CACHE_HOME: path.join(cwd, 'cache') };
    const r = await onTerminal(['image', 'copy', `docker://${upstream.host}/slow/app:1`, 'oci:./store:1', '--json'], { cwd, env, stdoutFile: out });
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toBe('');
    expect((JSON.parse(fs.readFileSync(out, 'utf8')) as { summary: { copied: number } }).summary.copied).toBe(1);
    const piped = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'image', 'copy', `docker://${upstream.host}/slow/app:1`, 'oci:./piped:1'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolve({ code, stderr, stdout }));
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^copied {4}/m);
  });
});

describe('Ctrl-C during a copy', () => {
  it('prints what was done and what was not, and leaves no temporary file in the layout; the next run completes it', async () => {
    throttle(512 * 1024);
    const cwd = fs.mkdtempSync(path.join(work, 'sigint-'));
    const cache = path.join(cwd, 'cache');
    const store = path.join(cwd, 'store');
    const source = `docker://${proxy.host}/slow/app:1`;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: cache };
    const child = spawn(process.execPath, [CLI, 'image', 'copy', source, 'oci:./store:1'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupted with a layer half-written: its partial blob is there, with bytes in it.
    const isPartial = (f: string) => f.endsWith('.partial') && fs.statSync(f).size > 256 * 1024;
    for (let i = 0; i < 300; i++) {
      if (filesUnder(store).some(isPartial)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(filesUnder(store).some(isPartial)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stdout).toBe('');
    expect(stderr).toContain('airlock: interrupted (SIGINT): 0 of 1 artifact done');
    expect(stderr).toMatch(new RegExp(`^ {2}in flight {4}${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\([\\d.]+ (KiB|MiB) of 9\\.0 MiB moved\\)$`, 'm'));
    expect(stderr).toMatch(/removed \d+ partly written files?;/);
    const left = filesUnder(store);
    expect(left.filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
    // What stays is the partial blob under .airlock/partial, which the next run resumes (a Range request).
    expect(left.filter((f) => !f.includes(`${path.sep}.airlock${path.sep}partial${path.sep}`) && !f.includes(`${path.sep}blobs${path.sep}`) && !f.endsWith('oci-layout') && !f.endsWith('index.json'))).toEqual([]);
    // No tag points at what is missing.
    const index = path.join(store, 'index.json');
    if (fs.existsSync(index)) expect(fs.readFileSync(index, 'utf8')).not.toContain('"1"');

    proxy.rules.length = 0;
    const again = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'image', 'copy', source, 'oci:./store:1'], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', (code) => resolve({ code, stdout: out }));
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^copied /m);
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${store}:1`, `dir:${path.join(cwd, 'check')}`]);
    expect(fs.readFileSync(path.join(cwd, 'check', 'manifest.json')).equals(image.bytes)).toBe(true);
    // The mirror state went to the cache directory, not beside the layout in the working directory.
    expect(fs.readdirSync(cwd).sort()).toEqual(['cache', 'check', 'store']);
    expect(fs.existsSync(path.join(cache, 'airlock', 'mirror-state.json'))).toBe(true);
  });
});
