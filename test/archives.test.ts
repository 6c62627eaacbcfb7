import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChartArchive } from '../src/charts/chart-archive.js';
import { readTarGz, tarBudget, TarError, writeTar } from '../src/charts/tar.js';
import { airlock } from './support/cli.js';
import { buildChart, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';

/**
 * Archives on tar-stream: what GNU tar writes (long names, PAX records, links) reads as GNU tar
 * reads it back; what airlock writes GNU tar lists with fixed owners and times; and an archive
 * that expands too far or holds too many entries is refused once it passes the cap.
 */

let work: string;
let repo: ChartRepoServer;
const MiB = 1024 * 1024;
// 101 MiB of zeros: about 100 KiB gzipped, past Helm's 100 MiB once expanded.
const bomb = buildChart({ name: 'bomb', version: '1.0.0', files: { 'files/zeros.bin': Buffer.alloc(101 * MiB) } });

/** A .tgz made by GNU tar from a directory tree built by `make`, with extra tar flags. */
function gnuTar(make: (dir: string) => void, flags: string[] = []): Buffer {
  const dir = fs.mkdtempSync(path.join(work, 'src-'));
  make(dir);
  const out = path.join(work, `${path.basename(dir)}.tgz`);
  execFileSync('tar', ['-czf', out, ...flags, '-C', dir, '.']);
  return fs.readFileSync(out);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-archives-'));
  repo = await startChartRepo([{ name: 'bomb', version: '1.0.0', tgz: bomb }]);
});

