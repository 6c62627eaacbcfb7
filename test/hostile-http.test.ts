import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getFollowingRedirects } from '../src/http/client.js';
import { mirrorFile } from '../src/files/static-mirror.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import type { Descriptor } from '../src/oci/manifest.js';
import { airlock } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { startHostileRegistry, sha256, type HostileRegistry } from './support/hostile-registry.js';
import { MT } from './support/images.js';
import { freePort } from './support/ports.js';

/**
 * Upstreams that misbehave on the wire: redirects whose own body never ends, bodies that trickle
 * a byte at a time, servers that never answer, `file:` URLs. Every misbehaviour is a bounded loop
 * that stops by itself, so a client without bounds makes a test fail (it finishes, or reads
 * everything) rather than hang.
 */

interface Misbehaving {
  url: string;
  /** Bytes of redirect bodies written before the client went away. */
  redirectBytes: number[];
  requests: string[];
  stop(): Promise<void>;
}

const MiB = 1024 * 1024;
// Large enough that a client draining it shows (it would read it all), small enough to end.
const ENDLESS = 1024 * MiB;

/** Answers with a 302 and a chunked body of ENDLESS bytes (stops early when the client leaves). */
function endlessRedirect(res: http.ServerResponse, location: string, record: (n: number) => void): void {
  res.writeHead(302, { location, 'content-type': 'text/html' });
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let sent = 0;
  const pump = (): void => {
    while (sent < ENDLESS && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => record(sent));
  pump();
}

/** A 200 whose chunked body comes one byte every `everyMs`, `total` bytes in all. */
function trickle(res: http.ServerResponse, total = 30, everyMs = 500, headers: Record<string, string> = {}): void {
  res.writeHead(200, headers);
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= total) {
      clearInterval(timer);
      res.end();
      return;
    }
    sent += 1;
    res.write('a');
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

async function startMisbehaving(
  routes: (req: http.IncomingMessage, res: http.ServerResponse, self: Misbehaving) => void,
): Promise<Misbehaving> {
  const port = await freePort();
  const sockets = new Set<import('node:net').Socket>();
  const self: Misbehaving = {
    url: `http://127.0.0.1:${port}`,
    redirectBytes: [],
    requests: [],
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server = http.createServer((req, res) => {
    self.requests.push(req.url ?? '/');
    routes(req, res, self);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return self;
}

const fileBody = randomBytes(200_000);
const fileSha = createHash('sha256').update(fileBody).digest('hex');
let server: Misbehaving;
let registry: HostileRegistry;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-hostile-http-'));
  registry = await startHostileRegistry();
  server = await startMisbehaving((req, res, self) => {
    const u = new URL(req.url ?? '/', 'http://x');
    switch (u.pathname) {
      case '/redirect-endless/tool.tar.gz':
        return endlessRedirect(res, '/real/tool.tar.gz', (n) => self.redirectBytes.push(n));
      case '/real/tool.tar.gz':
        res.writeHead(200, { 'content-length': String(fileBody.length) }).end(fileBody);
        return;
      case '/trickle/file.bin':
      case '/trickle/index.yaml':
        return trickle(res);
      case '/silent/index.yaml':
        // Never answers; gives up by itself.
        setTimeout(() => res.destroy(), 20_000).unref();
        return;
      case '/big/declared.bin':
        res.writeHead(200, { 'content-length': String(5000) }).end(Buffer.alloc(5000));
        return;
      case '/big/chunked.bin': {
        res.writeHead(200);
        for (let i = 0; i < 5; i++) res.write(Buffer.alloc(1000));
        res.end();
        return;
      }
      case '/to-file':
        res.writeHead(302, { location: 'file:///etc/hostname' }).end();
        return;
      case '/charts/index.yaml':
        res
          .writeHead(200, { 'content-type': 'application/x-yaml' })
          .end(
            `apiVersion: v1\nentries:\n  local:\n  - name: local\n    version: 1.0.0\n    apiVersion: v2\n    urls:\n    - file:///etc/passwd\n`,
          );
        return;
      default:
        res.writeHead(404).end();
    }
  });
});

afterAll(async () => {
  await Promise.all([server?.stop(), registry?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

afterEach(() => {
  registry.handlers.length = 0;
});

// Deadlines small enough for a test: every misbehaving body below would take 15 s or more.
const tight = { timeouts: { manifest: 2, index: 2, blob: 2, blobPerMiB: 1 } };

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeDefined();
  return e as { code?: string; message: string };
}

async function drain(stream: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const c of stream) n += (c as Buffer).length;
  return n;
}

describe('redirects whose body never ends', () => {
  it('a file download follows the redirect without draining its body', async () => {
    const engine = testEngine();
    const target = { dir: path.join(work, 'files'), baseUrl: 'http://mirror.local/files' };
    const f = await mirrorFile(engine, `${server.url}/redirect-endless/tool.tar.gz`, target, { checksum: fileSha });
    expect(f.sha256).toBe(fileSha);
    await engine.close();
    // The client dropped the connection: far less than the whole endless body was ever written.
    await new Promise((r) => setTimeout(r, 50));
    expect(server.redirectBytes.length).toBeGreaterThan(0);
    expect(Math.max(...server.redirectBytes)).toBeLessThan(ENDLESS / 8);
  });

  it('a registry blob redirect is followed without draining its body', async () => {
    const blob = randomBytes(100_000);
    const d = sha256(blob);
    let written = -1;
    registry.handlers.push((req, res) => {
      if (req.url === `/v2/team/app/blobs/${d}`) {
        endlessRedirect(res, `/storage/${d}`, (n) => (written = n));
        return true;
      }
      if (req.url === `/storage/${d}`) {
        res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
        return true;
      }
      return false;
    });
    const engine = testEngine();
    const desc: Descriptor = { mediaType: MT.ociLayer, digest: d, size: blob.length };
    const got = await drain(await engine.client.openBlob({ registry: registry.host, repository: 'team/app' }, desc));
    expect(got).toBe(blob.length);
    await engine.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toBeGreaterThanOrEqual(0);
    expect(written).toBeLessThan(ENDLESS / 8);
  });

  it('a discarded error body that never ends is not read to its end (manifest 404)', async () => {
    let written = -1;
    registry.handlers.push((req, res) => {
      if (req.url === '/v2/team/gone/manifests/v1') {
        res.writeHead(404, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < ENDLESS && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => (written = sent));
        pump();
        return true;
      }
      return false;
    });
    const engine = testEngine();
    const e = await failure(engine.client.getManifest({ registry: registry.host, repository: 'team/gone' }, 'v1'));
    expect(e).toMatchObject({ code: 'E_NOT_FOUND' });
    await engine.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toBeLessThan(ENDLESS / 8);
  });
});

describe('overall deadlines per kind', () => {
  it('cuts a file body that trickles, naming the URL (blob deadline)', async () => {
    const engine = testEngine({ config: tight });
    const target = { dir: path.join(work, 'trickle-files'), baseUrl: 'http://mirror.local/files' };
    const e = await failure(mirrorFile(engine, `${server.url}/trickle/file.bin?token=s3cret`, target));
    expect(e.code).toBe('E_UNREACHABLE');
    expect(e.message).toMatch(/timed out/);
    expect(e.message).toContain(`${server.url}/trickle/file.bin`);
    expect(e.message).toContain('timeouts.blob');
    expect(e.message).not.toContain('s3cret');
    const written = fs.existsSync(target.dir)
      ? fs.readdirSync(target.dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
      : [];
    expect(written).toEqual([]);
    await engine.close();
  });

  it('cuts a chart index that trickles (index deadline) and one that never answers', async () => {
    const engine = testEngine({ config: tight });
    const reader = createHelmRepoReader(engine);
    const slow = await failure(reader.index(`${server.url}/trickle`));
    expect(slow).toMatchObject({ code: 'E_UNREACHABLE' });
    expect(slow.message).toContain(`GET ${server.url}/trickle/index.yaml timed out`);
    expect(slow.message).toContain('timeouts.index');
    const silent = await failure(reader.index(`${server.url}/silent`));
    expect(silent).toMatchObject({ code: 'E_UNREACHABLE' });
    expect(silent.message).toContain(`${server.url}/silent/index.yaml timed out`);
    await engine.close();
  });

  it('cuts a manifest that trickles (manifest deadline) and a blob that trickles (blob deadline)', async () => {
    registry.handlers.push((req, res) => {
      if (req.url === '/v2/team/slow/manifests/v1') {
        trickle(res, 30, 500, { 'content-type': MT.ociManifest });
        return true;
      }
      if (req.url?.startsWith('/v2/team/slow/blobs/')) {
        trickle(res, 30, 500);
        return true;
      }
      return false;
    });
    const engine = testEngine({ config: tight });
    const repo = { registry: registry.host, repository: 'team/slow' };
    const m = await failure(engine.client.getManifest(repo, 'v1'));
    expect(m).toMatchObject({ code: 'E_UNREACHABLE' });
    expect(m.message).toContain(`${registry.url}/v2/team/slow/manifests/v1 timed out`);
    expect(m.message).toContain('timeouts.manifest');
    const desc: Descriptor = { mediaType: MT.ociLayer, digest: sha256(Buffer.from('x'.repeat(30))), size: 30 };
    const b = await failure(engine.client.openBlob(repo, desc).then(drain));
    expect(b).toMatchObject({ code: 'E_UNREACHABLE' });
    expect(b.message).toContain('timeouts.blob');
    await engine.close();
  });

  it('lets a slow but steady blob finish: its deadline grows with the bytes that arrive', async () => {
    const blob = randomBytes(3 * MiB);
    const d = sha256(blob);
    registry.handlers.push((req, res) => {
      if (req.url !== `/v2/team/steady/blobs/${d}`) return false;
      // 256 KiB every 100 ms: about 2.5 MiB/s against an allowance of 1 MiB per second.
      res.writeHead(200, { 'content-length': String(blob.length) });
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(blob.subarray(at, at + 256 * 1024));
        at += 256 * 1024;
        if (at >= blob.length) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      return true;
    });
    const engine = testEngine({ config: { timeouts: { manifest: 2, index: 2, blob: 1, blobPerMiB: 1 } } });
    const got = await drain(
      await engine.client.openBlob(
        { registry: registry.host, repository: 'team/steady' },
        { mediaType: MT.ociLayer, digest: d, size: blob.length },
      ),
    );
    expect(got).toBe(blob.length);
    await engine.close();
  });
});

describe('size bounds', () => {
  it('refuses a file over limits.fileBytes, declared or counted, and writes nothing', async () => {
    const engine = testEngine({ config: { limits: { fileBytes: 4000 } } });
    const target = { dir: path.join(work, 'capped'), baseUrl: 'http://mirror.local/files' };
    for (const name of ['declared', 'chunked']) {
      const e = await failure(mirrorFile(engine, `${server.url}/big/${name}.bin`, target));
      expect(e).toMatchObject({ code: 'E_UNSUPPORTED' });
      expect(e.message).toContain('larger than limits.fileBytes (4000 bytes)');
    }
    const left = fs.existsSync(target.dir)
      ? fs
          .readdirSync(target.dir, { recursive: true })
          .map(String)
          .filter((n) => n.endsWith('.bin') || n.endsWith('.tmp'))
      : [];
    expect(left).toEqual([]);
    await engine.close();
  });
});

describe('file: URLs', () => {
  it('are refused at once as unsupported, never retried: given, redirected to, or in a chart index', async () => {
    const sleeps: number[] = [];
    const engine = testEngine({ sleep: async (ms) => void sleeps.push(ms) });
    const given = await failure(getFollowingRedirects(engine.http, 'file:///etc/hostname', {}, 'file:///etc/hostname'));
    expect(given).toMatchObject({ code: 'E_UNSUPPORTED' });
    expect(given.message).toContain('file: URLs are not fetched');
    const redirected = await failure(getFollowingRedirects(engine.http, `${server.url}/to-file`, {}, 'x'));
    expect(redirected).toMatchObject({ code: 'E_UNSUPPORTED' });
    const chart = await failure(createHelmRepoReader(engine).fetchChart(`${server.url}/charts`, 'local', '1.0.0'));
    expect(chart).toMatchObject({ code: 'E_UNSUPPORTED' });
    expect(sleeps).toEqual([]);
    await engine.close();
  });

  it('botkube mirror of a file: index fails with one E_UNSUPPORTED line and no retry', async () => {
    const r = await airlock([
      'botkube',
      'mirror',
      'file:///etc/hostname',
      '--to',
      path.join(work, 'bk'),
      '--base-url',
      'http://mirror.local/bk',
    ]);
    expect(r.code).toBe(7);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('airlock:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[E_UNSUPPORTED\].*file: URLs are not fetched/);
    expect(r.stderr).not.toMatch(/retrying/);
  });
});
