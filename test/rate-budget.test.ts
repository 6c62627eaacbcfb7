import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { createEngine, type Engine } from '../src/app/engine.js';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { silentLogger } from '../src/core/log.js';
import { memoryUpstreamBudget, pauseFromResponse } from '../src/http/upstream-budget.js';
import { JOB, mirrorImageJobId } from '../src/model/job-names.js';
import { jobUpstream } from '../src/queue/rate-defer.js';
import { redisUpstreamBudget } from '../src/queue/redis/rate-budget.js';
import { redisArtifactLock } from '../src/queue/redis/artifact-lock.js';
import { redisRegistrySlots } from '../src/queue/redis/registry-slots.js';
import { memoryMirrorState } from '../src/state/mirror-state.js';
import { startWorkerProcess } from './support/airlock-processes.js';
import { buildManifest, digest, getManifest, pushImage, randomBlob, type BuiltManifest } from './support/images.js';
import { peakInFlight, startProxy, tooManyRequests, type ProxyRequest, type TestProxy } from './support/proxy.js';
import { testEngine } from './support/engine.js';
import { useQueueEnv } from './support/queue-env.js';

const env = useQueueEnv();
// Budgets and slots are keyed by host:port; a prefix of our own keeps other runs' keys apart too.
const prefix = `{rate-${randomUUID().slice(0, 8)}}`;
const connections: Redis[] = [];
const engines: Engine[] = [];
let proxies: TestProxy[] = [];

beforeAll(async () => {
  proxies = await Promise.all([startProxy(env.upstream.url), startProxy(env.upstream.url)]);
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await Promise.all(proxies.map((p) => p.stop()));
  for (const c of connections) c.disconnect();
});

function redis(): Redis {
  const c = new Redis(env.redis.url, { maxRetriesPerRequest: null });
  connections.push(c);
  return c;
}

/** An engine as a worker builds it: its own Redis connection, the shared budget and slots. */
function workerEngine(config: object): Engine {
  const cfg = parseConfig({ retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 }, ...config });
  const r = redis();
  const engine = createEngine({
    config: cfg,
    logger: silentLogger(),
    state: memoryMirrorState(),
    env: {},
    dockerConfigPath: false,
    budget: redisUpstreamBudget(r, prefix, cfg),
    slots: redisRegistrySlots(r, prefix, { leaseMs: 2_000 }),
  });
  engines.push(engine);
  return engine;
}

const copy = (engine: Engine, source: string, target: string) =>
  mirrorImage({ source, target }, { engine, logger: silentLogger() });

async function pushAll(ns: string, images: Record<string, BuiltManifest>): Promise<void> {
  for (const [name, m] of Object.entries(images)) await pushImage(env.upstream.url, `${ns}/${name}`, 'v1', m);
}

