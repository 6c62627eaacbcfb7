import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, formatRunDetail, formatRunTable, formatWhen, runTrigger } from '../src/cli/run-table.js';
import { JOB } from '../src/model/job-names.js';
import { listRuns, type RunSummary } from '../src/queue/runs.js';
import { airlock } from './support/cli.js';
import { startRedis, type TestRedis } from './support/redis.js';

const run = (over: Partial<RunSummary>): RunSummary => ({ id: '1', state: 'completed', reason: 'schedule nightly', scope: 'all', enqueuedAt: '2026-12-04T15:57:04.894Z', ...over });

describe('runs list and runs show (formatting)', () => {
  it('names what started a run; a retry once, by the run it retries', () => {
    expect(runTrigger(run({ reason: 'retry of run 26', retryOf: '26' }))).toBe('retry of 26');
    expect(runTrigger(run({ reason: 'schedule nightly' }))).toBe('schedule nightly');
    expect(runTrigger(run({ reason: 'airlock sync --queue' }))).toBe('sync --queue');
    // A generic webhook's reason is the sender's text: no escape sequence reaches the terminal.
    expect(runTrigger(run({ reason: 'deploy \u001b[2Jnow' }))).toBe('deploy ?[2Jnow');
  });

  it('is a table with a header, one row per run in the order given', () => {
    const lines = formatRunTable([
      run({ id: '27', reason: 'retry of run 26', retryOf: '26', scope: 'images', durationMs: 2396, summary: { copied: 2, unchanged: 0, failed: 0 } }),
      run({ id: '26', reason: 'airlock sync --queue', scope: 'images', state: 'active' }),
    ]);
    expect(lines[0]).toMatch(/^RUN +TRIGGER +SCOPE +STATE +STARTED +DURATION +COPIED\/UNCHANGED\/FAILED$/);
    const cols = (l: string) => l.split(/ {2,}/);
    expect(cols(lines[1]!)).toEqual(['27', 'retry of 26', 'images', 'completed', formatWhen('2026-12-04T15:57:04.894Z'), '2.4 s', '2/0/0']);
    expect(cols(lines[2]!)).toEqual(['26', 'sync --queue', 'images', 'active', formatWhen('2026-12-04T15:57:04.894Z'), '-', '-']);
    // Columns line up under the header.
    expect(lines[1]!.indexOf('retry of 26')).toBe(lines[0]!.indexOf('TRIGGER'));
    expect(lines[2]!.indexOf('active')).toBe(lines[0]!.indexOf('STATE'));
    expect(formatWhen('2026-12-04T15:57:04.894Z')).toMatch(/^2026-12-0[45] \d\d:\d\d:04$/);
    expect(formatDuration(185_000)).toBe('3m05s');
  });

  it('shows one run field by field, with every failure and its cause', () => {
    const lines = formatRunDetail(
      run({ id: '27', reason: 'retry of run 26', retryOf: '26', durationMs: 2396, finishedAt: '2026-12-04T15:57:07.290Z', summary: { copied: 1, unchanged: 0, failed: 1, bytes: 2048 }, failures: [{ kind: 'image', source: 'docker://r/a:1', error: { code: 'E_NOT_FOUND', message: 'manifest unknown' } }] }),
    );
    expect(lines).toContain('trigger   retry of 26');
    expect(lines).toContain('artifacts 1 copied, 0 unchanged, 1 failed, 2.0 KiB');
    expect(lines).toContain('  failed image docker://r/a:1: [E_NOT_FOUND] manifest unknown');
    expect(lines.join('\n')).not.toContain('retries run');
  });
});

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
      await queue.upsertJobScheduler('yearly', { pattern: '0 0 1 1 *' }, { name: JOB.sync, data: { scope: 'all', reason: 'schedule yearly' } });
      const first = await queue.add(JOB.sync, { scope: 'images', reason: 'airlock sync --queue' });
      const second = await queue.add(JOB.sync, { scope: 'images', reason: `retry of run ${first.id}`, retryOf: first.id });
      const third = await queue.add(JOB.sync, { scope: 'charts', reason: 'generic webhook' });
      expect((await queue.getDelayed()).some((j) => j.repeatJobKey === 'yearly')).toBe(true);

      const runs = await listRuns(queue);
      expect(runs.map((r) => r.id)).toEqual([third.id, second.id, first.id]);

      const json = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--json'], env);
      expect(json.code, json.stderr).toBe(0);
      const listed = JSON.parse(json.stdout) as RunSummary[];
      expect(listed.map((r) => r.id)).toEqual([third.id, second.id, first.id]);
      expect(listed[1]).toMatchObject({ id: second.id, state: 'waiting', scope: 'images', reason: `retry of run ${first.id}`, retryOf: first.id, enqueuedAt: expect.any(String) });

      const text = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName], env);
      expect(text.code, text.stderr).toBe(0);
      const lines = text.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^RUN +TRIGGER +SCOPE +STATE +STARTED +DURATION +COPIED\/UNCHANGED\/FAILED$/);
      expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 4))).toEqual([
        [third.id, 'generic webhook', 'charts', 'waiting'],
        [second.id, `retry of ${first.id}`, 'images', 'waiting'],
        [first.id, 'sync --queue', 'images', 'waiting'],
      ]);
      expect(text.stdout).not.toContain('yearly');

      const shown = await airlock(['runs', 'show', second.id ?? '', '--config', cfg, '--queue', queueName], env);
      expect(shown.stdout).toContain(`trigger   retry of ${first.id}\n`);

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
