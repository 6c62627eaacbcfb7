import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveWorkerConfigs } from '../src/queue/worker-config.js';
import type { RunSummary } from '../src/queue/runs.js';
import { startWorkerProcess, type AirlockProcess } from './support/airlock-processes.js';
import { airlock, CLI } from './support/cli.js';
import { buildManifest, getManifest, pushImage, randomBlob } from './support/images.js';
import { waitFor } from './support/ports.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { useQueueEnv, writeQueueConfig } from './support/queue-env.js';

/** Issue #17, "Following a run": `airlock sync --config F --queue` as an operator watches it. */
const qe = useQueueEnv();
let redis: Redis;
let slow: TestProxy;

beforeAll(async () => {
  redis = new Redis(qe.redis.url);
  slow = await startProxy(qe.upstream.url);
});

afterAll(async () => {
  await slow?.stop();
  await redis?.quit();
});

const env = () => ({ TEST_REDIS_URL: qe.redis.url });

/** A CLI process whose stderr the test reads while it runs. */
interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

function run(command: string, args: string[]): Running {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void exit.then(() => clearTimeout(timer));
  return { child, stdout: () => out, stderr: () => err, exit };
}

function imagesConfig(dir: string, images: string[]): string {
  return writeQueueConfig(qe, dir, [
    'images:',
    ...images.flatMap((i) => [
      `  - source: ${qe.upstream.host}/${i}`,
      `    target: ${qe.target.host}/${i.split(':')[0]}`,
    ]),
  ]);
}

async function cleanup(queueName: string, workers: Array<AirlockProcess | undefined>): Promise<void> {
  for (const w of workers) await w?.stop();
  const q = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
  await q.obliterate({ force: true });
  await q.close();
  await redis.del(`${qe.prefix}:worker-config:${queueName}`);
}