/** The most requests that started within any `spanMs`. */
function busiest(entries: ProxyRequest[], spanMs: number): number {
  const starts = entries.map((e) => e.startedAt).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while ((starts[i] ?? 0) - (starts[j] ?? 0) >= spanMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('what upstreams say about their limits', () => {
  it('turns 429s, Retry-After and exhausted quotas into pauses', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    expect(pauseFromResponse(429, { 'retry-after': '7' }, now)).toBe(7000);
    expect(pauseFromResponse(429, { 'retry-after': 'Wed, 01 May 2024 12:00:30 GMT' }, now)).toBe(30_000);
    expect(pauseFromResponse(429, {}, now)).toBe(2000);
    expect(pauseFromResponse(429, { 'ratelimit-remaining': '0;w=21600' }, now)).toBe(60_000);
    expect(pauseFromResponse(429, { 'ratelimit-reset': '12' }, now)).toBe(12_000);
    expect(pauseFromResponse(503, { 'retry-after': '3' }, now)).toBe(3000);
    expect(pauseFromResponse(503, {}, now)).toBeUndefined();
    // Docker Hub: the last pull of the window went through; the next would be refused.
    expect(pauseFromResponse(200, { 'ratelimit-remaining': '0;w=21600' }, now)).toBe(60_000);
    expect(pauseFromResponse(200, { 'ratelimit-remaining': '0', 'ratelimit-reset': '20' }, now)).toBe(20_000);
    expect(
      pauseFromResponse(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 90) }, now),
    ).toBe(90_000);
    expect(pauseFromResponse(200, { ratelimit: '"default";r=0;t=15' }, now)).toBe(15_000);
    expect(pauseFromResponse(200, { 'ratelimit-remaining': '76;w=21600' }, now)).toBeUndefined();
  });

  it('rejects a bad rateLimit naming the key', () => {
    expect(() =>
      parseConfig({ registries: [{ host: 'ghcr.io', rateLimit: { requests: 0, perSeconds: 60 } }] }),
    ).toThrow(/registries\.0\.rateLimit\.requests|registries\[0\]\.rateLimit\.requests/);
  });

  it('the one-shot budget fails at once, with E_RATE_LIMITED, when the wait would be absurd', async () => {
    const budget = memoryUpstreamBudget(
      parseConfig({ registries: [{ host: 'docker.io', rateLimit: { requests: 1, perSeconds: 3600 } }] }),
    );
    await budget.acquire('registry-1.docker.io');
    const started = Date.now();
    const err = await budget
      .acquire('registry-1.docker.io', 'docker://docker.io/library/alpine:3')
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(err).toMatchObject({ code: 'E_RATE_LIMITED', artifact: 'docker://docker.io/library/alpine:3' });
    expect((err as Error).message).toMatch(/request budget for registry-1\.docker\.io \(1 per 3600 s\) is used up/);
    // Other hosts are not held back.
    await budget.acquire('ghcr.io');
  });

  it('the one-shot engine (no Redis) keeps rateLimit within its process', async () => {
    const [p] = proxies as [TestProxy];
    const ns = `os${randomUUID().slice(0, 6)}`;
    await pushAll(ns, { a: buildManifest({ layers: [randomBlob(1000), randomBlob(1000)] }) });
    const engine = testEngine({
      config: { registries: [{ host: p.host, rateLimit: { requests: 2, perSeconds: 1 } }] },
    });
    engines.push(engine);
    p.reset();
    const started = Date.now();
    await copy(engine, `docker://${p.host}/${ns}/a:v1`, `docker://${env.target.host}/${ns}/a`);
    expect(p.log.length).toBeGreaterThanOrEqual(5);
    expect(busiest(p.log, 750)).toBeLessThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual((Math.ceil(p.log.length / 2) - 1) * 1000 - 200);
  });

  it('knows the upstream host of a job', () => {
    expect(jobUpstream(JOB.mirrorImage, { source: 'docker://docker.io/library/alpine:3' })).toBe(
      'registry-1.docker.io',
    );
    expect(jobUpstream(JOB.mirrorImage, { source: 'docker://127.0.0.1:5000/a:1' })).toBe('127.0.0.1:5000');
    expect(jobUpstream(JOB.mirrorChart, { source: 'https://charts.jetstack.io', chart: 'x' })).toBe(
      'charts.jetstack.io',
    );
    expect(jobUpstream(JOB.mirrorChart, { source: 'oci://ghcr.io/org/charts', chart: 'x' })).toBe('ghcr.io');
    expect(jobUpstream(JOB.mirrorImage, { source: 'oci:/tmp/layout:1' })).toBeUndefined();
  });
});