afterAll(async () => {
  await repo?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('reading', () => {
  const long = `${'deep/'.repeat(30)}${'n'.repeat(120)}.yaml`;

  it.each([
    ['gnu', ['--format=gnu']],
    ['pax', ['--format=pax']],
  ])(
    'reads GNU tar %s archives: long and UTF-8 names, regular files only (links and directories carry nothing)',
    async (_format, flags) => {
      const tgz = gnuTar((dir) => {
        fs.mkdirSync(path.join(dir, 'chart', path.dirname(long)), { recursive: true });
        fs.writeFileSync(path.join(dir, 'chart', long), 'long\n');
        fs.writeFileSync(path.join(dir, 'chart', 'grüße-値.yaml'), 'utf8\n');
        fs.writeFileSync(path.join(dir, 'chart', 'Chart.yaml'), 'name: chart\nversion: 1.0.0\n');
        fs.symlinkSync('Chart.yaml', path.join(dir, 'chart', 'symlink.yaml'));
        fs.linkSync(path.join(dir, 'chart', 'Chart.yaml'), path.join(dir, 'chart', 'hardlink.yaml'));
      }, flags);
      const files = await readTarGz(tgz);
      const byPath = new Map(files.map((f) => [f.path.replace(/^\.\//, ''), f.data.toString()]));
      expect(byPath.get(`chart/${long}`)).toBe('long\n');
      expect(byPath.get('chart/grüße-値.yaml')).toBe('utf8\n');
      // GNU tar stores the second name of a hard link as a link entry, and a symlink as one: no data of their own.
      const linked = ['chart/Chart.yaml', 'chart/hardlink.yaml'].filter((p) => byPath.has(p));
      expect(linked).toHaveLength(1);
      expect(byPath.get(linked[0] ?? '')).toBe('name: chart\nversion: 1.0.0\n');
      expect(byPath.has('chart/symlink.yaml')).toBe(false);
      expect([...byPath.keys()].every((p) => !p.endsWith('/'))).toBe(true);
    },
  );

  it('keeps only the files asked for, but reads every entry against the budget', async () => {
    const tgz = gnuTar((dir) => {
      for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `f${i}.txt`), `${i}\n`);
    });
    const kept = await readTarGz(tgz, { keep: (p) => p.endsWith('f3.txt') });
    expect(kept.map((f) => [f.path, f.data.toString()])).toEqual([['./f3.txt', '3\n']]);
    // ./ plus five files: six entries.
    await expect(readTarGz(tgz, { keep: () => false, budget: tarBudget({ maxEntries: 5 }) })).rejects.toMatchObject({
      problem: 'too-many',
      message: 'has more than 5 entries',
    });
    expect(await readTarGz(tgz, { budget: tarBudget({ maxEntries: 6 }) })).toHaveLength(5);
  });

  it('refuses what is not gzip, not tar, or expands past the cap, naming the cause', async () => {
    await expect(readTarGz(Buffer.from('plain text'))).rejects.toMatchObject({
      problem: 'gzip',
      message: expect.stringMatching(/^not gzip data \(/),
    });
    await expect(readTarGz(gzipSync(Buffer.alloc(1024, 'x')))).rejects.toMatchObject({ problem: 'tar' });
    const tgz = gnuTar((dir) => fs.writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(3 * MiB)));
    const err = (await readTarGz(tgz, { budget: tarBudget({ maxBytes: 2 * MiB }) }).catch(
      (e: unknown) => e,
    )) as TarError;
    expect(err).toBeInstanceOf(TarError);
    expect(err).toMatchObject({ problem: 'too-large', message: 'expands past 2 MiB' });
  });

  it('a tar bomb chart says it expands past 100 MiB (issue 16 item 14), from a file and from a repository', async () => {
    await expect(openChartArchive(bomb, 'bomb.tgz')).rejects.toMatchObject({
      code: 'E_TOO_LARGE',
      message: 'chart archive expands past 100 MiB',
    });
    const file = path.join(work, 'bomb.tgz');
    fs.writeFileSync(file, bomb);
    const images = await airlock(['chart', 'images', file]);
    expect(images.code).toBe(7);
    expect(images.stderr.trim()).toBe(`airlock: [E_TOO_LARGE] ${file}: chart archive expands past 100 MiB`);
    const dir = path.join(work, 'bomb-target');
    const copy = await airlock(['chart', 'copy', repo.url, 'bomb@1.0.0', dir]);
    expect(copy.code).toBe(7);
    expect(copy.stderr.trim()).toBe(
      `airlock: [E_TOO_LARGE] ${repo.url} bomb@1.0.0: chart archive expands past 100 MiB`,
    );
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });

  it('packed subcharts share their parent chart budget: nesting cannot multiply the cap', async () => {
    const sub = buildChart({ name: 'sub', version: '1.0.0', files: { 'files/zeros.bin': Buffer.alloc(60 * MiB) } });
    const parent = buildChart({
      name: 'parent',
      version: '1.0.0',
      files: { 'charts/sub-1.0.0.tgz': sub, 'charts/sub2-1.0.0.tgz': sub },
    });
    // Each archive alone is within 100 MiB; the chart with both subcharts is not.
    expect((await openChartArchive(sub, 'sub')).metadata.name).toBe('sub');
    await expect(openChartArchive(parent, 'parent.tgz')).rejects.toMatchObject({
      code: 'E_TOO_LARGE',
      artifact: 'parent.tgz',
      message: 'chart archive expands past 100 MiB',
    });
  });
});

describe('writing', () => {
  it('writes the same bytes for the same entries, with fixed owner, mode and time, as GNU tar lists them', async () => {
    const long = `top/${'x'.repeat(150)}/${'y'.repeat(120)}.yaml`;
    const entries = [
      { path: 'top/Chart.yaml', data: Buffer.from('name: top\n') },
      { path: long, data: Buffer.from('long\n') },
      { path: 'top/ünïcode.yaml', data: Buffer.from('u\n') },
    ];
    const a = await writeTar(entries);
    const b = await writeTar(entries.map((e) => ({ ...e, data: Buffer.from(e.data) })));
    expect(sha256hex(a)).toBe(sha256hex(b));
    const file = path.join(work, 'written.tar');
    fs.writeFileSync(file, a);
    const listing = execFileSync('tar', ['-tvf', file, '--numeric-owner'], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' },
    })
      .trim()
      .split('\n');
    expect(listing).toHaveLength(3);
    for (const line of listing) expect(line).toMatch(/^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00 /);
    expect(
      execFileSync('tar', ['-tf', file], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } })
        .trim()
        .split('\n'),
    ).toEqual(entries.map((e) => e.path));
    const out = fs.mkdtempSync(path.join(work, 'x-'));
    execFileSync('tar', ['-xf', file, '-C', out]);
    expect(fs.readFileSync(path.join(out, long), 'utf8')).toBe('long\n');
    expect(fs.readFileSync(path.join(out, 'top/ünïcode.yaml'), 'utf8')).toBe('u\n');
    // And it reads back through the reader.
    expect((await readTarGz(gzipSync(a))).map((e) => e.path)).toEqual(entries.map((e) => e.path));
  });
});
