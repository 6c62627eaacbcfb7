import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB } from '../src/model/job-names.js';
import { startServeProcess, startWorkerProcess, type AirlockProcess } from './support/airlock-processes.js';
import { airlock } from './support/cli.js';
import { buildManifest, getManifest, pushImage, randomBlob } from './support/images.js';
import { waitFor } from './support/ports.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startOwnRedis, type OwnRedis } from './support/redis.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

/**
 * A Redis of the test's own, stopped, frozen and started again under airlock's commands, worker
 * and server (issue #17, "When Redis is unreachable"). Its URL carries a password, which no
 * message may show.
 */
const PASSWORD = 'outage-Pa55word';
const prefix = '{airlock-outage}';
let redis: OwnRedis;
let upstream: TestRegistry;
let target: TestRegistry;
let dir: string;

beforeAll(async () => {
  redis = await startOwnRedis({ password: PASSWORD });
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outage-'));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop()]);
  await redis?.stop();
});

function writeConfig(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    [
      'redis:',
      '  url: { env: OUTAGE_REDIS_URL }',
      `  prefix: "${prefix}"`,
      '  connectTimeoutMs: 1000',
      ...lines,
      '',
    ].join('\n'),
  );
  return file;
}

const env = () => ({ OUTAGE_REDIS_URL: redis.url, GEN_TOKEN: 'gen-token-outage' });
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const count = (text: string, needle: string) => text.split(needle).length - 1;

/** Nothing of the client's own noise, and not the password, on any stream. */
function expectClean(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain('Unhandled error event');
  expect(text).not.toMatch(/max retries per request/i);
  expect(text).not.toMatch(/^\s+at /m);
}

