import fs from 'node:fs';
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import type { MirrorImagePayload } from '../src/model/image-payload.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../src/core/log.js';
import { testEngine } from './support/engine.js';
import { buildManifest, digest, getBlob, getManifest, pushImage, randomBlob } from './support/images.js';
import { freePort } from './support/ports.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let up: TestProxy; // in front of upstream
let down: TestProxy; // in front of target

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  [up, down] = await Promise.all([startProxy(upstream.url), startProxy(target.url)]);
});

afterAll(async () => {
  await Promise.all([up?.stop(), down?.stop()]);
  await Promise.all([upstream?.stop(), target?.stop()]);
});

afterEach(() => {
  up.rules.length = 0;
  down.rules.length = 0;
  up.reset();
  down.reset();
});

const copy = (p: MirrorImagePayload, engine = testEngine()) => mirrorImage(p, { engine, logger: silentLogger() });
const MiB = 1024 * 1024;

describe('blob transfer', () => {
  it('mounts a blob another repository of the target already holds instead of uploading it', async () => {
    const shared = randomBlob(200_000);
    const a = buildManifest({ layers: [shared, randomBlob(1000)] });
    const b = buildManifest({ layers: [shared, randomBlob(1000)] });
    await pushImage(upstream.url, 'mount/a', 'v1', a);
    await pushImage(upstream.url, 'mount/b', 'v1', b);
    const engine = testEngine();
    await copy({ source: `docker://${upstream.host}/mount/a:v1`, target: `docker://${down.host}/m/a` }, engine);
    down.reset();
    const r = await copy(
      { source: `docker://${upstream.host}/mount/b:v1`, target: `docker://${down.host}/m/b` },
      engine,
    );
    expect(r.stats.blobsMounted).toBe(1);
    const mounts = down.log.filter(
      (e) => e.method === 'POST' && e.path.includes(`mount=${encodeURIComponent(shared.digest)}`),
    );
    expect(mounts.map((e) => e.status)).toEqual([201]);
    // The shared layer's bytes never crossed the wire again.
    const uploaded = down.log
      .filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/'))
      .reduce((n, e) => n + e.requestBytes, 0);
    expect(uploaded).toBeLessThan(shared.bytes.length);
    expect((await getBlob(target.url, 'm/b', shared.digest)).status).toBe(200);
  });

  it('mounts from the source repository when source and target are the same registry', async () => {
    const m = buildManifest({ layers: [randomBlob(100_000)] });
    await pushImage(upstream.url, 'same/src', 'v1', m);
    up.reset();
    const r = await copy({ source: `docker://${up.host}/same/src:v1`, target: `docker://${up.host}/same/dst` });
    expect(r.stats.blobsMounted).toBe(2);
    expect(up.count('PUT', /\/blobs\/uploads\//)).toBe(0);
  });

  it('refuses a corrupted upstream blob and leaves no tag at the target', async () => {
    const bad = randomBlob(64 * 1024);
    const m = buildManifest({ layers: [randomBlob(1000), bad] });
    await pushImage(upstream.url, 'corrupt/app', 'v1', m);
    const file = upstream.blobFile(bad.digest);
    const bytes = fs.readFileSync(file);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    const err = await copy({
      source: `docker://${upstream.host}/corrupt/app:v1`,
      target: `docker://${target.host}/corrupt/app`,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(String((err as Error).message)).toContain(bad.digest);
    expect((await getManifest(target.url, 'corrupt/app', 'v1')).status).toBe(404);
    expect((await getBlob(target.url, 'corrupt/app', bad.digest)).status).toBe(404);
  });

  // Chunks asked for by OCI-Chunk-Min-Length and a chunk resumed from the registry's offset are rows
  // of the upload protocol table in test/registry-upload.test.ts; here, what a whole image copy adds.
  it('falls back to chunks when a monolithic upload breaks, and starts a new session when the registry lost the old one', async () => {
    const big = randomBlob(11 * MiB);
    const m = buildManifest({ layers: [big] });
    await pushImage(upstream.url, 'chunk/restart', 'v1', m);
    down.rules.push(
      {
        match: (method, p) => method === 'PUT' && p.includes(`digest=${encodeURIComponent(big.digest)}`),
        times: 1,
        action: { type: 'cutRequest', afterBytes: 2 * MiB },
      },
      { match: (method) => method === 'PATCH', times: 1, action: { type: 'cutRequest', afterBytes: 3 * MiB } },
    );
    const r = await copy({
      source: `docker://${upstream.host}/chunk/restart:v1`,
      target: `docker://${down.host}/chunk/restart`,
    });
    expect(r.targetDigest).toBe(m.digest);
    expect(r.stats.bytes).toBe(m.blobs.reduce((n, b) => n + b.bytes.length, 0));
    // After the broken PATCH the client asked the registry where the session stands. distribution 2.8
    // answers 404 when the broken request wrote into the session (then a new session starts), or
    // the unchanged offset when nothing landed (then the chunk is re-sent).
    const checks = down.log
      .filter((e) => e.method === 'GET' && e.path.includes('/blobs/uploads/'))
      .map((e) => e.status);
    expect(checks.length).toBeGreaterThanOrEqual(1);
    expect(checks.every((c) => c === 404 || c === 204)).toBe(true);
    expect(digest((await getBlob(target.url, 'chunk/restart', big.digest)).bytes)).toBe(big.digest);
  });

  it('re-opens a source stream that breaks mid-blob', async () => {
    const big = randomBlob(3 * MiB);
    const m = buildManifest({ layers: [big] });
    await pushImage(upstream.url, 'src/broken', 'v1', m);
    up.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
      times: 1,
      action: { type: 'cutResponse', afterBytes: MiB },
    });
    const r = await copy({ source: `docker://${up.host}/src/broken:v1`, target: `docker://${target.host}/src/broken` });
    expect(r.targetDigest).toBe(m.digest);
    expect(up.count('GET', new RegExp(`/blobs/${big.digest}`))).toBeGreaterThanOrEqual(2);
  });

  it('follows a blob redirect to another host without forwarding credentials', async () => {
    const user = { username: 'u', password: 'redirect-secret-1' };
    const guarded = await startRegistry({ htpasswd: user });
    const guardedProxy = await startProxy(guarded.url);
    const storagePort = await freePort();
    const seen: Array<string | undefined> = [];
    const storage = http.createServer(async (req, res) => {
      seen.push(req.headers.authorization);
      const d = new URL(req.url ?? '/', 'http://x').searchParams.get('d') ?? '';
      const got = await getBlob(guarded.url, 'redir/app', d, user);
      res.writeHead(200, { 'content-length': String(got.bytes.length) }).end(got.bytes);
    });
    await new Promise<void>((r) => storage.listen(storagePort, 'localhost', () => r()));
    try {
      const m = buildManifest({ layers: [randomBlob(50_000)] });
      await pushImage(guarded.url, 'redir/app', 'v1', m, user);
      guardedProxy.rules.push({
        match: (method, p) => method === 'GET' && p.includes('/blobs/sha256:'),
        action: {
          type: 'redirect',
          location: (p) =>
            `http://localhost:${storagePort}/bucket?d=${encodeURIComponent(p.split('/blobs/')[1] ?? '')}&X-Amz-Signature=abc`,
        },
      });
      const env = {
        [`AIRLOCK_AUTH_${guardedProxy.host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`]: `${user.username}:${user.password}`,
      };
      const r = await copy(
        { source: `docker://${guardedProxy.host}/redir/app:v1`, target: `docker://${target.host}/redir/app` },
        testEngine({ env }),
      );
      expect(r.targetDigest).toBe(m.digest);
      expect(seen.length).toBe(2);
      expect(seen.every((h) => h === undefined)).toBe(true);
      // The registry itself did get credentials.
      expect(guardedProxy.log.some((e) => e.authorization)).toBe(true);
    } finally {
      storage.close();
      await guardedProxy.stop();
      await guarded.stop();
    }
  });
});

describe('retries and bad upstream answers', () => {
  it('retries 429 and 503, honouring Retry-After', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'retry/app', 'v1', m);
    up.rules.push(
      {
        match: (method) => method === 'HEAD',
        times: 1,
        action: { type: 'status', status: 429, headers: { 'retry-after': '2' } },
      },
      {
        match: (method, p) => method === 'GET' && p.includes('/manifests/'),
        times: 1,
        action: { type: 'status', status: 503 },
      },
    );
    const waits: number[] = [];
    const engine = testEngine({ sleep: async (ms) => void waits.push(ms) });
    const r = await copy(
      { source: `docker://${up.host}/retry/app:v1`, target: `docker://${target.host}/retry/app` },
      engine,
    );
    expect(r.targetDigest).toBe(m.digest);
    expect(waits[0]).toBe(2000);
    expect(waits.length).toBe(2);
  });

  it('gives up on a 429 whose Retry-After is beyond the limit, with E_RATE_LIMITED', async () => {
    up.rules.push({
      match: (method) => method === 'HEAD',
      action: {
        type: 'status',
        status: 429,
        headers: { 'retry-after': '3600' },
        body: 'You have reached your pull rate limit',
      },
    });
    const err = await copy({
      source: `docker://${up.host}/retry/app:v1`,
      target: `docker://${target.host}/retry/x`,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_RATE_LIMITED', retryAfterMs: 3_600_000 });
  });

  it('reports a non-JSON error body in one line', async () => {
    await pushImage(upstream.url, 'any/app', 'v1', buildManifest({}));
    up.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/manifests/'),
      action: {
        type: 'status',
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: '<html>\n<body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>',
      },
    });
    const err = (await copy({
      source: `docker://${up.host}/any/app:v1`,
      target: `docker://${target.host}/any/app`,
    }).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('E_REGISTRY');
    expect(err.message).toMatch(/HTTP 502 502 Bad Gateway nginx/);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a schema1 manifest', async () => {
    const schema1 = JSON.stringify({
      schemaVersion: 1,
      name: 'old/app',
      tag: 'v1',
      fsLayers: [],
      history: [],
      signatures: [],
    });
    const headers = {
      'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      'docker-content-digest': digest(Buffer.from(schema1)),
    };
    up.rules.push({
      match: (_m, p) => p.includes('/manifests/'),
      action: { type: 'status', status: 200, headers, body: schema1 },
    });
    const err = await copy({
      source: `docker://${up.host}/old/app:v1`,
      target: `docker://${target.host}/old/app`,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_SCHEMA1' });
  });

  it('says which manifest is unknown', async () => {
    const err = await copy({
      source: `docker://${upstream.host}/nope/app:v9`,
      target: `docker://${target.host}/nope/app`,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NOT_FOUND', artifact: `docker://${upstream.host}/nope/app:v9` });
  });

  it('detects a manifest whose bytes do not match the digest the registry announced', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'lying/app', 'v1', m);
    const other = buildManifest({});
    up.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/manifests/'),
      action: {
        type: 'status',
        status: 200,
        headers: { 'content-type': other.mediaType, 'docker-content-digest': m.digest },
        body: other.bytes.toString(),
      },
    });
    const err = await copy({
      source: `docker://${up.host}/lying/app:v1`,
      target: `docker://${target.host}/lying/app`,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect((await getManifest(target.url, 'lying/app', 'v1')).status).toBe(404);
  });

  it('warns once when Docker Hub style ratelimit-remaining runs low', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'quota/app', 'v1', m);
    up.rules.push({
      match: () => true,
      action: { type: 'headers', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '3;w=21600' } },
    });
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({ write: (c, _e, cb) => void (lines.push(String(c)), cb()) }),
    });
    await copy(
      { source: `docker://${up.host}/quota/app:v1`, target: `docker://${target.host}/quota/app` },
      testEngine({ logger }),
    );
    logger.flush();
    await new Promise((r) => setTimeout(r, 50));
    const warnings = lines.filter((l) => l.includes('pull quota nearly used up'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] ?? '{}')).toMatchObject({ host: up.host, remaining: 3 });
  });

  it('pushes a manifest with its own media type when the source serves a generic Content-Type', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'generic/app', 'v1', m);
    up.rules.push({
      match: (method, p) => p.includes('/manifests/'),
      action: { type: 'headers', headers: { 'content-type': 'application/octet-stream' } },
    });
    const r = await copy({
      source: `docker://${up.host}/generic/app:v1`,
      target: `docker://${target.host}/generic/app`,
    });
    expect(r.targetDigest).toBe(m.digest);
    expect((await getManifest(target.url, 'generic/app', 'v1')).headers.get('content-type')).toBe(m.mediaType);
  });

  it('keeps blob transfers from one registry within its concurrency limit', async () => {
    const layers = Array.from({ length: 4 }, () => randomBlob(MiB));
    const m = buildManifest({ layers });
    await pushImage(upstream.url, 'limited/app', 'v1', m);
    up.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/blobs/sha256:'),
      action: { type: 'throttle', bytesPerSecond: 4 * MiB },
    });
    const peak = () => {
      const gets = up.log.filter((e) => e.method === 'GET' && e.path.includes('/blobs/sha256:'));
      return Math.max(
        ...gets.map(
          (g) =>
            gets.filter((o) => o.startedAt < (g.endedAt ?? Infinity) && (o.endedAt ?? Infinity) > g.startedAt).length,
        ),
      );
    };
    await copy({ source: `docker://${up.host}/limited/app:v1`, target: `docker://${target.host}/limited/free` });
    expect(peak()).toBeGreaterThan(1);
    up.reset();
    const limited = testEngine({ config: { registries: [{ host: up.host, concurrency: 1 }] } });
    await copy(
      { source: `docker://${up.host}/limited/app:v1`, target: `docker://${target.host}/limited/one` },
      limited,
    );
    expect(peak()).toBe(1);
  });
});
