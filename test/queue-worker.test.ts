import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/core/log.js';
import { JOB, mirrorChartJobId, mirrorImageJobId } from '../src/model/job-names.js';
import { buildChart, startChartRepo } from './support/charts.js';
import { startQueueWorker } from '../workers/worker.js';
import { airlock, CLI } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { buildManifest, getManifest, pushImage } from './support/images.js';
import { startProxy } from './support/proxy.js';
import { useQueueEnv } from './support/queue-env.js';
import { startStaticServer } from './support/static-server.js';

const env = useQueueEnv();

describe('queue worker (BullMQ on real Redis)', () => {
  it('runs mirror-image jobs through the same processor; a permanent failure is not retried', async () => {
    const queueName = `test-${randomUUID()}`;
    const connection = { url: env.redis.url };
    const queue = new Queue(queueName, { connection, prefix: env.prefix });
    const events = new QueueEvents(queueName, { connection, prefix: env.prefix });
    await events.waitUntilReady();
    const config = parseConfig({});
    const worker = startQueueWorker({
      config,
      engine: testEngine(),
      logger: silentLogger(),
      redisUrl: env.redis.url,
      queue: queueName,
      prefix: env.prefix,
      concurrency: 2,
    });
    try {
      const m = buildManifest({});
      await pushImage(env.upstream.url, 'q/app', 'v1', m);
      const source = `docker://${env.upstream.host}/q/app:v1`;
      const dest = `docker://${env.target.host}/q/app`;
      const opts = { jobId: mirrorImageJobId(source, dest), attempts: 3, backoff: { type: 'exponential', delay: 50 } };
      const job = await queue.add(JOB.mirrorImage, { source, target: dest }, opts);
      // The same trigger again while the first is queued: deduplicated by the job id.
      const dup = await queue.add(JOB.mirrorImage, { source, target: dest }, opts);
      expect(dup.id).toBe(job.id);
      const result = (await job.waitUntilFinished(events, 30_000)) as { status: string; targetDigest: string };
      expect(result).toMatchObject({ status: 'copied', targetDigest: m.digest });
      expect((await getManifest(env.target.url, 'q/app', 'v1')).status).toBe(200);

      const missing = await queue.add(
        JOB.mirrorImage,
        { source: `docker://${env.upstream.host}/q/none:v1`, target: dest },
        { ...opts, jobId: mirrorImageJobId('none', dest) },
      );
      await expect(missing.waitUntilFinished(events, 30_000)).rejects.toThrow(/E_NOT_FOUND/);
      const failed = await queue.getJob(missing.id ?? '');
      expect(failed?.attemptsMade).toBe(1);

      // Malformed data (a hand-written add, an older producer) fails its job once, with a typed
      // reason naming what is wrong; the worker goes on.
      const malformed: Array<[string, unknown, RegExp]> = [
        [
          JOB.mirrorImage,
          { target: dest },
          /^\[E_USAGE\] mirror-image: mirror-image payload invalid: source must be a non-empty string$/,
        ],
        [
          JOB.mirrorChart,
          { source: 'https://charts.example.com', chart: 'demo', target: 'oci://x/y' },
          /^\[E_USAGE\] https:\/\/charts\.example\.com demo@: mirror-chart payload invalid: /,
        ],
        [JOB.mirrorFile, 'https://example.com/f', /^\[E_USAGE\] mirror-file: mirror-file payload invalid: /],
        [JOB.sync, { scope: 7 }, /^\[E_USAGE\] sync: sync payload invalid: scope must be a string$/],
        [
          JOB.registerPlugin,
          { manifest: {} },
          /^\[E_USAGE\] register-plugin: register-plugin payload invalid: manifest with its request is missing$/,
        ],
      ];
      for (const [name, data, reason] of malformed) {
        const bad = await queue.add(name, data, { attempts: 3 });
        await expect(bad.waitUntilFinished(events, 30_000)).rejects.toThrow(reason);
        expect((await queue.getJob(bad.id ?? ''))?.attemptsMade).toBe(1);
      }

      // Charts go through the same worker.
      const chartRepo = await startChartRepo([
        { name: 'demo', version: '1.0.0', tgz: buildChart({ name: 'demo', version: '1.0.0' }) },
      ]);
      try {
        const chartTarget = `oci://${env.target.host}/charts`;
        const cj = await queue.add(
          JOB.mirrorChart,
          { source: chartRepo.url, chart: 'demo', version: '1.0.0', target: chartTarget },
          { jobId: mirrorChartJobId(chartRepo.url, 'demo', '1.0.0', chartTarget) },
        );
        expect(await cj.waitUntilFinished(events, 30_000)).toMatchObject({
          status: 'copied',
          target: `oci://${env.target.host}/charts/demo:1.0.0`,
        });
        // And files.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-files-'));
        const fileUrl = `${chartRepo.url}/index.yaml`;
        const fj = await queue.add(JOB.mirrorFile, {
          url: fileUrl,
          target: { dir, baseUrl: 'https://files.internal' },
        });
        const fr = (await fj.waitUntilFinished(events, 30_000)) as { status: string; path: string };
        expect(fr.status).toBe('copied');
        expect(fs.existsSync(path.join(dir, fr.path))).toBe(true);
      } finally {
        await chartRepo.stop();
      }
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('a file job reports the bytes it has downloaded as its progress while it runs', async () => {
    const queueName = `test-${randomUUID()}`;
    const connection = { url: env.redis.url };
    const queue = new Queue(queueName, { connection, prefix: env.prefix });
    const events = new QueueEvents(queueName, { connection, prefix: env.prefix });
    await events.waitUntilReady();
    const files = await startStaticServer();
    const slow = await startProxy(files.url);
    const worker = startQueueWorker({
      config: parseConfig({}),
      engine: testEngine(),
      logger: silentLogger(),
      redisUrl: env.redis.url,
      queue: queueName,
      prefix: env.prefix,
      concurrency: 1,
    });
    try {
      const body = randomBytes(3 * 1024 * 1024);
      files.files.set('/big.bin', body);
      // About three seconds: long enough for the progress the worker writes once a second.
      slow.rules.push({ match: (m) => m === 'GET', action: { type: 'throttle', bytesPerSecond: 1024 * 1024 } });
      const heard: number[] = [];
      events.on('progress', ({ data }) => {
        const bytes = (data as { bytes?: unknown }).bytes;
        if (typeof bytes === 'number') heard.push(bytes);
      });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-progress-'));
      const job = await queue.add(JOB.mirrorFile, {
        url: `${slow.url}/big.bin`,
        target: { dir, baseUrl: 'https://files.internal' },
      });
      const r = (await job.waitUntilFinished(events, 30_000)) as { status: string; bytes: number };
      expect(r).toMatchObject({ status: 'copied', bytes: body.length });
      expect(heard.length, 'progress events while the file was downloading').toBeGreaterThan(0);
      expect(heard.every((b) => b > 0 && b <= body.length)).toBe(true);
      expect([...heard].sort((a, b) => a - b)).toEqual(heard);
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await slow.stop();
      await files.stop();
    }
  });

  it('airlock worker exits 0 on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(cfg, `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${env.prefix}"\n`);
    const child = spawn(process.execPath, [CLI, 'worker', '--config', cfg, '--queue', `test-${randomUUID()}`], {
      env: { PATH: process.env.PATH, TEST_REDIS_URL: env.redis.url },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 100 && !stderr.includes('worker started'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toContain('worker started');
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });

  it('a registry secret that is not set ends the worker and a one-shot run with one line and exit 2 instead of hanging on Redis connections', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-secret-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      [
        'redis:',
        '  url: { env: TEST_REDIS_URL }',
        `  prefix: "${env.prefix}"`,
        'registries:',
        `  - host: ${env.target.host}`,
        '    username: mirror',
        '    password: { env: UNSET_REGISTRY_PASSWORD }',
        'images:',
        `  - source: ${env.upstream.host}/q/app`,
        '    tags: [v1]',
        `    target: ${env.target.host}/q/app`,
        '',
      ].join('\n'),
    );
    const expected = [
      'airlock: [E_CONFIG] registries[0].password reads environment variable UNSET_REGISTRY_PASSWORD, which is not set',
    ];
    for (const args of [
      ['image', 'sync', '--config', cfg],
      ['worker', '--config', cfg, '--queue', `test-${randomUUID()}`],
    ]) {
      // Before the fix the Redis connections kept both running after the line: killed at the bound.
      const r = await airlock(args, { TEST_REDIS_URL: env.redis.url }, 15_000);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.split('\n').filter((l) => l.startsWith('airlock:'))).toEqual(expected);
    }
  });
});