describe('one budget per upstream across engines (two workers on one Redis)', () => {
  it('together they never exceed rateLimit, and the limit holds the copies back', async () => {
    const [p] = proxies as [TestProxy];
    const ns = `rl${randomUUID().slice(0, 6)}`;
    const images = Object.fromEntries(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => [n, buildManifest({ layers: [randomBlob(1000)] })]),
    );
    await pushAll(ns, images);
    const config = { registries: [{ host: p.host, rateLimit: { requests: 5, perSeconds: 1 } }] };
    const one = workerEngine(config);
    const two = workerEngine(config);
    p.reset();
    const started = Date.now();
    await Promise.all(
      Object.keys(images).map((n, i) =>
        copy(i % 2 ? two : one, `docker://${p.host}/${ns}/${n}:v1`, `docker://${env.target.host}/${ns}/${n}`),
      ),
    );
    const elapsed = Date.now() - started;
    const requests = p.log.slice();
    expect(requests.length).toBeGreaterThanOrEqual(18);
    // Counted where they arrive; a little slack for the way from the budget to the proxy.
    expect(busiest(requests, 750)).toBeLessThanOrEqual(5);
    expect(elapsed).toBeGreaterThanOrEqual((Math.ceil(requests.length / 5) - 1) * 1000 - 200);
    for (const [n, m] of Object.entries(images))
      expect(digest((await getManifest(env.target.url, `${ns}/${n}`, 'v1')).bytes)).toBe(m.digest);
  });

  it('a 429 seen by one engine makes the other wait for that host, not for another', async () => {
    const [p1, p2] = proxies as [TestProxy, TestProxy];
    const ns = `pz${randomUUID().slice(0, 6)}`;
    const images = { a: buildManifest({}), b: buildManifest({}), c: buildManifest({}) };
    await pushAll(ns, images);
    const one = workerEngine({});
    const two = workerEngine({});
    p1.reset();
    p2.reset();
    p1.rules.push({
      match: (_m, path) => path.includes(`/${ns}/a/manifests/`),
      times: 1,
      action: tooManyRequests('2'),
    });
    try {
      const first = copy(one, `docker://${p1.host}/${ns}/a:v1`, `docker://${env.target.host}/${ns}/a`);
      await until('the 429', () => p1.log.some((e) => e.status === 429));
      const refused = p1.log.find((e) => e.status === 429) as ProxyRequest;
      expect(await two.budget.pausedUntil(p1.host)).toBeGreaterThan(Date.now() + 1000);
      expect(await two.budget.pausedUntil(p2.host)).toBe(0);
      const otherHost = copy(two, `docker://${p2.host}/${ns}/c:v1`, `docker://${env.target.host}/${ns}/c`).then(() =>
        Date.now(),
      );
      const sameHost = copy(two, `docker://${p1.host}/${ns}/b:v1`, `docker://${env.target.host}/${ns}/b`);
      expect(await otherHost).toBeLessThan(refused.startedAt + 1500);
      await Promise.all([first, sameHost]);
      const after = p1.log.filter((e) => e.startedAt > refused.startedAt);
      expect(after.length).toBeGreaterThan(0);
      for (const e of after)
        expect(e.startedAt, `${e.method} ${e.path}`).toBeGreaterThanOrEqual(refused.startedAt + 1900);
    } finally {
      p1.rules.length = 0;
    }
  });

  it('a pause longer than retry.maxRetryAfterMs fails the other engine at once, without asking the upstream', async () => {
    const [p1] = proxies as [TestProxy];
    const one = workerEngine({});
    const two = workerEngine({});
    await one.budget.observe(p1.host, 429, { 'retry-after': '600' });
    p1.reset();
    try {
      const err = await copy(two, `docker://${p1.host}/none/x:v1`, `docker://${env.target.host}/none/x`).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'E_RATE_LIMITED' });
      expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(590_000);
      expect(p1.log.length).toBe(0);
    } finally {
      await redis().del(`${prefix}:upstream:${p1.host}:pause`);
    }
  });
});

