import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partialPaths, PARTIAL_MAX_AGE_MS, TMP_MAX_AGE_MS } from '../src/oci/layout-blobs.js';
import { airlock, CLI } from './support/cli.js';
import { blob, buildManifest, MT, pushImage, randomBlob } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let proxy: TestProxy;
let work: string;

beforeAll(async () => {
  upstream = await startRegistry();
  proxy = await startProxy(upstream.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-resume-'));
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const hasSkopeo = (() => {
  try {
    execFileSync('skopeo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function until<T>(probe: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

/** Every file below `dir`, relative. */
function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

describe('copies into an oci: layout after a killed run', () => {
  it('resumes the partial blob a kill -9 left, verifies the whole, and leaves no temporaries', async () => {
    const big = randomBlob(3 * MiB);
    const m = buildManifest({ layers: [randomBlob(1000), big] });
    await pushImage(upstream.url, 'big/app', 'v1', m);
    const dir = path.join(work, 'killed');
    const { partial, lock } = partialPaths(dir, big.digest);

    // First run: the big layer trickles through the proxy; the process is killed while it streams.
    proxy.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
      action: { type: 'throttle', bytesPerSecond: 512 * 1024 },
    });
    const child = spawn(
      process.execPath,
      [CLI, 'image', 'copy', `docker://${proxy.host}/big/app:v1`, `oci:${dir}:v1`],
      { stdio: 'ignore', env: { PATH: process.env.PATH, HOME: process.env.HOME } },
    );
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      await until(() => ((fileSize(partial) ?? 0) >= 512 * 1024 ? true : undefined), 'a partial blob');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    proxy.rules.length = 0;
    const left = fileSize(partial) ?? 0;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(big.bytes.length);
    // What a killed run leaves: its partial, its lock naming a process that is gone, no blob.
    expect(fs.existsSync(lock)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'blobs', 'sha256', big.digest.slice(7)))).toBe(false);

    proxy.reset();
    const r = await airlock(['image', 'copy', `docker://${proxy.host}/big/app:v1`, `oci:${dir}:v1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Resumed: the second run fetched only what the partial lacked (a Range request, answered 206).
    const fetched = proxy.log.filter((e) => e.method === 'GET' && e.path.includes(`/blobs/${big.digest}`));
    expect(fetched.map((e) => e.status)).toEqual([206]);
    expect(fetched[0]!.responseBytes).toBe(big.bytes.length - left);
    // Verified over the whole blob, in place, and nothing of the killed run is left.
    expect(sha(fs.readFileSync(path.join(dir, 'blobs', 'sha256', big.digest.slice(7))))).toBe(big.digest.slice(7));
    expect(files(dir).filter((f) => /\.(partial|lock|tmp)$/.test(f))).toEqual([]);
    if (hasSkopeo) {
      const out = path.join(work, 'skopeo-out');
      execFileSync('skopeo', ['copy', '--preserve-digests', `oci:${dir}:v1`, `dir:${out}`], { stdio: 'pipe' });
      expect(sha(fs.readFileSync(path.join(out, big.digest.slice(7))))).toBe(big.digest.slice(7));
    }
  });

  it('drops a partial whose bytes do not belong to the blob and fetches it again from the start', async () => {
    const layer = randomBlob(400_000);
    const m = buildManifest({ layers: [layer] });
    await pushImage(upstream.url, 'bad/partial', 'v1', m);
    const dir = path.join(work, 'corrupt');
    const { partial } = partialPaths(dir, layer.digest);
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.writeFileSync(partial, randomBytes(100_000));
    proxy.reset();
    const r = await airlock(['image', 'copy', `docker://${proxy.host}/bad/partial:v1`, `oci:${dir}:v1`]);
    expect(r.code).toBe(0);
    const fetched = proxy.log.filter((e) => e.method === 'GET' && e.path.includes(`/blobs/${layer.digest}`));
    expect(fetched.map((e) => e.status)).toEqual([206, 200]);
    expect(sha(fs.readFileSync(path.join(dir, 'blobs', 'sha256', layer.digest.slice(7))))).toBe(layer.digest.slice(7));
    expect(fs.existsSync(partial)).toBe(false);
  });

  it('sweeps stale temporaries nobody will finish, keeps fresh ones and partials a live process holds', async () => {
    const dir = path.join(work, 'stale');
    const blobs = path.join(dir, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const hex = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
    const old = (file: string, ageMs: number) => {
      const at = new Date(Date.now() - ageMs);
      fs.utimesSync(file, at, at);
    };
    // A writer before resumable partials streamed into blobs/ under a random name; killed, it stayed.
    const oldTmp = path.join(blobs, `${'e'.repeat(64)}.0b0b0b0b-0000-4000-8000-000000000000.tmp`);
    fs.writeFileSync(oldTmp, randomBytes(1000));
    old(oldTmp, TMP_MAX_AGE_MS + 60_000);
    const freshTmp = path.join(blobs, `${'f'.repeat(64)}.1c1c1c1c-0000-4000-8000-000000000000.tmp`);
    fs.writeFileSync(freshTmp, randomBytes(10));
    // An abandoned partial (its writer gone, a day untouched) and one a live process holds.
    const abandoned = partialPaths(dir, hex(1));
    fs.mkdirSync(path.dirname(abandoned.partial), { recursive: true });
    fs.writeFileSync(abandoned.partial, randomBytes(500));
    old(abandoned.partial, PARTIAL_MAX_AGE_MS + 60_000);
    const held = partialPaths(dir, hex(2));
    fs.writeFileSync(held.partial, randomBytes(500));
    old(held.partial, PARTIAL_MAX_AGE_MS + 60_000);
    fs.writeFileSync(held.lock, JSON.stringify({ pid: process.pid, host: os.hostname() }));

    const small = blob(Buffer.from('a small layer'), MT.ociLayer);
    await pushImage(upstream.url, 'sweep/app', 'v1', buildManifest({ layers: [small] }));
    const r = await airlock(['image', 'copy', `docker://${upstream.host}/sweep/app:v1`, `oci:${dir}:v1`]);
    expect(r.code).toBe(0);
    expect(fs.existsSync(oldTmp)).toBe(false);
    expect(fs.existsSync(abandoned.partial)).toBe(false);
    expect(fs.existsSync(freshTmp)).toBe(true);
    expect(fs.existsSync(held.partial)).toBe(true);
  });
});