describe('following a queued run', () => {
  it('prints the run id at once, says when no worker has taken it, and follows it once a worker does', async () => {
    const ns = `f${randomUUID().slice(0, 8)}`;
    await pushImage(qe.upstream.url, `${ns}/app`, 'v1', buildManifest({}));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-'));
    const cfg = imagesConfig(dir, [`${ns}/app:v1`]);
    const queueName = `follow-${randomUUID()}`;
    let worker: AirlockProcess | undefined;
    try {
      const sync = run(process.execPath, [
        CLI,
        'sync',
        '--config',
        cfg,
        '--queue',
        queueName,
        '--unclaimed-after',
        '1',
      ]);
      await waitFor(async () => /^run \d+ queued on /m.test(sync.stderr()), 'the run id', 300);
      const id = /^run (\d+) queued on /m.exec(sync.stderr())![1]!;
      // Said before anything happened to it: the run is still waiting in the queue.
      const queue = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
      expect(await queue.getJobState(id)).toBe('waiting');
      await queue.close();
      await waitFor(
        async () =>
          sync
            .stderr()
            .includes(
              `run ${id}: no worker has taken it after 1 s: no worker is connected to queue ${queueName}; it waits in the queue`,
            ),
        'the no-worker notice',
        300,
      );

      worker = await startWorkerProcess(cfg, queueName, env());
      expect(await sync.exit).toBe(0);
      const err = sync.stderr();
      expect(err).toContain(`run ${id}: taken by a worker`);
      expect(err).toContain(`run ${id}: 1 artifact planned`);
      expect(sync.stdout()).toContain('completed');
      expect((await getManifest(qe.target.url, `${ns}/app`, 'v1')).status).toBe(200);
    } finally {
      await cleanup(queueName, [worker]);
    }
  });

  it('reports each failure as it happens, in the one-shot form, and exits as the one-shot sync does', async () => {
    const ns = `f${randomUUID().slice(0, 8)}`;
    const MiB = 1024 * 1024;
    const big = randomBlob(6 * MiB);
    await pushImage(qe.upstream.url, `${ns}/slow`, 'v1', buildManifest({ layers: [big] }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-'));
    // The slow image through a throttled proxy (about three seconds), the missing one fails at once.
    const cfg = writeQueueConfig(qe, dir, [
      'images:',
      `  - source: ${slow.host}/${ns}/slow:v1`,
      `    target: ${qe.target.host}/${ns}/slow`,
      `  - source: ${qe.upstream.host}/${ns}/missing:v1`,
      `    target: ${qe.target.host}/${ns}/missing`,
    ]);
    slow.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
      action: { type: 'throttle', bytesPerSecond: 2 * MiB },
    });
    const queueName = `follow-${randomUUID()}`;
    const worker = await startWorkerProcess(cfg, queueName, env());
    try {
      const sync = run(process.execPath, [CLI, 'sync', '--config', cfg, '--queue', queueName]);
      const failure = `airlock: [E_NOT_FOUND] docker://${qe.upstream.host}/${ns}/missing:v1: `;
      await waitFor(async () => sync.stderr().includes(failure), 'the failure line', 300);
      // As it happened: the other image is still being copied, the command still follows the run.
      expect(sync.child.exitCode).toBeNull();
      expect((await getManifest(qe.target.url, `${ns}/slow`, 'v1')).status).toBe(404);
      const code = await sync.exit;
      expect(code).toBe(5);
      expect((await getManifest(qe.target.url, `${ns}/slow`, 'v1')).status).toBe(200);
      const followedLine = sync
        .stderr()
        .split('\n')
        .find((l) => l.startsWith(failure));
      expect(followedLine).toMatch(/: manifest unknown/);
      expect(sync.stderr().split(failure).length - 1).toBe(1);
      // The run's plan is said first, then what failed in it.
      const lines = sync.stderr().split('\n');
      const planned = lines.findIndex((l) => /^run \d+: 2 artifacts planned$/.test(l));
      expect(planned, sync.stderr()).toBeGreaterThanOrEqual(0);
      expect(planned).toBeLessThan(lines.indexOf(followedLine!));

      // The same config in-process: the same exit status and the same line for the same failure.
      slow.rules.length = 0;
      const oneShot = await airlock(['sync', '--config', cfg, '--state', path.join(dir, 'state.json')], env());
      expect(oneShot.code).toBe(5);
      expect(oneShot.stderr.split('\n').find((l) => l.startsWith(failure))).toBe(followedLine);
    } finally {
      slow.rules.length = 0;
      await cleanup(queueName, [worker]);
    }
  });

  it('shows the one-shot progress bar on a terminal while it follows', async () => {
    const ns = `f${randomUUID().slice(0, 8)}`;
    const MiB = 1024 * 1024;
    const big = randomBlob(4 * MiB);
    await pushImage(qe.upstream.url, `${ns}/a`, 'v1', buildManifest({ layers: [big] }));
    await pushImage(qe.upstream.url, `${ns}/b`, 'v1', buildManifest({}));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-'));
    const cfg = writeQueueConfig(qe, dir, [
      'images:',
      `  - source: ${slow.host}/${ns}/a:v1`,
      `    target: ${qe.target.host}/${ns}/a`,
      `  - source: ${qe.upstream.host}/${ns}/b:v1`,
      `    target: ${qe.target.host}/${ns}/b`,
    ]);
    // About four seconds for the large image: its bytes show while it copies, from the worker's job progress.
    slow.rules.push({
      match: (method, p) => method === 'GET' && p.includes(`/blobs/${big.digest}`),
      action: { type: 'throttle', bytesPerSecond: MiB },
    });
    const queueName = `follow-${randomUUID()}`;
    const worker = await startWorkerProcess(cfg, queueName, env());
    try {
      // script(1) gives the command a pseudo-terminal; what it drew comes back on script's stdout.
      const quoted = [process.execPath, CLI, 'sync', '--config', cfg, '--queue', queueName]
        .map((a) => `'${a}'`)
        .join(' ');
      const tty = run('script', ['-qefc', quoted, '/dev/null']);
      expect(await tty.exit).toBe(0);
      const screen = tty.stdout();
      expect(screen).toMatch(/run \d+: 2 artifacts planned/);
      // The live line: the bytes so far and artifacts done of 2, drawn while the slow image was
      // copied: some MiB of its 4 before it was done.
      const partial = [
        ...screen.matchAll(/(\d+(?:\.\d+)?) MiB {2}(?:\S+ \S+\/s {2})?(?:ETA \S+ {2})?[01]\/2 done/g),
      ].map((m) => Number(m[1]));
      expect(partial.some((mib) => mib > 0 && mib < 4)).toBe(true);
      expect(screen).toMatch(/state +completed/);
    } finally {
      slow.rules.length = 0;
      await cleanup(queueName, [worker]);
    }
  });
});