describe('registries[].concurrency across engines (Redis leases)', () => {
  it('never has more than N blob transfers in flight at the upstream', async () => {
    const [p] = proxies as [TestProxy];
    const ns = `cc${randomUUID().slice(0, 6)}`;
    const images = Object.fromEntries(
      ['a', 'b', 'c', 'd'].map((n) => [n, buildManifest({ layers: [randomBlob(200_000), randomBlob(200_000)] })]),
    );
    await pushAll(ns, images);
    const config = { registries: [{ host: p.host, concurrency: 2 }] };
    const one = workerEngine(config);
    const two = workerEngine(config);
    p.reset();
    p.rules.push({
      match: (m, path) => m === 'GET' && path.includes('/blobs/sha256:'),
      action: { type: 'throttle', bytesPerSecond: 800_000 },
    });
    try {
      await Promise.all(
        Object.keys(images).map((n, i) =>
          copy(i % 2 ? two : one, `docker://${p.host}/${ns}/${n}:v1`, `docker://${env.target.host}/${ns}/${n}`),
        ),
      );
    } finally {
      p.rules.length = 0;
    }
    const blobGets = p.log.filter((e) => e.method === 'GET' && e.path.includes('/blobs/sha256:'));
    expect(blobGets.length).toBe(12);
    // Each engine alone would allow two: four together without the shared leases.
    expect(peakInFlight(blobGets)).toBe(2);
  });

  it("a dead holder's lease runs out and frees its slot", async () => {
    const registry = `dead-${randomUUID().slice(0, 6)}`;
    const holderConn = redis();
    const holder = redisRegistrySlots(holderConn, prefix, { leaseMs: 1000 });
    const other = redisRegistrySlots(redis(), prefix, { leaseMs: 1000, pollMs: 50 });
    let taken = false;
    void holder.run(registry, 1, async () => {
      taken = true;
      await new Promise(() => undefined);
    });
    await until('the holder to take the slot', () => taken);
    // While the holder lives it renews: the other waits well past one lease.
    let got = 0;
    const waiting = other.run(registry, 1, async () => {
      got = Date.now();
    });
    await new Promise((r) => setTimeout(r, 1800));
    expect(got).toBe(0);
    // The holder's process dies: no renewals, no release.
    const died = Date.now();
    holderConn.disconnect();
    await waiting;
    expect(got - died).toBeLessThan(2500);
  });

  it('the artifact lock runs one holder of a key at a time and reports a lease lost while held', async () => {
    const key = `art-${randomUUID().slice(0, 6)}`;
    const lost: string[] = [];
    const a = redisArtifactLock(redis(), prefix, {
      ttlMs: 900,
      pollMs: 20,
      onError: (e) => lost.push((e as Error).message),
    });
    const b = redisArtifactLock(redis(), prefix, { ttlMs: 900, pollMs: 20 });
    const order: string[] = [];
    const hold = (name: string, ms: number) => async () => {
      order.push(`${name} in`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name} out`);
    };
    await Promise.all([
      a.run(key, hold('a', 200)),
      new Promise((r) => setTimeout(r, 20)).then(() => b.run(key, hold('b', 10))),
    ]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);

    // Redis lost the lease (a flush, a failover) while the holder still works: said, not ignored.
    await a.run(key, async () => {
      await redis().del(`${prefix}:artifact-lock:${key}`);
      await new Promise((r) => setTimeout(r, 700));
    });
    expect(lost.some((m) => m.includes('expired while in use'))).toBe(true);
  });
});

describe('a rate-limited upstream in a worker process', () => {
  it("defers that upstream's jobs without spending attempts while another upstream's jobs complete", async () => {
    const [pa, pb] = proxies as [TestProxy, TestProxy];
    const ns = `wk${randomUUID().slice(0, 6)}`;
    const images = {
      a: buildManifest({ layers: [randomBlob(1000)] }),
      b: buildManifest({ layers: [randomBlob(1000)] }),
    };
    await pushAll(ns, images);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rate-worker-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      [
        'redis:',
        '  url: { env: TEST_REDIS_URL }',
        `  prefix: "${prefix}"`,
        'retry:',
        '  attempts: 2',
        '  baseDelayMs: 50',
        '  maxDelayMs: 200',
        '  maxRetryAfterMs: 1000',
        '',
      ].join('\n'),
    );
    const queueName = `rate-${randomUUID()}`;
    const queue = new Queue(queueName, { connection: { url: env.redis.url }, prefix });
    // Upstream A refuses everything for a while, asking for two seconds each time.
    pa.rules.push({ match: () => true, action: tooManyRequests('2') });
    const worker = await startWorkerProcess(cfg, queueName, { TEST_REDIS_URL: env.redis.url });
    try {
      const add = (n: string, host: string) => {
        const source = `docker://${host}/${ns}/${n}:v1`;
        const target = `docker://${env.target.host}/${ns}/${n}`;
        // One attempt: had the 429 spent it, the job would fail.
        return queue.add(JOB.mirrorImage, { source, target }, { jobId: mirrorImageJobId(source, target), attempts: 1 });
      };
      const a = await add('a', pa.host);
      const b = await add('b', pb.host);
      let sawDelayed = false;
      await until('B to complete and A to be deferred', async () => {
        const ja = await queue.getJob(a.id ?? '');
        if ((await ja?.getState()) === 'delayed') {
          expect(ja?.attemptsMade).toBe(0);
          sawDelayed = true;
        }
        return sawDelayed && (await queue.getJobState(b.id ?? '')) === 'completed';
      });
      expect(await queue.getJobState(a.id ?? '')).not.toBe('completed');
      expect(digest((await getManifest(env.target.url, `${ns}/b`, 'v1')).bytes)).toBe(images.b.digest);
      expect(pa.log.filter((e) => e.status === 429).length).toBeGreaterThan(0);

      pa.rules.length = 0;
      await until(
        'A to complete after the pause',
        async () => (await queue.getJobState(a.id ?? '')) === 'completed',
        30_000,
      );
      const done = await queue.getJob(a.id ?? '');
      expect(done?.returnvalue).toMatchObject({ status: 'copied', targetDigest: images.a.digest });
      expect(worker.stderr()).toContain('job deferred without using an attempt');
    } finally {
      pa.rules.length = 0;
      await worker.stop();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
