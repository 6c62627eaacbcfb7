/**
 * `BENCH_ONLY=queue npm run bench`: N small images through the BullMQ queue with worker processes
 * against the in-process runner, each into its own fresh target registry. Opt-in: it needs Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { parseConfig } from '../src/config/load.js';
import { createEngine } from '../src/app/engine.js';
import { silentLogger } from '../src/core/log.js';
import { JOB } from '../src/model/job-names.js';
import { runImageJobs } from '../src/runner/run-image-jobs.js';
import { memoryMirrorState } from '../src/state/mirror-state.js';
import { buildManifest, pushBlob, pushManifest, randomBlob } from '../test/support/images.js';
import { startRedis } from '../test/support/redis.js';
import { startRegistry, type TestRegistry } from '../test/support/registry.js';

const ARTIFACTS = Number(process.env.BENCH_QUEUE_ARTIFACTS ?? 1000);
const CONCURRENCY = 8;

interface QueueRun {
  seconds: number;
  enqueueMs: number;
  /** Median time a job spent in a worker (processedOn → finishedOn). */
  medianJobMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function startWorker(cli: string, cfg: string, queue: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [cli, 'worker', '--config', cfg, '--queue', queue, '--concurrency', String(CONCURRENCY), '--log-level', 'info'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('worker started')) {
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume();
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`)));
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function seed(upstream: TestRegistry): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(
    Array.from({ length: ARTIFACTS }, (_, i) =>
      limit(async () => {
        const m = buildManifest({ layers: [randomBlob(1024)] });
        for (const b of m.blobs) await pushBlob(upstream.url, `small/img${i}`, b);
        await pushManifest(upstream.url, `small/img${i}`, 'v1', m);
      }),
    ),
  );
}

function payloads(upstream: TestRegistry, target: TestRegistry): Array<{ source: string; target: string }> {
  return Array.from({ length: ARTIFACTS }, (_, i) => ({
    source: `docker://${upstream.host}/small/img${i}:v1`,
    target: `docker://${target.host}/small/img${i}`,
  }));
}