describe('CLI commands while Redis is away', () => {
  it('each fails with one line naming Redis by HOST:PORT, exit 3, for a stopped and for a frozen Redis', async () => {
    const cfg = writeConfig('cli.yaml', [
      'images:',
      '  - source: 127.0.0.1:9/outage/app:v1',
      `    target: ${target.host}/outage/app`,
    ]);
    const commands = [
      ['runs', 'list'],
      ['runs', 'show', '1'],
      ['runs', 'retry', '1'],
      ['schedules', 'list'],
      ['scheduler'],
      ['sync', '--queue', `q-${randomUUID()}`],
      // One-shot runs keep their mirror state in Redis when the config has redis:.
      ['image', 'sync'],
      ['sync'],
    ];
    await redis.stop();
    try {
      for (const c of commands) {
        const r = await airlock([...c, '--config', cfg], env(), 30_000);
        expect({ command: c.join(' '), code: r.code }).toEqual({ command: c.join(' '), code: 3 });
        expect(lines(r.stderr)).toEqual([
          `airlock: [E_UNREACHABLE] cannot reach Redis at 127.0.0.1:${redis.port} (connection refused)`,
        ]);
        expect(r.stdout).toBe('');
        expectClean(r.stdout + r.stderr);
      }
    } finally {
      await redis.start();
    }

    // A server that accepts connections and never answers is away as well, after the connect timeout.
    redis.freeze();
    try {
      for (const c of [
        ['runs', 'list'],
        ['image', 'sync'],
      ]) {
        const r = await airlock([...c, '--config', cfg], env(), 30_000);
        expect(r.code).toBe(3);
        expect(lines(r.stderr)).toEqual([
          `airlock: [E_UNREACHABLE] cannot reach Redis at 127.0.0.1:${redis.port} (no answer within 1 s)`,
        ]);
        expectClean(r.stderr);
      }
    } finally {
      redis.thaw();
    }
  });

  it('a one-shot run that loses Redis midway copies every image all the same, says so once, and exits 0', async () => {
    const proxy: TestProxy = await startProxy(upstream.url);
    const tags = ['t1', 't2', 't3', 't4'];
    const images = new Map<string, Buffer>();
    for (const tag of tags) {
      const image = buildManifest({ layers: [randomBlob(512 * 1024)] });
      await pushImage(upstream.url, 'lost/app', tag, image);
      images.set(tag, image.bytes);
    }
    // The blobs come slowly, and the first one asked for takes Redis down: every copy is in flight then.
    let stopping: Promise<void> | undefined;
    proxy.rules.push({
      match: (method, p) => {
        if (method === 'GET' && p.includes('/blobs/')) stopping ??= redis.stop();
        return false;
      },
      action: { type: 'reset' },
    });
    proxy.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/blobs/'),
      action: { type: 'throttle', bytesPerSecond: 1024 * 1024 },
    });
    const cfg = writeConfig('lost.yaml', [
      'images:',
      `  - source: ${proxy.host}/lost/app`,
      `    tags: [${tags.join(', ')}]`,
      `    target: ${target.host}/lost/app`,
    ]);
    try {
      const r = await airlock(['image', 'sync', '--config', cfg], env(), 60_000);
      expect(stopping, 'Redis was stopped during the run').toBeDefined();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^4 images: 4 copied, 0 unchanged, 0 planned, 0 failed;/m);
      const warnings = lines(r.stderr).map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 40,
          msg: `cannot reach Redis at 127.0.0.1:${redis.port} (connection lost): the rest of this run neither reads nor records the mirror state; every target is checked instead`,
        }),
      ]);
      for (const [tag, bytes] of images)
        expect((await getManifest(target.url, 'lost/app', tag)).bytes.equals(bytes), tag).toBe(true);
      expectClean(r.stdout + r.stderr);
    } finally {
      await stopping;
      await redis.start();
      await proxy.stop();
    }
  });

  it('sync --queue that loses Redis while it follows the run says so in one line, with the run id, exit 3', async () => {
    const cfg = writeConfig('follow.yaml', [
      'images:',
      '  - source: 127.0.0.1:9/outage/app:v1',
      `    target: ${target.host}/outage/app`,
    ]);
    const queueName = `outage-${randomUUID()}`;
    // No worker: the run waits, and the command follows it until Redis goes.
    const following = airlock(
      ['sync', '--config', cfg, '--queue', queueName, '--unclaimed-after', '600'],
      env(),
      60_000,
    );
    const queue = new Queue(queueName, { connection: { url: redis.url }, prefix });
    try {
      await waitFor(async () => (await queue.count()) === 1, 'the run to be queued', 300);
    } finally {
      await queue.close();
    }
    await redis.stop();
    try {
      const r = await following;
      expect(r.code).toBe(3);
      const err = lines(r.stderr);
      expect(err[0]).toMatch(new RegExp(`^run (\\d+) queued on ${queueName}: `));
      const id = /^run (\d+) /.exec(err[0] ?? '')?.[1];
      expect(err.slice(1)).toEqual([
        `airlock: [E_UNREACHABLE] cannot reach Redis at 127.0.0.1:${redis.port} (connection lost); run ${id} goes on in the workers: airlock runs show ${id}`,
      ]);
      expectClean(r.stdout + r.stderr);
    } finally {
      await redis.start();
    }
  });

  it('says so when Redis refuses the credentials (exit 4), without showing them', async () => {
    const cfg = writeConfig('wrong.yaml', []);
    const wrong = redis.url.replace(encodeURIComponent(PASSWORD), 'not-the-password');
    const r = await airlock(['runs', 'list', '--config', cfg], { OUTAGE_REDIS_URL: wrong }, 30_000);
    expect(r.code).toBe(4);
    expect(lines(r.stderr)).toEqual([
      `airlock: [E_UNAUTHORIZED] Redis at 127.0.0.1:${redis.port} refused the credentials of redis.url`,
    ]);
    expect(r.stderr).not.toContain('not-the-password');
  });
});

