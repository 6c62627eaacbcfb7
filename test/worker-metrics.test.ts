import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { JOB } from '../src/model/job-names.js';
import {
  LAST_SUCCESS_RETENTION_SECONDS,
  metricsKeys,
  readWorkerMetrics,
  redisMetricsSink,
} from '../src/queue/worker-metrics.js';
import type { ReportItem } from '../src/model/report.js';
import { startServeProcess, startWorkerProcess } from './support/airlock-processes.js';
import { buildManifest, pushImage, randomBlob } from './support/images.js';
import { useQueueEnv, writeQueueConfig } from './support/queue-env.js';

const env = useQueueEnv();

function sample(body: string, name: string, labels: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('worker metrics through Redis', () => {
  it('jobs run by a worker process show up in /metrics of a separate airlock serve process', async () => {
    const queueName = `metrics-${randomUUID()}`;
    const repo = `m${randomUUID().slice(0, 8)}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
    const cfg = writeQueueConfig(env, dir, [
      'targets:',
      '  images:',
      `    registry: ${env.target.host}`,
      '    path: "{repository}"',
      'images:',
      `  - source: ${env.upstream.host}/${repo}/scheduled`,
      '    tags: [v1]',
      'serve:',
      '  adminToken: { env: ADMIN_TOKEN }',
    ]);
    const processEnv = { TEST_REDIS_URL: env.redis.url, ADMIN_TOKEN: 'admin-secret-1' };
    const app = buildManifest({ layers: [randomBlob(3000), randomBlob(5000)] });
    const scheduled = buildManifest({ layers: [randomBlob(7000)] });
    await pushImage(env.upstream.url, `${repo}/app`, 'v1', app);
    await pushImage(env.upstream.url, `${repo}/scheduled`, 'v1', scheduled);
    const appBytes = app.blobs.reduce((n, b) => n + b.bytes.length, 0);
    const scheduledBytes = scheduled.blobs.reduce((n, b) => n + b.bytes.length, 0);

    const connection = { url: env.redis.url };
    const queue = new Queue(queueName, { connection, prefix: env.prefix });
    const events = new QueueEvents(queueName, { connection, prefix: env.prefix });
    await events.waitUntilReady();
    const worker = await startWorkerProcess(cfg, queueName, processEnv);
    const serve = await startServeProcess(cfg, queueName, processEnv);
    const redis = new Redis(env.redis.url);
    try {
      const before = Math.floor(Date.now() / 1000);
      const source = `docker://${env.upstream.host}/${repo}/app:v1`;
      const target = `docker://${env.target.host}/${repo}/app`;
      const first = await queue.add(JOB.mirrorImage, { source, target });
      expect(await first.waitUntilFinished(events, 30_000)).toMatchObject({ status: 'copied' });
      const again = await queue.add(JOB.mirrorImage, { source, target });
      expect(await again.waitUntilFinished(events, 30_000)).toMatchObject({ status: 'unchanged' });
      // 404 is permanent: failed for good at the first attempt, counted against the upstream registry.
      const missing = await queue.add(
        JOB.mirrorImage,
        { source: `docker://${env.upstream.host}/${repo}/none:v1`, target },
        { attempts: 3 },
      );
      await expect(missing.waitUntilFinished(events, 30_000)).rejects.toThrow(/E_NOT_FOUND/);
      // A sync run of the worker's config is a flow: its image is a mirror-image child job, counted like any other.
      const run = await queue.add(JOB.sync, { scope: 'images', reason: 'test' });
      expect(await run.waitUntilFinished(events, 60_000)).toMatchObject({ ok: true });

      expect((await fetch(`${serve.url}/metrics`)).status).toBe(401);
      const res = await fetch(`${serve.url}/metrics`, { headers: { authorization: 'Bearer admin-secret-1' } });
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(sample(body, 'airlock_bytes_copied_total', 'kind="image"')).toBe(appBytes + scheduledBytes);
      expect(sample(body, 'airlock_artifacts_total', 'kind="image",status="copied"')).toBe(2);
      expect(sample(body, 'airlock_artifacts_total', 'kind="image",status="unchanged"')).toBe(1);
      expect(sample(body, 'airlock_artifacts_total', 'kind="image",status="failed"')).toBe(1);
      expect(sample(body, 'airlock_upstream_errors_total', `upstream="${env.upstream.host}",code="E_NOT_FOUND"`)).toBe(
        1,
      );
      expect(sample(body, 'airlock_jobs_total', 'kind="mirror-image",state="completed"')).toBe(3);
      expect(sample(body, 'airlock_jobs_total', 'kind="mirror-image",state="failed"')).toBe(1);
      expect(sample(body, 'airlock_jobs_total', 'kind="sync",state="completed"')).toBe(1);
      const appSeen =
        sample(body, 'airlock_last_success_timestamp_seconds', `source="${env.upstream.host}/${repo}/app"`) ?? 0;
      expect(appSeen).toBeGreaterThanOrEqual(before);
      expect(appSeen).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      expect(
        sample(body, 'airlock_last_success_timestamp_seconds', `source="${env.upstream.host}/${repo}/scheduled"`),
      ).toBeGreaterThanOrEqual(before);
      expect(
        sample(body, 'airlock_last_success_timestamp_seconds', `source="${env.upstream.host}/${repo}/none"`),
      ).toBeUndefined();
    } finally {
      await worker.stop();
      await serve.stop();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
      const keys = metricsKeys(env.prefix, queueName);
      await redis.del(keys.counters, keys.lastSuccess);
      await redis.quit();
    }
  });
});

describe('last-success gauge bounds', () => {
  it('keeps one series per addon (not per version) and drops sources past the retention', async () => {
    const redis = new Redis(env.redis.url, { maxRetriesPerRequest: null });
    const queueName = `bounds-${randomUUID()}`;
    const prefix = '{bounds}';
    const sink = redisMetricsSink(redis, prefix, queueName);
    const item = (kind: ReportItem['kind'], source: string): ReportItem => ({
      kind,
      source,
      target: 't',
      status: 'unchanged',
      bytes: 0,
      blobs: { copied: 0, skipped: 0, mounted: 0 },
      referrers: 0,
      durationMs: 0,
      warnings: [],
    });
    const now = new Date();
    try {
      await sink.record(
        JOB.mirrorFile,
        'completed',
        [item('file', 'https://old.example/f')],
        new Date(now.getTime() - (LAST_SUCCESS_RETENTION_SECONDS + 60) * 1000),
      );
      await sink.record(
        JOB.publishAddons,
        'completed',
        [item('addon', 'official/velaux@1.0.0'), item('addon', 'official/velaux@1.1.0')],
        now,
      );
      const sources = (await readWorkerMetrics(redis, prefix, queueName)).lastSuccess.map((s) => s.labels.source);
      expect(sources).toEqual(['official/velaux']);
    } finally {
      const keys = metricsKeys(prefix, queueName);
      await redis.del(keys.counters, keys.lastSuccess);
      await redis.quit();
    }
  });
});
