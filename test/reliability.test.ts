import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB, mirrorImageJobId } from '../src/model/job-names.js';
import { CLI } from './support/cli.js';
import { buildManifest, digest, getBlob, getManifest, pushImage, randomBlob } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startOwnRedis, startRedis, type TestRedis } from './support/redis.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let redis: TestRedis;
let upstream: TestRegistry;
let target: TestRegistry;
let slow: TestProxy;
const prefix = '{airlock-test}';
const MiB = 1024 * 1024;

beforeAll(async () => {
  redis = await startRedis();
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  slow = await startProxy(upstream.url);
});

afterAll(async () => {
  await slow?.stop();
  await Promise.all([upstream?.stop(), target?.stop()]);
  await redis?.stop();
});

function startWorker(cfg: string, queueName: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--config',
      cfg,
      '--queue',
      queueName,
      '--lock-duration',
      '2000',
      '--stalled-interval',
      '1000',
      '--log-level',
      'warn',
    ],
    {
      env: { PATH: process.env.PATH, TEST_REDIS_URL: redis.url, HOME: process.env.HOME },
      stdio: 'ignore',
    },
  );
}

describe('worker reliability', () => {
  it('a worker killed with SIGKILL in the middle of a large blob copy: another worker finishes the job, the target complete and verified', async () => {
    const big = randomBlob(48 * MiB);
    const m = buildManifest({ layers: [big, randomBlob(1000)] });
    await pushImage(upstream.url, 'reliable/app', 'v1', m);
    // 8 MiB/s: the copy takes about six seconds, long enough to kill the worker mid-blob.
    slow.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
      action: { type: 'throttle', bytesPerSecond: 8 * MiB },
    });

    const queueName = `test-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliable-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${prefix}"\nstate:\n  file: ${path.join(dir, 'state.json')}\n`,
    );
    const connection = { url: redis.url };
    const queue = new Queue(queueName, { connection, prefix });
    const events = new QueueEvents(queueName, { connection, prefix });
    await events.waitUntilReady();
    const first = startWorker(cfg, queueName);
    let second: ChildProcess | undefined;
    try {
      const source = `docker://${slow.host}/reliable/app:v1`;
      const dest = `docker://${target.host}/reliable/app`;
      const job = await queue.add(
        JOB.mirrorImage,
        { source, target: dest },
        { jobId: mirrorImageJobId(source, dest), attempts: 3 },
      );
      // Wait until the big blob is flowing, then kill the worker without warning.
      for (let i = 0; i < 200; i++) {
        if (slow.log.some((e) => e.path.includes(big.digest) && e.responseBytes > 8 * MiB)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(slow.log.some((e) => e.path.includes(big.digest) && e.responseBytes > 8 * MiB)).toBe(true);
      first.kill('SIGKILL');
      expect((await getManifest(target.url, 'reliable/app', 'v1')).status).toBe(404);
      slow.rules.length = 0;
      second = startWorker(cfg, queueName);
      const result = (await job.waitUntilFinished(events, 60_000)) as { targetDigest: string };
      expect(result.targetDigest).toBe(m.digest);
      expect(digest((await getManifest(target.url, 'reliable/app', 'v1')).bytes)).toBe(m.digest);
      expect(digest((await getBlob(target.url, 'reliable/app', big.digest)).bytes)).toBe(big.digest);
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('Redis restart', () => {
  it('workers reconnect after Redis restarts and go on with the queue', async () => {
    const { startQueueWorker } = await import('../workers/worker.js');
    const { parseConfig } = await import('../src/config/load.js');
    const { silentLogger } = await import('../src/core/log.js');
    const { testEngine } = await import('./support/engine.js');
    const server = await startOwnRedis();
    const url = server.url;
    const queueName = `test-${randomUUID()}`;
    const worker = startQueueWorker({
      config: parseConfig({}),
      engine: testEngine(),
      logger: silentLogger(),
      redisUrl: url,
      queue: queueName,
      prefix,
    });
    const queue = new Queue(queueName, { connection: { url }, prefix });
    queue.on('error', () => undefined);
    try {
      for (const tag of ['before', 'after']) await pushImage(upstream.url, 'restart/app', tag, buildManifest({}));
      const events = new QueueEvents(queueName, { connection: { url }, prefix });
      events.on('error', () => undefined);
      const before = await queue.add(JOB.mirrorImage, {
        source: `docker://${upstream.host}/restart/app:before`,
        target: `docker://${target.host}/restart/app`,
      });
      await before.waitUntilFinished(events, 30_000);
      await events.close();

      await server.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await server.start();

      const events2 = new QueueEvents(queueName, { connection: { url }, prefix });
      events2.on('error', () => undefined);
      await events2.waitUntilReady();
      const after = await queue.add(JOB.mirrorImage, {
        source: `docker://${upstream.host}/restart/app:after`,
        target: `docker://${target.host}/restart/app`,
      });
      const r = (await after.waitUntilFinished(events2, 30_000)) as { status: string };
      expect(r.status).toBe('copied');
      expect((await getManifest(target.url, 'restart/app', 'after')).status).toBe(200);
      await events2.close();
    } finally {
      await worker.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await server.stop();
    }
  });
});