describe('airlock worker while Redis is away', () => {
  it('logs once when Redis goes and once when it is back, takes jobs again, and exits 0 at once on a signal while Redis is away', async () => {
    const queueName = `outage-${randomUUID()}`;
    const cfg = writeConfig('worker.yaml', []);
    // A grace period longer than the test helper waits before SIGKILL: exit 0 proves the worker did not wait for it.
    const worker = await startWorkerProcess(cfg, queueName, env(), ['--shutdown-grace', '60000']);
    try {
      await waitFor(async () => worker.stderr().includes('Redis connected'), 'the worker to reach Redis', 200);
      await redis.stop();
      await waitFor(async () => worker.stderr().includes('Redis unreachable'), 'the worker to notice', 200);
      // Reconnect attempts go on meanwhile (backoff 250 ms, 500 ms, 1 s…): none of them is a line of its own.
      await new Promise((r) => setTimeout(r, 3000));
      expect(count(worker.stderr(), 'Redis unreachable')).toBe(1);
      await redis.start();
      await waitFor(
        async () => worker.stderr().includes('Redis reachable again'),
        'the worker to notice Redis back',
        300,
      );

      // Back at work: a job queued now is copied.
      await pushImage(upstream.url, 'outage/back', 'v1', buildManifest({}));
      const queue = new Queue(queueName, { connection: { url: redis.url }, prefix });
      try {
        const job = await queue.add(JOB.mirrorImage, {
          source: `docker://${upstream.host}/outage/back:v1`,
          target: `docker://${target.host}/outage/back`,
        });
        await waitFor(async () => (await job.isCompleted()) || (await job.isFailed()), 'the job after the outage', 300);
        expect(await job.isCompleted()).toBe(true);
        expect((await getManifest(target.url, 'outage/back', 'v1')).status).toBe(200);
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
      }

      await redis.stop();
      await waitFor(async () => count(worker.stderr(), 'Redis unreachable') === 2, 'the second outage', 200);
      const exited = new Promise<number | null>((r) => worker.child.once('exit', (c) => r(c)));
      worker.child.kill('SIGINT');
      expect(await exited).toBe(0);
      const log = worker.stderr();
      expect(count(log, 'Redis reachable again')).toBe(1);
      expect(log).toContain('"signal":"SIGINT"');
      // Nothing at error level: an outage is a warning, said once.
      expect(log).not.toMatch(/"level":(50|60)/);
      expectClean(log);
    } finally {
      await worker.stop();
      await redis.start();
    }
  });

  it('started while Redis is away: says so once, no error spam, and exits 0 at once on SIGTERM', async () => {
    const cfg = writeConfig('worker-down.yaml', []);
    await redis.stop();
    const worker = await startWorkerProcess(cfg, `outage-${randomUUID()}`, env(), ['--shutdown-grace', '60000']);
    try {
      await waitFor(async () => worker.stderr().includes('Redis unreachable'), 'the worker to say Redis is away', 200);
      await new Promise((r) => setTimeout(r, 2000));
      expect(count(worker.stderr(), 'Redis unreachable')).toBe(1);
      expect(await worker.stop()).toBe(0);
      expect(worker.stderr()).not.toMatch(/"level":(50|60)/);
      expect(worker.stderr()).toContain(`"redis":"127.0.0.1:${redis.port}","cause":"connection refused"`);
      expectClean(worker.stderr());
    } finally {
      await worker.stop();
      await redis.start();
    }
  });

  describe('with a job running', () => {
    let slow: TestProxy;
    beforeAll(async () => {
      slow = await startProxy(upstream.url);
    });
    afterAll(async () => {
      await slow?.stop();
    });

    it('exits 0 within its grace period after SIGTERM even while Redis is away', async () => {
      const MiB = 1024 * 1024;
      const big = randomBlob(24 * MiB);
      await pushImage(upstream.url, 'outage/slow', 'v1', buildManifest({ layers: [big] }));
      // 2 MiB/s: the copy takes twelve seconds, longer than the grace period below.
      slow.rules.push({
        match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
        action: { type: 'throttle', bytesPerSecond: 2 * MiB },
      });
      const queueName = `outage-${randomUUID()}`;
      const cfg = writeConfig('slow.yaml', []);
      const worker: AirlockProcess = await startWorkerProcess(cfg, queueName, env(), ['--shutdown-grace', '2000']);
      const queue = new Queue(queueName, { connection: { url: redis.url }, prefix });
      try {
        await queue.add(JOB.mirrorImage, {
          source: `docker://${slow.host}/outage/slow:v1`,
          target: `docker://${target.host}/outage/slow`,
        });
        await waitFor(
          async () => slow.log.some((e) => e.path.includes(big.digest) && e.responseBytes > MiB),
          'the blob to flow',
          300,
        );
        await queue.close();
        await redis.stop();
        await waitFor(async () => worker.stderr().includes('Redis unreachable'), 'the worker to notice', 200);
        const code = await worker.stop();
        // The helper kills with SIGKILL after 10 s (exit code null): 0 is the worker's own exit, after its 2 s grace.
        expect(code).toBe(0);
        expect(worker.stderr()).toContain('grace period over');
        expect((await getManifest(target.url, 'outage/slow', 'v1')).status).toBe(404);
        expectClean(worker.stderr());
      } finally {
        slow.rules.length = 0;
        await worker.stop();
        await queue.close().catch(() => undefined);
        await redis.start();
      }
    });
  });
});

