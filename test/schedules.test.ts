import { randomUUID } from 'node:crypto';
import { cacheDirsIn } from '../src/config/cache-dirs.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/core/log.js';
import { applySchedules, listSchedules } from '../src/queue/schedules.js';
import { startQueueWorker } from '../workers/worker.js';
import { airlock } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { buildManifest, getManifest, pushImage } from './support/images.js';
import { useQueueEnv } from './support/queue-env.js';

const qe = useQueueEnv();

describe('schedules', () => {
  it('keeps Redis in step with the config and lists next run times from the CLI', async () => {
    const queueName = `test-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sched-'));
    const cfg = path.join(dir, 'airlock.yaml');
    const write = (schedules: string) =>
      fs.writeFileSync(
        cfg,
        `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${qe.prefix}"\nschedules:\n${schedules}`,
      );
    const env = { TEST_REDIS_URL: qe.redis.url };
    write(
      '  - name: nightly\n    cron: "0 2 * * *"\n    tz: Europe/Berlin\n    scope: images\n  - name: hourly-charts\n    cron: "15 * * * *"\n    scope: charts\n',
    );
    const first = await airlock(['scheduler', '--config', cfg, '--queue', queueName], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('scheduled nightly');
    const list = await airlock(['schedules', 'list', '--config', cfg, '--queue', queueName, '--json'], env);
    const schedules = JSON.parse(list.stdout) as Array<{
      name: string;
      cron: string;
      tz?: string;
      scope: string;
      next?: string;
    }>;
    expect(schedules.map((s) => s.name).sort()).toEqual(['hourly-charts', 'nightly']);
    const nightly = schedules.find((s) => s.name === 'nightly');
    expect(nightly).toMatchObject({ cron: '0 2 * * *', tz: 'Europe/Berlin', scope: 'images' });
    expect(Date.parse(nightly?.next ?? '')).toBeGreaterThan(Date.now());

    write('  - name: nightly\n    cron: "0 3 * * *"\n    scope: all\n');
    const second = await airlock(['scheduler', '--config', cfg, '--queue', queueName], env);
    expect(second.stdout).toContain('removed   hourly-charts');
    const after = JSON.parse(
      (await airlock(['schedules', 'list', '--config', cfg, '--queue', queueName, '--json'], env)).stdout,
    ) as Array<{ name: string; cron: string }>;
    expect(after).toEqual([expect.objectContaining({ name: 'nightly', cron: '0 3 * * *', scope: 'all' })]);

    // Every schedule gone from the config: Redis holds none, and the command says so.
    write('  []\n');
    const third = await airlock(['scheduler', '--config', cfg, '--queue', queueName], env);
    expect(third.stdout).toBe(`removed   nightly\n`);
    const fourth = await airlock(['scheduler', '--config', cfg, '--queue', queueName], env);
    expect(fourth.stdout).toBe(`no schedules in ${cfg}; queue ${queueName} holds none\n`);
    expect(
      JSON.parse((await airlock(['schedules', 'list', '--config', cfg, '--queue', queueName, '--json'], env)).stdout),
    ).toEqual([]);

    const bad = await airlock(['scheduler', '--config', cfg.replace('airlock.yaml', 'bad.yaml')], env);
    expect(bad.code).toBe(2);
    const queue = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
    await queue.obliterate({ force: true });
    for (const s of await queue.getJobSchedulers()) await queue.removeJobScheduler(s.key);
    await queue.close();
  });

  it('a schedule fires a sync job that a worker runs over its config', async () => {
    const m = buildManifest({});
    await pushImage(qe.upstream.url, 'sched/app', 'v1', m);
    const queueName = `test-${randomUUID()}`;
    const config = parseConfig({
      images: [
        { source: `${qe.upstream.host}/sched/app:v1`, target: `${qe.target.host}/sched/app` },
        { source: `${qe.upstream.host}/sched/missing:v1`, target: `${qe.target.host}/sched/missing` },
      ],
      schedules: [{ name: 'every-second', cron: '* * * * * *', scope: 'images' }],
    });
    const connection = { url: qe.redis.url };
    const queue = new Queue(queueName, { connection, prefix: qe.prefix });
    const events = new QueueEvents(queueName, { connection, prefix: qe.prefix });
    await events.waitUntilReady();
    const worker = startQueueWorker({
      config,
      engine: testEngine(),
      logger: silentLogger(),
      redisUrl: qe.redis.url,
      queue: queueName,
      prefix: qe.prefix,
      cacheDirs: cacheDirsIn(fs.mkdtempSync(path.join(os.tmpdir(), 'cache-'))),
    });
    try {
      // The run's own completion, not its children's (a run is a flow of one job per artifact).
      const done = new Promise<{ returnvalue: string }>((resolve) =>
        events.on('completed', (e) => {
          void queue.getJob(e.jobId).then((j) => {
            if (j?.name === 'sync') resolve(e as { returnvalue: string });
          });
        }),
      );
      await applySchedules(queue, config.schedules);
      expect((await listSchedules(queue))[0]).toMatchObject({ name: 'every-second', scope: 'images' });
      const completed = await Promise.race([
        done,
        new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('no scheduled run within 20 s')), 20_000)),
      ]);
      const result = (
        typeof completed.returnvalue === 'string' ? JSON.parse(completed.returnvalue) : completed.returnvalue
      ) as {
        ok: boolean;
        summary: Record<string, number>;
        failures: Array<{ kind: string; source: string; error?: { code: string } }>;
      };
      expect((result.summary.copied ?? 0) + (result.summary.unchanged ?? 0)).toBe(1);
      // A scheduled run's id holds colons (repeat:NAME:MILLIS); its failed children are still named.
      expect(result.failures.map((f) => `${f.kind} ${f.source} ${f.error?.code}`)).toEqual([
        `image docker://${qe.upstream.host}/sched/missing:v1 E_NOT_FOUND`,
      ]);
      expect((await getManifest(qe.target.url, 'sched/app', 'v1')).status).toBe(200);
    } finally {
      await applySchedules(queue, []);
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('airlock sync --queue hands the run to a worker and follows it; runs list and show report it', async () => {
    const m = buildManifest({});
    await pushImage(qe.upstream.url, 'queued/app', 'v1', m);
    const queueName = `test-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queued-'));
    const cfg = path.join(dir, 'airlock.yaml');
    const yaml = `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${qe.prefix}"\nimages:\n  - source: ${qe.upstream.host}/queued/app:v1\n    target: ${qe.target.host}/queued/app\n  - source: ${qe.upstream.host}/queued/missing:v1\n    target: ${qe.target.host}/queued/missing\n`;
    fs.writeFileSync(cfg, yaml);
    const config = parseConfig({
      images: [
        { source: `${qe.upstream.host}/queued/app:v1`, target: `${qe.target.host}/queued/app` },
        { source: `${qe.upstream.host}/queued/missing:v1`, target: `${qe.target.host}/queued/missing` },
      ],
    });
    const worker = startQueueWorker({
      config,
      engine: testEngine(),
      logger: silentLogger(),
      redisUrl: qe.redis.url,
      queue: queueName,
      prefix: qe.prefix,
      cacheDirs: cacheDirsIn(fs.mkdtempSync(path.join(os.tmpdir(), 'cache-'))),
    });
    const env = { TEST_REDIS_URL: qe.redis.url };
    try {
      const r = await airlock(['sync', '--config', cfg, '--queue', queueName, '--only', 'images', '--json'], env);
      const run = JSON.parse(r.stdout) as {
        id: string;
        state: string;
        scope: string;
        summary: Record<string, number>;
        failures: Array<{ source: string; error: { code: string } }>;
      };
      expect(run).toMatchObject({
        state: 'completed',
        scope: 'images',
        summary: expect.objectContaining({ copied: 1, failed: 1 }),
      });
      expect(run.failures).toEqual([
        expect.objectContaining({
          source: `docker://${qe.upstream.host}/queued/missing:v1`,
          error: expect.objectContaining({ code: 'E_NOT_FOUND' }),
        }),
      ]);
      // One E_NOT_FOUND: exit 5, as the one-shot sync gives for the same failure.
      expect(r.code).toBe(5);
      // The run lasts from its start to after its last child, not the few milliseconds of its final step.
      const timed = JSON.parse(r.stdout) as {
        enqueuedAt: string;
        startedAt: string;
        finishedAt: string;
        durationMs: number;
      };
      const q = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
      const children = (await q.getJobs(['completed', 'failed'])).filter((j) => j.id?.startsWith(`${run.id}-`));
      await q.close();
      expect(children).toHaveLength(2);
      const lastChild = Math.max(...children.map((j) => j.finishedOn ?? 0));
      expect(Date.parse(timed.startedAt)).toBeGreaterThanOrEqual(Date.parse(timed.enqueuedAt));
      expect(timed.durationMs).toBe(Date.parse(timed.finishedAt) - Date.parse(timed.startedAt));
      expect(Date.parse(timed.startedAt) + timed.durationMs).toBeGreaterThanOrEqual(lastChild);
      const list = JSON.parse(
        (await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--json'], env)).stdout,
      ) as Array<{ id: string }>;
      expect(list.map((x) => x.id)).toContain(run.id);
      const show = await airlock(['runs', 'show', run.id, '--config', cfg, '--queue', queueName], env);
      expect(show.stdout).toMatch(/failed image docker:\/\/.*queued\/missing:v1: \[E_NOT_FOUND\]/);
      const none = await airlock(['runs', 'show', 'nope', '--config', cfg, '--queue', queueName], env);
      expect(none.code).toBe(5);
    } finally {
      await worker.close();
      const queue = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
