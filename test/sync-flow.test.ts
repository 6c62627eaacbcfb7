import { randomUUID } from 'node:crypto';
import { cacheDirsIn } from '../src/config/cache-dirs.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlowProducer, Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { AirlockConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/core/log.js';
import { JOB } from '../src/model/job-names.js';
import { listRuns, retryRun } from '../src/queue/runs.js';
import { readWorkerMetrics, redisMetricsSink, type MetricsSink } from '../src/queue/worker-metrics.js';
import { startQueueWorker } from '../workers/worker.js';
import { buildChart, startChartRepo } from './support/charts.js';
import { testEngine } from './support/engine.js';
import { buildManifest, getManifest, pushImage } from './support/images.js';
import { useQueueEnv } from './support/queue-env.js';

const qe = useQueueEnv();

interface RunValue {
  ok: boolean;
  summary: Record<string, number>;
  failures: Array<{ kind: string; source: string; error?: { code: string; message: string } }>;
}

/** A queue, its events and an in-process worker over `config`, closed and emptied after `fn`. */
async function withWorker(
  config: AirlockConfig,
  cacheDir: string,
  fn: (queue: Queue, events: QueueEvents, queueName: string) => Promise<void>,
  metricsFor?: (queueName: string) => MetricsSink,
): Promise<void> {
  const queueName = `test-${randomUUID()}`;
  const connection = { url: qe.redis.url };
  const queue = new Queue(queueName, { connection, prefix: qe.prefix });
  const events = new QueueEvents(queueName, { connection, prefix: qe.prefix });
  await events.waitUntilReady();
  const worker = startQueueWorker({
    config,
    engine: testEngine({ config }),
    logger: silentLogger(),
    redisUrl: qe.redis.url,
    queue: queueName,
    prefix: qe.prefix,
    concurrency: 4,
    cacheDirs: cacheDirsIn(cacheDir),
    ...(metricsFor ? { metrics: metricsFor(queueName) } : {}),
  });
  try {
    await fn(queue, events, queueName);
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

function writeAddon(root: string, folder: string, entries: Record<string, string>): void {
  for (const [f, text] of Object.entries(entries)) {
    const file = path.join(root, folder, f);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

describe('a sync run is a flow', () => {
  it('one child job per artifact; the addon registry is published only after the charts and images it points at; retry re-runs what failed', async () => {
    const up = qe.upstream.host;
    await pushImage(qe.upstream.url, 'flow/app', 'v1', buildManifest({}));
    await pushImage(qe.upstream.url, 'flow/addon', 'v2', buildManifest({}));
    const repo = await startChartRepo([
      { name: 'flow-chart', version: '1.0.0', tgz: buildChart({ name: 'flow-chart', version: '1.0.0' }) },
    ]);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-'));
    const catalog = path.join(work, 'catalog');
    writeAddon(catalog, 'addons/flowaddon', {
      'metadata.yaml': 'name: flowaddon\nversion: 1.0.0\n',
      'resources/app.cue': `app: {\n\ttype: "webservice"\n\tproperties: image: "${up}/flow/addon:v2"\n}\nchart: {\n\ttype: "helm"\n\tproperties: {\n\t\turl: "${repo.url}"\n\t\tchart: "flow-chart"\n\t\tversion: "1.0.0"\n\t}\n}\n`,
    });
    writeAddon(catalog, 'experimental/addons/flowbroken', {
      'metadata.yaml': 'name: flowbroken\nversion: 0.1.0\n',
      'resources/app.cue': `app: properties: image: "${up}/flow/absent:v1"\n`,
    });
    const config = parseConfig({
      targets: {
        images: { registry: qe.target.host },
        charts: [{ url: path.join(work, 'charts'), baseUrl: 'https://charts.airgap' }],
      },
      images: [{ source: `${up}/flow/app:v1` }],
      addons: {
        catalogs: [{ name: 'flow', source: catalog }],
        publish: { registries: [{ url: path.join(work, 'addons', '{registry}') }] },
      },
    });
    try {
      await withWorker(config, path.join(work, 'cache'), async (queue, events, queueName) => {
        const run = await queue.add(JOB.sync, { scope: 'all', reason: 'test' }, { attempts: 1 });
        const value = (await run.waitUntilFinished(events, 90_000)) as RunValue;

        const jobs = await queue.getJobs(['completed', 'failed'], 0, 200);
        const childrenOf = (parent: Job) =>
          jobs.filter((j) => j.parentKey === `${qe.prefix}:${queueName}:${parent.id}`);
        const runChildren = childrenOf(run);
        expect(runChildren.map((j) => j.name).sort()).toEqual([JOB.mirrorImage, JOB.publishAddons]);
        const publish = runChildren.find((j) => j.name === JOB.publishAddons)!;
        const addonChildren = childrenOf(publish);
        expect(
          addonChildren
            .map((j) => `${j.name} ${JSON.stringify(j.data).includes('absent') ? 'absent' : ''}`.trim())
            .sort(),
        ).toEqual([JOB.mirrorAddonChart, JOB.mirrorImage, `${JOB.mirrorImage} absent`]);
        // The registry is published after everything it points at has settled.
        expect(publish.finishedOn!).toBeGreaterThanOrEqual(Math.max(...addonChildren.map((j) => j.finishedOn ?? 0)));
        const absent = addonChildren.find((j) => JSON.stringify(j.data).includes('absent'))!;
        expect(await absent.getState()).toBe('failed');

        expect(value.ok).toBe(false);
        expect(value.failures.map((f) => `${f.kind} ${f.source}`).sort()).toEqual([
          `addon experimental/flowbroken@0.1.0`,
          `image docker://${up}/flow/absent:v1`,
        ]);
        expect(value.summary.copied).toBe(4); // the config image, the addon image, the chart, the published addon
        expect(fs.existsSync(path.join(work, 'addons', 'official', 'flowaddon-1.0.0.tgz'))).toBe(true);
        expect(fs.existsSync(path.join(work, 'addons', 'experimental', 'flowbroken-0.1.0.tgz'))).toBe(false);
        expect((await getManifest(qe.target.url, `${up.replace(':', '-')}/flow/app`, 'v1')).status).toBe(200);

        // Once the image exists, a retry of the run publishes the held-back addon; the rest is unchanged.
        await pushImage(qe.upstream.url, 'flow/absent', 'v1', buildManifest({}));
        const retried = await retryRun(queue, run.id!);
        const again = (await retried.job.waitUntilFinished(events, 90_000)) as RunValue;
        expect(again.ok).toBe(true);
        expect(fs.existsSync(path.join(work, 'addons', 'experimental', 'flowbroken-0.1.0.tgz'))).toBe(true);
      });
    } finally {
      await repo.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('plugins in a flow', () => {
  it('a plugin is registered only after its image copies succeeded; one whose image is missing is not registered, the run goes on', async () => {
    const { makeToken, startRepositoryDouble } = await import('./support/spaceone-double.js');
    const up = qe.upstream.host;
    for (const tag of ['1.0.0', '1.1.0'])
      await pushImage(qe.upstream.url, 'cloudforet/plugin-flow-inven-collector', tag, buildManifest({}));
    const double = await startRepositoryDouble({
      registryInfo: { HARBOR: { url: qe.target.host } },
      harbor: { baseUrl: qe.target.url },
    });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-plugins-'));
    fs.mkdirSync(path.join(work, 'manifests'));
    fs.writeFileSync(
      path.join(work, 'manifests', 'flow.yaml'),
      'plugin_id: plugin-flow\nname: Flow\nimage: plugin-flow-inven-collector\nresource_type: inventory.Collector\nprovider: aws\n',
    );
    fs.writeFileSync(
      path.join(work, 'manifests', 'ghost.yaml'),
      'plugin_id: plugin-ghost\nname: Ghost\nimage: plugin-ghost-inven-collector\nresource_type: inventory.Collector\n',
    );
    process.env.FLOW_SPACEONE_TOKEN = makeToken({ did: 'domain-1', rol: 'DOMAIN_ADMIN' });
    const config = parseConfig({
      plugins: {
        manifests: [path.join(work, 'manifests')],
        source: `${up}/cloudforet`,
        tags: ['1.0.0', '1.1.0'],
        target: { registry: qe.target.host, path: 'cloudforet' },
        service: { endpoint: double.address, token: { env: 'FLOW_SPACEONE_TOKEN' } },
      },
    });
    const redis = new Redis(qe.redis.url, { maxRetriesPerRequest: null });
    try {
      await withWorker(
        config,
        path.join(work, 'cache'),
        async (queue, events, queueName) => {
          const run = await queue.add(JOB.sync, { scope: 'plugins', reason: 'test' }, { attempts: 1 });
          const value = (await run.waitUntilFinished(events, 90_000)) as RunValue;
          const jobs = await queue.getJobs(['completed', 'failed'], 0, 200);
          const registrations = jobs.filter((j) => j.name === JOB.registerPlugin);
          const flow = registrations.find(
            (j) =>
              (j.data as { manifest: { request: { plugin_id: string } } }).manifest.request.plugin_id === 'plugin-flow',
          )!;
          const images = jobs.filter((j) => j.parentKey === `${qe.prefix}:${queueName}:${flow.id}`);
          expect(images.map((j) => (j.data as { source: string }).source).sort()).toEqual([
            `docker://${up}/cloudforet/plugin-flow-inven-collector:1.0.0`,
            `docker://${up}/cloudforet/plugin-flow-inven-collector:1.1.0`,
          ]);
          // Registered after both copies finished.
          expect(flow.finishedOn!).toBeGreaterThanOrEqual(Math.max(...images.map((j) => j.finishedOn ?? 0)));
          expect(value.failures.filter((f) => f.source === 'plugin-flow')).toEqual([]);
          expect(double.plugins.get('domain-1|plugin-flow')).toMatchObject({
            image: 'cloudforet/plugin-flow-inven-collector',
          });
          expect(double.calls.filter((c) => c.method === 'register').map((c) => c.request.plugin_id)).toEqual([
            'plugin-flow',
          ]);
          expect(double.plugins.has('domain-1|plugin-ghost')).toBe(false);
          expect(value.ok).toBe(false);
          expect(value.failures.map((f) => `${f.kind} ${f.source} ${f.error?.code}`)).toEqual([
            'plugin plugin-ghost E_NOT_FOUND',
          ]);
          expect(value.failures[0]?.error?.message).toMatch(
            /^not registered: its image copy failed: .*plugin-ghost-inven-collector/,
          );

          // The failed registration counts once in the metrics, as the plugin that failed.
          await new Promise((r) => setTimeout(r, 300));
          const metrics = await readWorkerMetrics(redis, qe.prefix, queueName);
          expect(
            metrics.jobs.find((c) => c.labels.kind === JOB.registerPlugin && c.labels.state === 'failed')?.value,
          ).toBe(1);
          expect(metrics.artifacts.find((c) => c.labels.kind === 'plugin' && c.labels.status === 'failed')?.value).toBe(
            1,
          );
        },
        (name) => redisMetricsSink(redis, qe.prefix, name),
      );
    } finally {
      await redis.quit();
      await double.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('addon scope in a flow', () => {
  it('a run scoped to addons:CATALOG plans and publishes that catalog only; an unreadable catalog publishes nothing', async () => {
    const up = qe.upstream.host;
    await pushImage(qe.upstream.url, 'scoped/app', 'v1', buildManifest({}));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-scope-'));
    for (const name of ['one', 'two']) {
      writeAddon(path.join(work, name), `addons/addon-${name}`, {
        'metadata.yaml': `name: addon-${name}\nversion: 1.0.0\n`,
        'resources/app.cue': `app: properties: image: "${up}/scoped/app:v1"\n`,
      });
    }
    const config = parseConfig({
      targets: { images: { registry: qe.target.host } },
      addons: {
        catalogs: [
          { name: 'one', source: path.join(work, 'one') },
          { name: 'two', source: path.join(work, 'two') },
          { name: 'gone', source: path.join(work, 'missing-dir') },
        ],
        publish: { registries: [{ url: path.join(work, 'published', '{registry}') }] },
      },
    });
    await withWorker(config, path.join(work, 'cache'), async (queue, events) => {
      const scoped = await queue.add(JOB.sync, { scope: 'addons:one', reason: 'test' }, { attempts: 1 });
      const value = (await scoped.waitUntilFinished(events, 60_000)) as RunValue;
      expect(value.ok).toBe(true);
      expect(fs.readdirSync(path.join(work, 'published', 'official'))).toEqual(
        expect.arrayContaining(['addon-one-1.0.0.tgz']),
      );
      expect(fs.existsSync(path.join(work, 'published', 'official', 'addon-two-1.0.0.tgz'))).toBe(false);

      const gone = await queue.add(JOB.sync, { scope: 'addons:gone', reason: 'test' }, { attempts: 1 });
      const failed = (await gone.waitUntilFinished(events, 60_000)) as RunValue;
      expect(failed.ok).toBe(false);
      expect(failed.failures.map((f) => `${f.kind} ${f.error?.code}`)).toEqual(['addon E_USAGE']);
    });
    fs.rmSync(work, { recursive: true, force: true });
  });
});

describe('charts in a flow', () => {
  it('a queued chart found unchanged takes its image list from the cache, without downloading the chart again', async () => {
    const up = qe.upstream.host;
    await pushImage(qe.upstream.url, 'cached/app', 'v1', buildManifest({}));
    const tgz = buildChart({
      name: 'cached-chart',
      version: '1.0.0',
      values: { image: { registry: up, repository: 'cached/app', tag: 'v1' } },
    });
    const repo = await startChartRepo([{ name: 'cached-chart', version: '1.0.0', tgz }]);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-chart-'));
    const config = parseConfig({
      targets: { images: { registry: qe.target.host }, charts: [{ url: path.join(work, 'charts') }] },
      charts: [{ repo: repo.url, name: 'cached-chart', versions: ['1.0.0'] }],
    });
    const downloads = () => repo.requests.filter((r) => r.path.endsWith('.tgz')).length;
    try {
      await withWorker(config, path.join(work, 'cache'), async (queue, events) => {
        const first = (await (
          await queue.add(JOB.sync, { scope: 'charts', reason: 'test' }, { attempts: 1 })
        ).waitUntilFinished(events, 60_000)) as RunValue;
        expect(first.ok).toBe(true);
        expect(first.summary.copied).toBe(2); // the chart and the image it needs
        expect(downloads()).toBe(1);

        const second = (await (
          await queue.add(JOB.sync, { scope: 'charts', reason: 'test' }, { attempts: 1 })
        ).waitUntilFinished(events, 60_000)) as RunValue;
        expect(second.ok).toBe(true);
        expect(second.summary.unchanged).toBe(2);
        expect(downloads()).toBe(1);
      });
    } finally {
      await repo.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('addon metrics in a flow', () => {
  it('an addon the catalog lacks is one failed addon in the metrics, not one per planning pass', async () => {
    const up = qe.upstream.host;
    await pushImage(qe.upstream.url, 'counted/app', 'v1', buildManifest({}));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-metrics-'));
    writeAddon(path.join(work, 'cat'), 'addons/counted', {
      'metadata.yaml': 'name: counted\nversion: 1.0.0\n',
      'resources/app.cue': `app: properties: image: "${up}/counted/app:v1"\n`,
    });
    const config = parseConfig({
      targets: { images: { registry: qe.target.host } },
      addons: {
        catalogs: [{ name: 'cat', source: path.join(work, 'cat'), addons: ['counted', 'ghost'] }],
        publish: { registries: [{ url: path.join(work, 'published', '{registry}') }] },
      },
    });
    const redis = new Redis(qe.redis.url, { maxRetriesPerRequest: null });
    try {
      await withWorker(
        config,
        path.join(work, 'cache'),
        async (queue, events, name) => {
          const value = (await (
            await queue.add(JOB.sync, { scope: 'addons', reason: 'test' }, { attempts: 1 })
          ).waitUntilFinished(events, 60_000)) as RunValue;
          expect(value.failures.map((f) => `${f.kind} ${f.source}`)).toEqual(['addon addon ghost']);
          const metrics = await readWorkerMetrics(redis, qe.prefix, name);
          const failedAddons = metrics.artifacts.find((c) => c.labels.kind === 'addon' && c.labels.status === 'failed');
          expect(failedAddons?.value).toBe(1);
        },
        (name) => redisMetricsSink(redis, qe.prefix, name),
      );
    } finally {
      await redis.quit();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('runs list', () => {
  it('lists a run still waiting for its children, with that state, and not its children', async () => {
    const queueName = `test-${randomUUID()}`;
    const connection = { url: qe.redis.url };
    const queue = new Queue(queueName, { connection, prefix: qe.prefix });
    const flow = new FlowProducer({ connection, prefix: qe.prefix });
    try {
      // No worker: the child stays waiting, so its parent run stays in waiting-children.
      await flow.add({
        name: JOB.sync,
        queueName,
        data: { scope: 'all', reason: 'test' },
        children: [{ name: JOB.mirrorImage, queueName, data: { source: 'docker://x/y:1', target: 'docker://z/y' } }],
      });
      await queue.add(JOB.sync, { scope: 'images', reason: 'queued' });
      const runs = await listRuns(queue);
      expect(runs.map((r) => `${r.state} ${r.scope}`).sort()).toEqual(['waiting images', 'waiting-children all']);
    } finally {
      await flow.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