describe('airlock serve while Redis is away', () => {
  it('answers /metrics with airlock_redis_up 0 and webhooks with 503 at once, queues nothing, and exits 0 on SIGTERM', async () => {
    const queueName = `outage-${randomUUID()}`;
    const cfg = writeConfig('serve.yaml', [
      'serve:',
      '  adminToken: { env: GEN_TOKEN }',
      '  generic:',
      '    token: { env: GEN_TOKEN }',
    ]);
    const admin = { authorization: 'Bearer gen-token-outage' };
    const scrape = () => fetch(`${serve.url}/metrics`, { headers: admin, signal: AbortSignal.timeout(2000) });
    const serve = await startServeProcess(cfg, queueName, env(), ['--log-level', 'info']);
    const hook = (id: string) =>
      fetch(`${serve.url}/webhooks/generic`, {
        method: 'POST',
        body: JSON.stringify({ scope: 'all', reason: 'outage test' }),
        headers: { 'content-type': 'application/json', authorization: 'Bearer gen-token-outage', 'x-request-id': id },
        signal: AbortSignal.timeout(2000),
      });
    const queue = new Queue(queueName, { connection: { url: redis.url }, prefix });
    queue.on('error', () => undefined);
    try {
      expect(await (await scrape()).text()).toMatch(/^airlock_redis_up 1$/m);
      await redis.stop();
      await waitFor(
        async () => (await fetch(`${serve.url}/healthz`, { signal: AbortSignal.timeout(2000) })).status === 503,
        '/healthz to say 503',
        200,
      );

      // Bounded well below the 20 s a scrape took before: nothing in the answer waits for Redis.
      const metrics = await scrape();
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toMatch(/^airlock_redis_up 0$/m);
      expect(text).not.toMatch(/^airlock_queue_jobs\{/m);

      const refused = await hook('delivery-during-outage');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(await refused.json()).toEqual({ error: 'queue unavailable: Redis is unreachable' });
      expect(await (await scrape()).text()).toMatch(
        /^airlock_webhooks_total\{kind="generic",result="unavailable"\} 1$/m,
      );
      // Bull Board's page loads; its queue API answers 503 rather than wait for Redis.
      expect(
        (await fetch(`${serve.url}/admin/queues/api/queues`, { headers: admin, signal: AbortSignal.timeout(2000) }))
          .status,
      ).toBe(503);

      await redis.start();
      await waitFor(async () => (await fetch(`${serve.url}/healthz`)).status === 200, '/healthz back to 200', 300);
      // Nothing was queued while Redis was away, and the delivery was not remembered: the sender's retry counts.
      expect(await queue.count()).toBe(0);
      const retried = await hook('delivery-during-outage');
      expect(retried.status).toBe(202);
      expect(await queue.count()).toBe(1);
      const back = await (await scrape()).text();
      expect((await fetch(`${serve.url}/admin/queues/api/queues`, { headers: admin })).status).toBe(200);
      expect(back).toMatch(/^airlock_redis_up 1$/m);
      expect(back).toMatch(/^airlock_queue_jobs\{state="waiting"\} 1$/m);

      await redis.stop();
      await waitFor(async () => (await fetch(`${serve.url}/healthz`)).status === 503, '/healthz to say 503 again', 200);
      const code = await serve.stop();
      expect(code).toBe(0);
      const log = serve.stderr();
      expect(count(log, 'Redis unreachable')).toBe(2);
      expect(count(log, 'Redis reachable again')).toBe(1);
      expectClean(log);
    } finally {
      await serve.stop();
      await redis.start();
      await queue.close();
    }
  });
});
