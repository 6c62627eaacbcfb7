import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/queue/runs.js';
import { startWorkerProcess } from './support/airlock-processes.js';
import { airlock } from './support/cli.js';
import { buildManifest, digest, getManifest, pushImage } from './support/images.js';
import { useQueueEnv, writeQueueConfig } from './support/queue-env.js';

const env = useQueueEnv();

describe('airlock runs retry', () => {
  it('re-runs only what a run failed, as a new run linked to the old one', async () => {
    const queueName = `retry-${randomUUID()}`;
    const ns = `r${randomUUID().slice(0, 8)}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-'));
    const cfg = writeQueueConfig(env, dir, [
      'targets:',
      '  images:',
      `    registry: ${env.target.host}`,
      '    path: "{repository}"',
      'images:',
      `  - source: ${env.upstream.host}/${ns}/good`,
      '    tags: [v1]',
      // Not pushed yet: the copy fails with a 404.
      `  - source: ${env.upstream.host}/${ns}/late`,
      '    tags: [v1]',
      // No repository yet: planning (listing tags) fails, so the entry is planned again on retry.
      `  - source: ${env.upstream.host}/${ns}/ranged`,
      '    semver: ">=1.0.0"',
    ]);
    const processEnv = { TEST_REDIS_URL: env.redis.url };
    await pushImage(env.upstream.url, `${ns}/good`, 'v1', buildManifest({}));
    const worker = await startWorkerProcess(cfg, queueName, processEnv);
    const queue = new Queue(queueName, { connection: { url: env.redis.url }, prefix: env.prefix });
    try {
      const first = await airlock(
        ['sync', '--config', cfg, '--queue', queueName, '--only', 'images', '--json'],
        processEnv,
      );
      // Both failures are E_NOT_FOUND (a missing manifest, a missing repository): exit 5, as the one-shot sync.
      expect(first.code, first.stderr).toBe(5);
      const run = JSON.parse(first.stdout) as RunSummary;
      expect(run.summary).toMatchObject({ copied: 1, failed: 2 });
      expect(run.failures?.map((f) => f.source).sort()).toEqual([
        `${env.upstream.host}/${ns}/ranged`,
        `docker://${env.upstream.host}/${ns}/late:v1`,
      ]);

      // Still failing upstream: the retry fails the same two, and copies nothing else.
      const early = await airlock(
        ['runs', 'retry', run.id, '--config', cfg, '--queue', queueName, '--follow', '--json'],
        processEnv,
      );
      expect(early.code).toBe(5);
      expect((JSON.parse(early.stdout) as RunSummary).summary).toMatchObject({ copied: 0, unchanged: 0, failed: 2 });

      // The upstream is fixed.
      const late = buildManifest({});
      const ranged = buildManifest({});
      await pushImage(env.upstream.url, `${ns}/late`, 'v1', late);
      await pushImage(env.upstream.url, `${ns}/ranged`, '1.2.0', ranged);

      const queued = await airlock(['runs', 'retry', run.id, '--config', cfg, '--queue', queueName], processEnv);
      expect(queued.code, queued.stderr).toBe(0);
      const newId = queued.stdout.trim();
      expect(newId).toMatch(/^\d+$/);
      expect(newId).not.toBe(run.id);
      const job = await queue.getJob(newId);
      expect(job?.data).toMatchObject({ retryOf: run.id, reason: `retry of run ${run.id}` });
      for (let i = 0; i < 300 && !(await job?.isCompleted()); i++) await new Promise((r) => setTimeout(r, 100));

      const shown = await airlock(['runs', 'show', newId, '--config', cfg, '--queue', queueName, '--json'], processEnv);
      const retried = JSON.parse(shown.stdout) as RunSummary;
      // Only the two failed artifacts ran: the good image is not even checked again (it would count as unchanged).
      expect(retried).toMatchObject({
        state: 'completed',
        retryOf: run.id,
        summary: { copied: 2, unchanged: 0, failed: 0 },
      });
      expect(digest((await getManifest(env.target.url, `${ns}/late`, 'v1')).bytes)).toBe(late.digest);
      expect(digest((await getManifest(env.target.url, `${ns}/ranged`, '1.2.0')).bytes)).toBe(ranged.digest);

      // A run without failures has nothing to retry.
      const nothing = await airlock(['runs', 'retry', newId, '--config', cfg, '--queue', queueName], processEnv);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain(`run ${newId} has no failures to retry`);
      const missing = await airlock(['runs', 'retry', '999999', '--config', cfg, '--queue', queueName], processEnv);
      expect(missing.stderr).toContain('no sync run 999999');
    } finally {
      await worker.stop();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