async function inProcess(upstream: TestRegistry, target: TestRegistry): Promise<number> {
  const config = parseConfig({});
  const engine = createEngine({ config, logger: silentLogger(), state: memoryMirrorState(), dockerConfigPath: false });
  const started = process.hrtime.bigint();
  const outcomes = await runImageJobs(
    payloads(upstream, target),
    { engine, logger: silentLogger() },
    { concurrency: CONCURRENCY },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await engine.close();
  const copied = outcomes.filter((o) => o.result?.status === 'copied').length;
  if (copied !== ARTIFACTS) throw new Error(`in-process runner copied ${copied} of ${ARTIFACTS}`);
  return seconds;
}

async function throughQueue(
  cli: string,
  redisUrl: string,
  workers: number,
  upstream: TestRegistry,
  target: TestRegistry,
  work: string,
): Promise<QueueRun> {
  const prefix = `{airlock-bench-${randomUUID().slice(0, 8)}}`;
  const name = `bench-${randomUUID()}`;
  const cfg = path.join(work, `queue-${workers}.yaml`);
  fs.writeFileSync(cfg, `redis:\n  url: { env: BENCH_REDIS_URL }\n  prefix: "${prefix}"\n`);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_REDIS_URL: redisUrl };
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(cli, cfg, name, env)));
  const queue = new Queue(name, { connection: { url: redisUrl }, prefix });
  const redis = new Redis(redisUrl);
  try {
    const started = process.hrtime.bigint();
    await queue.addBulk(
      payloads(upstream, target).map((data) => ({
        name: JOB.mirrorImage,
        data,
        opts: { attempts: 1, removeOnComplete: false, removeOnFail: false },
      })),
    );
    const enqueueMs = Number(process.hrtime.bigint() - started) / 1e6;
    for (;;) {
      const c = await queue.getJobCounts('completed', 'failed');
      if ((c.completed ?? 0) + (c.failed ?? 0) >= ARTIFACTS) {
        if (c.failed) throw new Error(`${c.failed} queue jobs failed`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const jobs = await queue.getJobs(['completed'], 0, -1);
    return { seconds, enqueueMs, medianJobMs: median(jobs.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0))) };
  } finally {
    await Promise.all(children.map(stopWorker));
    await queue.obliterate({ force: true });
    await queue.close();
    // The workers' mirror state and metrics under the bench's own prefix.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

/** The markdown section for bench/RESULTS.md. */
export async function queueScenario(cli: string): Promise<string> {
  const redis = await startRedis();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-queue-'));
  const registries = await Promise.all([startRegistry(), startRegistry(), startRegistry(), startRegistry()]);
  const [upstream, t0, t1, t2] = registries as [TestRegistry, TestRegistry, TestRegistry, TestRegistry];
  try {
    const loadBefore = os.loadavg()[0] ?? 0;
    process.stderr.write(`queue: seeding ${ARTIFACTS} small images\n`);
    await seed(upstream);
    process.stderr.write('queue: in-process runner\n');
    const local = await inProcess(upstream, t0);
    process.stderr.write('queue: 1 worker process\n');
    const one = await throughQueue(cli, redis.url, 1, upstream, t1, work);
    process.stderr.write('queue: 2 worker processes\n');
    const two = await throughQueue(cli, redis.url, 2, upstream, t2, work);
    const loadAfter = os.loadavg()[0] ?? 0;
    const rate = (s: number) => (ARTIFACTS / s).toFixed(0);
    // Same number of concurrent copies (8) in the runner and in one worker: the extra wall time,
    // spread over the jobs and their 8 slots, is what the queue adds to each job.
    const overheadMs = ((one.seconds - local) * 1000 * CONCURRENCY) / ARTIFACTS;
    return [
      '## Queue vs in-process runner',
      '',
      `Run by \`BENCH_ONLY=queue npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Redis on loopback. ${ARTIFACTS} small images (1 KiB layer + config) from one upstream, each scenario into its own fresh target registry; ${CONCURRENCY} copies at a time per process. Queue wall time runs from \`addBulk\` of the ${ARTIFACTS} mirror-image jobs to the last one completed; the worker processes were already started. Load average (1 min) ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after: other work shared the machine.`,
      '',
      '| scenario | wall time | artifacts/s | notes |',
      '|---|---|---|---|',
      `| in-process runner (\`runImageJobs\`, as \`airlock sync\`) | ${local.toFixed(2)} s | ${rate(local)} | — |`,
      `| queue, 1 \`airlock worker\` process | ${one.seconds.toFixed(2)} s | ${rate(one.seconds)} | enqueue ${one.enqueueMs.toFixed(0)} ms; median job in worker ${one.medianJobMs} ms; overhead ≈ ${overheadMs.toFixed(1)} ms per job |`,
      `| queue, 2 \`airlock worker\` processes | ${two.seconds.toFixed(2)} s | ${rate(two.seconds)} | enqueue ${two.enqueueMs.toFixed(0)} ms; median job in worker ${two.medianJobMs} ms; ${(local / two.seconds).toFixed(2)} × the in-process rate |`,
      '',
      'Overhead per job = (1-worker wall − in-process wall) × 8 slots / jobs: the time each job spends on the queue (Redis round trips to fetch, lock and complete it, the artifact lock, job events) beyond the copy itself.',
      '',
      `With two workers the median job in a worker took ${two.medianJobMs} ms against ${one.medianJobMs} ms with one: ${two.medianJobMs > one.medianJobMs * 1.5 ? 'each copy waited on the registries and the CPU they share with Redis and the workers (two cores here), so the second worker bought little here; what it adds on a machine of its own is not measured' : 'the second worker added copies in parallel'}.`,
      '',
    ].join('\n');
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    await redis.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const QUEUE_SECTION = /## Queue vs in-process runner\n[\s\S]*?(?=\n## |$)/;

/** RESULTS.md with the queue section replaced (or added), everything else kept. */
export function withQueueSection(current: string, section: string): string {
  if (QUEUE_SECTION.test(current)) return current.replace(QUEUE_SECTION, section.trimEnd() + '\n');
  return `${current.trimEnd()}\n\n${section}`;
}

/** The queue section of RESULTS.md, if any, so a run of the other sections keeps it. */
export function queueSectionOf(current: string): string | undefined {
  return QUEUE_SECTION.exec(current)?.[0];
}
