import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB } from '../src/model/job-names.js';
import { listRuns, type RunSummary } from '../src/queue/runs.js';
import { airlock } from './support/cli.js';
import { startRedis, type TestRedis } from './support/redis.js';

let redis: TestRedis;
const prefix = '{airlock-test}';

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('runs list (queue)', () => {
  it('lists runs newest first, not the schedules waiting to fire; --json keeps its shape; list and show have help', async () => {
    const queueName = `runs-list-${randomUUID()}`;
    const queue = new Queue(queueName, { connection: { url: redis.url }, prefix });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runs-list-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(cfg, `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${prefix}"\n`);
    const env = { TEST_REDIS_URL: redis.url };
    try {
      // A schedule far from firing: its next run waits in the queue as a delayed job.
      await queue.upsertJobScheduler(
        'yearly',
        { pattern: '0 0 1 1 *' },
        { name: JOB.sync, data: { scope: 'all', reason: 'schedule yearly' } },
      );
      const first = await queue.add(JOB.sync, { scope: 'images', reason: 'airlock sync --queue' });
      const second = await queue.add(JOB.sync, {
        scope: 'images',
        reason: `retry of run ${first.id}`,
        retryOf: first.id,
      });
      const third = await queue.add(JOB.sync, { scope: 'charts', reason: 'generic webhook' });
      expect((await queue.getDelayed()).some((j) => j.repeatJobKey === 'yearly')).toBe(true);

      const runs = await listRuns(queue);
      expect(runs.map((r) => r.id)).toEqual([third.id, second.id, first.id]);

      const json = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--json'], env);
      expect(json.code, json.stderr).toBe(0);
      const listed = JSON.parse(json.stdout) as RunSummary[];
      expect(listed.map((r) => r.id)).toEqual([third.id, second.id, first.id]);
      expect(listed[1]).toMatchObject({
        id: second.id,
        state: 'waiting',
        scope: 'images',
        reason: `retry of run ${first.id}`,
        retryOf: first.id,
        enqueuedAt: expect.any(String),
      });

      const text = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName], env);
      expect(text.code, text.stderr).toBe(0);
      const lines = text.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^RUN +TRIGGER +SCOPE +STATE +STARTED +DURATION +COPIED\/UNCHANGED\/FAILED$/);
      // No worker took them: no start and no duration (not the enqueue time as their start).
      expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 6))).toEqual([
        [third.id, 'generic webhook', 'charts', 'waiting', '-', '-'],
        [second.id, `retry of ${first.id}`, 'images', 'waiting', '-', '-'],
        [first.id, 'sync --queue', 'images', 'waiting', '-', '-'],
      ]);
      expect(text.stdout).not.toContain('yearly');

      // Not "no sync runs" with exit 0 while runs exist: a count that is none is a usage error.
      for (const limit of ['abc', '0', '2x']) {
        const bad = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--limit', limit], env);
        expect([bad.code, bad.stdout, bad.stderr]).toEqual([
          2,
          '',
          `airlock: [E_USAGE] --limit must be a positive whole number, got "${limit}"\n`,
        ]);
      }
      const two = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--limit', '2'], env);
      expect(two.stdout.trimEnd().split('\n')).toHaveLength(3);

      const shown = await airlock(['runs', 'show', second.id ?? '', '--config', cfg, '--queue', queueName], env);
      expect(shown.stdout).toContain(`trigger   retry of ${first.id}\n`);
      expect(shown.stdout).toMatch(/^queued {4}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\nstarted {3}-\n/m);

      for (const sub of ['list', 'show']) {
        const help = await airlock(['runs', sub, '--help']);
        expect(help.stdout.split('\n')[2]?.trim().length, help.stdout).toBeGreaterThan(20);
      }
      const overview = await airlock(['runs', '--help']);
      expect(overview.stdout).toMatch(/^ {2}list \[options\] +the sync runs the queue holds/m);
      expect(overview.stdout).toMatch(/^ {2}show \[options\] <run> +one run:/m);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