describe('Ctrl-C while following', () => {
  it('stops following, not the run, and says how to see the run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-'));
    const cfg = imagesConfig(dir, [`f${randomUUID().slice(0, 8)}/app:v1`]);
    // No worker on this queue: the run waits, and the command follows it until interrupted.
    const queueName = `follow-${randomUUID()}`;
    try {
      const sync = run(process.execPath, [CLI, 'sync', '--config', cfg, '--queue', queueName]);
      await waitFor(async () => /^run \d+ queued on /m.test(sync.stderr()), 'the run id', 300);
      const id = /^run (\d+) queued on /m.exec(sync.stderr())![1]!;
      sync.child.kill('SIGINT');
      expect(await sync.exit).toBe(130);
      expect(sync.stderr().trimEnd().split('\n').at(-1)).toBe(
        `airlock: stopped following run ${id} (SIGINT); the run goes on in the workers: airlock runs show ${id} --config ${cfg} --queue ${queueName}`,
      );
      const queue = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
      expect(await queue.getJobState(id)).toBe('waiting');
      await queue.close();
      const shown = await airlock(['runs', 'show', id, '--config', cfg, '--queue', queueName], env());
      expect(shown.stdout).toContain('state     waiting');
    } finally {
      await cleanup(queueName, []);
    }
  });
});

describe('sync --queue --config F', () => {
  it('refuses F when the workers run another config, runs theirs only when asked, and a worker refuses a run queued for another config', async () => {
    const ns = `f${randomUUID().slice(0, 8)}`;
    await pushImage(qe.upstream.url, `${ns}/app`, 'v1', buildManifest({}));
    await pushImage(qe.upstream.url, `${ns}/new`, 'v1', buildManifest({}));
    const dirA = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-a-'));
    const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-b-'));
    const deployed = imagesConfig(dirA, [`${ns}/app:v1`]);
    // The operator's edit, not deployed to the workers: one more image.
    const edited = imagesConfig(dirB, [`${ns}/app:v1`, `${ns}/new:v1`]);
    const queueName = `follow-${randomUUID()}`;
    const later = `follow-${randomUUID()}`;
    let worker: AirlockProcess | undefined;
    let lateWorker: AirlockProcess | undefined;
    try {
      worker = await startWorkerProcess(deployed, queueName, env());
      await waitFor(
        async () => (await liveWorkerConfigs(redis, qe.prefix, queueName)).length === 1,
        'the worker to publish its config',
        100,
      );

      const refused = await airlock(['sync', '--config', edited, '--queue', queueName], env());
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^airlock: \\[E_CONFIG\\] ${edited.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(config [0-9a-f]{12}\\) is not the config the workers on queue ${queueName} run \\([0-9a-f]{12}\\)`,
        ),
      );
      const queue = new Queue(queueName, { connection: { url: qe.redis.url }, prefix: qe.prefix });
      expect(await queue.count()).toBe(0);
      await queue.close();
      expect((await getManifest(qe.target.url, `${ns}/new`, 'v1')).status).toBe(404);

      // Asked for: the workers' config runs (the new image is not in it).
      const theirs = await airlock(
        ['sync', '--config', edited, '--queue', queueName, '--use-worker-config', '--json'],
        env(),
      );
      expect(theirs.code, theirs.stderr).toBe(0);
      expect((JSON.parse(theirs.stdout) as RunSummary).summary).toMatchObject({ copied: 1, failed: 0 });
      expect((await getManifest(qe.target.url, `${ns}/new`, 'v1')).status).toBe(404);

      // The deployed config itself is accepted.
      const same = await airlock(['sync', '--config', deployed, '--queue', queueName, '--json'], env());
      expect(same.code, same.stderr).toBe(0);
      expect((JSON.parse(same.stdout) as RunSummary).summary).toMatchObject({ unchanged: 1, failed: 0 });

      // No worker yet on the other queue: the run is queued with F's digest, and the worker that
      // comes along with another config refuses it rather than plan it from its own.
      const queued = run(process.execPath, [CLI, 'sync', '--config', edited, '--queue', later, '--json']);
      await waitFor(async () => /^run \d+ queued on /m.test(queued.stderr()), 'the run id', 300);
      lateWorker = await startWorkerProcess(deployed, later, env());
      expect(await queued.exit).toBe(2);
      const failed = JSON.parse(queued.stdout()) as RunSummary;
      expect(failed.state).toBe('failed');
      expect(failed.error).toMatch(
        /^\[E_CONFIG\] run \d+ was queued for config [0-9a-f]{12} \(airlock\.yaml\), but this worker runs config [0-9a-f]{12}/,
      );
      expect((await getManifest(qe.target.url, `${ns}/new`, 'v1')).status).toBe(404);
    } finally {
      await cleanup(queueName, [worker]);
      await cleanup(later, [lateWorker]);
    }
  });
});
