import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB } from '../src/model/job-names.js';
import type { RunSummary } from '../src/queue/runs.js';
import { startServeProcess, startWorkerProcess, type AirlockProcess } from './support/airlock-processes.js';
import { airlock } from './support/cli.js';
import { buildManifest, digest, getManifest, pushImage, randomBlob, type BuiltManifest } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { useQueueEnv, writeQueueConfig } from './support/queue-env.js';

const env = useQueueEnv();
const MiB = 1024 * 1024;
let source: TestProxy;
let target: TestProxy;

beforeAll(async () => {
  // Both sides through recording proxies: the source to slow one blob down, the target to count writes.
  source = await startProxy(env.upstream.url);
  target = await startProxy(env.target.url);
});

afterAll(async () => {
  await source?.stop();
  await target?.stop();
});

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Writes at the target that store `blob` (the upload's closing request names its digest). */
function blobWrites(blobDigest: string): number {
  return target.log.filter(
    (e) =>
      (e.method === 'PUT' || e.method === 'POST') &&
      decodeURIComponent(e.path).includes(`digest=${blobDigest}`) &&
      e.status === 201,
  ).length;
}

function manifestWrites(repo: string, tag: string): number {
  return target.log.filter((e) => e.method === 'PUT' && e.path === `/v2/${repo}/manifests/${tag}`).length;
}

describe('overlapping triggers (real worker processes)', () => {
  it('the same webhook twice and cron ticks while a run is going: each artifact is copied exactly once', async () => {
    const ns = `o${randomUUID().slice(0, 8)}`;
    const queueName = `overlap-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overlap-'));
    const slowBlob = randomBlob(6 * MiB);
    const images: Record<string, BuiltManifest> = {
      a: buildManifest({ layers: [slowBlob, randomBlob(2000)] }),
      b: buildManifest({ layers: [randomBlob(3000)] }),
      c: buildManifest({ layers: [randomBlob(4000)] }),
    };
    for (const [name, m] of Object.entries(images)) await pushImage(env.upstream.url, `${ns}/${name}`, 'v1', m);
    // 2 MiB/s: image a takes about three seconds, the window for the other triggers.
    source.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${slowBlob.digest}`),
      action: { type: 'throttle', bytesPerSecond: 2 * MiB },
    });
    const cfg = writeQueueConfig(env, dir, [
      'targets:',
      '  images:',
      `    registry: ${target.host}`,
      '    path: "{repository}"',
      'images:',
      ...Object.keys(images).flatMap((n) => [`  - source: ${source.host}/${ns}/${n}`, '    tags: [v1]']),
      'schedules:',
      // Every second: ticks land while the webhook's run is copying.
      `  - name: tick-${ns}`,
      '    cron: "* * * * * *"',
      '    scope: images',
      'serve:',
      '  generic:',
      '    token: { env: GEN_TOKEN }',
      '  registry:',
      '    token: { env: REG_TOKEN }',
    ]);
    const processEnv = { TEST_REDIS_URL: env.redis.url, GEN_TOKEN: 'gen-tok-1234', REG_TOKEN: 'reg-tok-5678' };
    const queue = new Queue(queueName, { connection: { url: env.redis.url }, prefix: env.prefix });
    const procs: AirlockProcess[] = [];
    try {
      procs.push(
        await startWorkerProcess(cfg, queueName, processEnv),
        await startWorkerProcess(cfg, queueName, processEnv),
      );
      const serve = await startServeProcess(cfg, queueName, processEnv);
      procs.push(serve);

      const generic = () =>
        fetch(`${serve.url}/webhooks/generic`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: 'Bearer gen-tok-1234',
            'x-request-id': `release-${ns}`,
          },
          body: JSON.stringify({ scope: 'images', reason: 'release' }),
        });
      const first = await generic();
      expect(first.status).toBe(202);
      const runId = ((await first.json()) as { run: string }).run;
      expect(await (await generic()).json()).toEqual({ duplicate: true });

      // The upstream notifies the push of image a twice (two deliveries), while the run copies it.
      await until('the run copying image a', async () =>
        source.log.some((e) => e.path.includes(slowBlob.digest) && e.responseBytes > 0),
      );
      const push = JSON.stringify({
        events: [{ action: 'push', target: { repository: `${ns}/a`, tag: 'v1' }, request: { host: source.host } }],
      });
      for (const id of ['n1', 'n2']) {
        const r = await fetch(`${serve.url}/webhooks/registry`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: 'Bearer reg-tok-5678',
            'x-request-id': `${ns}-${id}`,
          },
          body: push,
        });
        expect(r.status).toBe(202);
      }
      const scheduler = await airlock(['scheduler', '--config', cfg, '--queue', queueName], processEnv);
      expect(scheduler.code, scheduler.stderr).toBe(0);

      await until(
        'the webhook run to finish',
        async () => ['completed', 'failed'].includes(await queue.getJobState(runId)),
        90_000,
      );
      const runFinished = (await queue.getJob(runId))?.finishedOn ?? 0;
      // Ticks went on during the run; let one more start after it, then stop them and drain the queue.
      await until('a tick after the run', async () =>
        (await queue.getJobs(['completed', 'active'])).some(
          (j) =>
            j.name === JOB.sync &&
            (j.data as { reason?: string }).reason === `schedule tick-${ns}` &&
            (j.processedOn ?? 0) > runFinished,
        ),
      );
      await queue.removeJobScheduler(`tick-${ns}`);
      await until('the queue to drain', async () => {
        const c = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
        return Object.values(c).every((n) => n === 0);
      });

      const runs = (await queue.getJobs(['completed', 'failed'])).filter((j) => j.name === JOB.sync);
      const ticks = runs.filter((j) => (j.data as { reason?: string }).reason === `schedule tick-${ns}`);
      // A run is a flow parent, processed again when its children are done: when it fired is what counts.
      const overlapping = ticks.filter((j) => j.timestamp < runFinished);
      expect(overlapping.length, 'a tick ran while the webhook run was going').toBeGreaterThan(0);
      const shown = JSON.parse(
        (await airlock(['runs', 'show', runId, '--config', cfg, '--queue', queueName, '--json'], processEnv)).stdout,
      ) as RunSummary;
      expect(shown).toMatchObject({ state: 'completed', summary: { failed: 0 } });
      for (const j of runs)
        expect((j.returnvalue as { summary?: { failed: number } }).summary?.failed, `run ${j.id}`).toBe(0);

      for (const [name, m] of Object.entries(images)) {
        expect(digest((await getManifest(env.target.url, `${ns}/${name}`, 'v1')).bytes)).toBe(m.digest);
        expect(manifestWrites(`${ns}/${name}`, 'v1'), `manifest writes of ${name}`).toBe(1);
        for (const b of m.blobs)
          expect(blobWrites(b.digest), `writes of ${name} blob ${b.digest.slice(0, 19)}`).toBe(1);
      }
    } finally {
      source.rules.length = 0;
      await Promise.all(procs.map((p) => p.stop()));
      for (const s of await queue.getJobSchedulers()) await queue.removeJobScheduler(s.key);
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('an upstream down for part of a run (real worker process)', () => {
  it('its artifacts fail after retries with the cause, the rest complete, and a retry finishes them once it is back', async () => {
    const ns = `d${randomUUID().slice(0, 8)}`;
    const queueName = `down-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'down-'));
    const { startRegistry } = await import('./support/registry.js');
    const other = await startRegistry();
    const flaky = await startProxy(other.url);
    const good: Record<string, BuiltManifest> = {
      g1: buildManifest({ layers: [randomBlob(4 * MiB)] }),
      g2: buildManifest({}),
    };
    const lost: Record<string, BuiltManifest> = {
      f1: buildManifest({ layers: [randomBlob(3 * MiB)] }),
      f2: buildManifest({ layers: [randomBlob(3 * MiB)] }),
    };
    for (const [name, m] of Object.entries(good)) await pushImage(env.upstream.url, `${ns}/${name}`, 'v1', m);
    for (const [name, m] of Object.entries(lost)) await pushImage(other.url, `${ns}/${name}`, 'v1', m);
    // Slow enough that the run is still copying when the second upstream goes away.
    const slowGood = good.g1?.blobs[1]?.digest ?? '';
    source.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${slowGood}`),
      action: { type: 'throttle', bytesPerSecond: 2 * MiB },
    });
    flaky.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/blobs/sha256:'),
      action: { type: 'throttle', bytesPerSecond: 512 * 1024 },
    });
    const cfg = writeQueueConfig(env, dir, [
      'retry:',
      '  attempts: 3',
      '  baseDelayMs: 100',
      '  maxDelayMs: 300',
      'targets:',
      '  images:',
      `    registry: ${target.host}`,
      '    path: "{repository}"',
      'images:',
      ...Object.keys(good).flatMap((n) => [`  - source: ${source.host}/${ns}/${n}`, '    tags: [v1]']),
      ...Object.keys(lost).flatMap((n) => [`  - source: ${flaky.host}/${ns}/${n}`, '    tags: [v1]']),
    ]);
    const processEnv = { TEST_REDIS_URL: env.redis.url };
    const queue = new Queue(queueName, { connection: { url: env.redis.url }, prefix: env.prefix });
    const worker = await startWorkerProcess(cfg, queueName, processEnv);
    try {
      const run = await queue.add(JOB.sync, { scope: 'images', reason: 'test' });
      await until('both blobs of the second upstream flowing', async () =>
        Object.values(lost).every((m) =>
          flaky.log.some((e) => e.path.includes(m.blobs[1]?.digest ?? '-') && e.responseBytes > 0),
        ),
      );
      // The upstream goes away: transfers in flight die, new connections are dropped.
      flaky.rules.unshift({ match: () => true, action: { type: 'reset' } });
      const before = flaky.log.length;
      flaky.dropConnections();
      await until(
        'the run to finish',
        async () => ['completed', 'failed'].includes(await queue.getJobState(run.id ?? '')),
        90_000,
      );

      const shown = await airlock(
        ['runs', 'show', run.id ?? '', '--config', cfg, '--queue', queueName, '--json'],
        processEnv,
      );
      const report = JSON.parse(shown.stdout) as RunSummary;
      expect(report).toMatchObject({ state: 'completed', summary: { copied: 2, failed: 2 } });
      const failures = report.failures ?? [];
      expect(failures.map((f) => f.source).sort()).toEqual(
        Object.keys(lost).map((n) => `docker://${flaky.host}/${ns}/${n}:v1`),
      );
      for (const f of failures) {
        expect(f.error?.code, JSON.stringify(f)).toBe('E_UNREACHABLE');
        expect(f.error?.message).toContain(`cannot reach ${flaky.host}`);
      }
      // Retried: more requests reached the dead upstream than one per failed image.
      expect(flaky.log.length - before).toBeGreaterThanOrEqual(2 * 2);
      const text = await airlock(['runs', 'show', run.id ?? '', '--config', cfg, '--queue', queueName], processEnv);
      for (const n of Object.keys(lost))
        expect(text.stdout).toContain(
          `failed image docker://${flaky.host}/${ns}/${n}:v1: [${failures[0]?.error?.code}]`,
        );
      for (const [name, m] of Object.entries(good))
        expect(digest((await getManifest(env.target.url, `${ns}/${name}`, 'v1')).bytes)).toBe(m.digest);
      for (const name of Object.keys(lost))
        expect((await getManifest(env.target.url, `${ns}/${name}`, 'v1')).status).toBe(404);

      // Back up: the retry copies only the two lost images.
      flaky.rules.length = 0;
      const retried = await airlock(
        ['runs', 'retry', run.id ?? '', '--config', cfg, '--queue', queueName, '--follow', '--json'],
        processEnv,
      );
      expect(retried.code, retried.stdout + retried.stderr).toBe(0);
      expect((JSON.parse(retried.stdout) as RunSummary).summary).toMatchObject({ copied: 2, unchanged: 0, failed: 0 });
      for (const [name, m] of Object.entries(lost))
        expect(digest((await getManifest(env.target.url, `${ns}/${name}`, 'v1')).bytes)).toBe(m.digest);
    } finally {
      source.rules.length = 0;
      await worker.stop();
      await flaky.stop();
      await other.stop();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
