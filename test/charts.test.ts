import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChartArchive } from '../src/charts/chart-archive.js';
import { chartImages } from '../src/charts/chart-images.js';
import { resolveChartUrl } from '../src/charts/index-file.js';
import { addonChartName, mirrorAddonCharts } from '../src/jobs/mirror-addon-chart.js';
import { mirrorChart, type ChartOutcome } from '../src/jobs/mirror-chart.js';
import { parseConfig } from '../src/config/load.js';
import type { MirrorChartPayload } from '../src/model/chart-payload.js';
import { silentLogger } from '../src/core/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { airlock } from './support/cli.js';
import { buildChart, fakeProv, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { testEngine } from './support/engine.js';
import { getBlob, getManifest } from './support/images.js';
import { parseIndexStrict } from './support/kubevela-reader.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { directoryChartTarget } from '../src/targets/chart-directory.js';

let registry: TestRegistry;
let repo: ChartRepoServer;
let relRepo: ChartRepoServer;
let work: string;
const podinfo = buildChart({
  name: 'podinfo',
  version: '6.5.0',
  appVersion: '6.5.0',
  values: { image: { repository: 'ghcr.io/stefanprodan/podinfo', tag: '' } },
});
const podinfoOld = buildChart({ name: 'podinfo', version: '6.4.0', appVersion: '6.4.0' });
const build = buildChart({ name: 'metrics', version: '1.2.3+build.7', appVersion: '1.2.3' });
const prov = fakeProv('podinfo', '6.5.0', podinfo);

beforeAll(async () => {
  registry = await startRegistry();
  repo = await startChartRepo([
    { name: 'podinfo', version: '6.5.0', tgz: podinfo, prov },
    { name: 'podinfo', version: '6.4.0', tgz: podinfoOld },
    { name: 'metrics', version: '1.2.3+build.7', tgz: build },
    { name: 'liar', version: '1.0.0', tgz: podinfoOld, entry: { name: 'liar', digest: 'a'.repeat(64) } },
    { name: 'nourl', version: '1.0.0', tgz: podinfoOld, entry: { urls: [] } },
    { name: 'notgz', version: '1.0.0', tgz: Buffer.from('this is not gzip') },
    { name: 'nochart', version: '1.0.0', tgz: buildChart({ name: 'nochart', version: '1.0.0', noChartYaml: true }) },
  ]);
  relRepo = await startChartRepo([{ name: 'podinfo', version: '6.5.0', tgz: podinfo, prov }], {
    relative: true,
    requireQuery: 'sig=abc',
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-charts-'));
});

afterAll(async () => {
  await Promise.all([registry?.stop(), repo?.stop(), relRepo?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

function run(p: MirrorChartPayload, engine = testEngine()) {
  return mirrorChart(p, { engine, logger: silentLogger(), repos: createHelmRepoReader(engine) });
}

describe('chart sources', () => {
  it('resolves chart URLs as Helm does, carrying the repository query string', () => {
    expect(resolveChartUrl('https://x.io/charts?sig=1', 'podinfo-1.tgz')).toBe(
      'https://x.io/charts/podinfo-1.tgz?sig=1',
    );
    expect(resolveChartUrl('https://x.io/charts/', 'sub/podinfo-1.tgz')).toBe('https://x.io/charts/sub/podinfo-1.tgz');
    expect(resolveChartUrl('https://x.io/charts', 'https://cdn.io/p.tgz')).toBe('https://cdn.io/p.tgz');
  });

  it('fetches the index once per run and re-fetches it conditionally', async () => {
    const engine = testEngine();
    const reader = createHelmRepoReader(engine);
    repo.requests.length = 0;
    await reader.fetchChart(repo.url, 'podinfo', '6.5.0');
    await reader.fetchChart(repo.url, 'podinfo', '6.4.0');
    expect(repo.requests.filter((r) => r.path.endsWith('index.yaml'))).toHaveLength(1);
    // A new run with the same cache: 304, the cached index is used.
    const cache = new Map<string, import('../src/sources/helm-repo.js').CachedIndex>();
    const withCache = {
      get: async (u: string) => cache.get(u),
      set: async (u: string, v: import('../src/sources/helm-repo.js').CachedIndex) => void cache.set(u, v),
    };
    await createHelmRepoReader(engine, { cache: withCache }).index(repo.url);
    repo.requests.length = 0;
    const again = await createHelmRepoReader(engine, { cache: withCache }).index(repo.url);
    expect(repo.requests.map((r) => r.status)).toEqual([304]);
    expect(again.entries.podinfo?.map((e) => e.version)).toEqual(['6.5.0', '6.4.0']);
  });
});

describe('repository credentials', () => {
  it('sends basic credentials or a bearer token to the repository host only', async () => {
    const guarded = await startChartRepo([{ name: 'podinfo', version: '6.5.0', tgz: podinfo }], {
      basicAuth: { username: 'reader', password: 'repo-pass-99' },
    });
    try {
      const host = new URL(guarded.url).host.replace(/[^0-9A-Za-z]/g, '_').toUpperCase();
      const denied = await run({
        source: guarded.url,
        chart: 'podinfo',
        version: '6.5.0',
        target: path.join(work, 'auth'),
      }).catch((e: unknown) => e);
      expect(denied).toMatchObject({ code: 'E_UNAUTHORIZED' });
      const ok = await run(
        { source: guarded.url, chart: 'podinfo', version: '6.5.0', target: path.join(work, 'auth') },
        testEngine({ env: { [`AIRLOCK_AUTH_${host}`]: 'reader:repo-pass-99' } }),
      );
      expect(ok.status).toBe('copied');
      guarded.requests.length = 0;
      await createHelmRepoReader(testEngine({ env: { [`AIRLOCK_TOKEN_${host}`]: 'tok-123456' } }))
        .index(guarded.url)
        .catch(() => undefined);
      expect(guarded.requests[0]?.authorization).toBe('Bearer tok-123456');
    } finally {
      await guarded.stop();
    }
  });
});

describe('redirects and conflicts', () => {
  it('follows chart URL redirects (release assets) and refuses to replace a different OCI chart', async () => {
    const redirecting = await startChartRepo([{ name: 'podinfo', version: '6.5.0', tgz: podinfo, prov }], {
      redirectCharts: true,
    });
    try {
      const r = await run({
        source: redirecting.url,
        chart: 'podinfo',
        version: '6.5.0',
        target: path.join(work, 'redirected'),
      });
      expect(r.status).toBe('copied');
      expect(redirecting.requests.some((q) => q.status === 302)).toBe(true);
    } finally {
      await redirecting.stop();
    }
    const other = await startChartRepo([
      {
        name: 'podinfo',
        version: '6.5.0',
        tgz: buildChart({ name: 'podinfo', version: '6.5.0', values: { different: true } }),
      },
    ]);
    try {
      await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `oci://${registry.host}/conflict-a` });
      await run({ source: other.url, chart: 'podinfo', version: '6.5.0', target: `oci://${registry.host}/conflict-b` });
      const err = await run({
        source: `oci://${registry.host}/conflict-a`,
        chart: 'podinfo',
        version: '6.5.0',
        target: `oci://${registry.host}/conflict-b`,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_CONFLICT' });
      const forced = await run({
        source: `oci://${registry.host}/conflict-a`,
        chart: 'podinfo',
        version: '6.5.0',
        target: `oci://${registry.host}/conflict-b`,
        force: true,
      });
      expect(forced.status).toBe('copied');
    } finally {
      await other.stop();
    }
  });
});

describe('chart targets', () => {
  it('pushes a classic-repo chart to OCI with Helm media types and + as _ in the tag; a re-sync changes nothing', async () => {
    const r = await run({
      source: repo.url,
      chart: 'metrics',
      version: '1.2.3+build.7',
      target: `oci://${registry.host}/charts`,
    });
    expect(r).toMatchObject({
      status: 'copied',
      target: `oci://${registry.host}/charts/metrics:1.2.3_build.7`,
      digest: sha256hex(build),
    });
    const m = await getManifest(registry.url, 'charts/metrics', '1.2.3_build.7');
    const manifest = JSON.parse(m.bytes.toString()) as {
      config: { mediaType: string; digest: string };
      layers: Array<{ mediaType: string; digest: string }>;
    };
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.cncf.helm.chart.content.v1.tar+gzip']);
    const layer = await getBlob(registry.url, 'charts/metrics', manifest.layers[0]?.digest ?? '');
    expect(layer.bytes.equals(build)).toBe(true);
    const config = JSON.parse(
      (await getBlob(registry.url, 'charts/metrics', manifest.config.digest)).bytes.toString(),
    ) as { name: string; version: string };
    expect(config).toMatchObject({ name: 'metrics', version: '1.2.3+build.7' });
    const again = await run({
      source: repo.url,
      chart: 'metrics',
      version: '1.2.3+build.7',
      target: `oci://${registry.host}/charts`,
    });
    expect(again.status).toBe('unchanged');
  });

  it('copies chart and provenance into a static directory whose index an independent reader accepts', async () => {
    const dir = path.join(work, 'static');
    fs.mkdirSync(dir, { recursive: true });
    // An index already there keeps its entries.
    fs.writeFileSync(
      path.join(dir, 'index.yaml'),
      'apiVersion: v1\nentries:\n  other:\n  - name: other\n    version: 0.1.0\n    urls: [https://charts.internal/other-0.1.0.tgz]\n    digest: "00"\n',
    );
    const base = 'https://charts.internal';
    await run({ source: `${relRepo.url}?sig=abc`, chart: 'podinfo', version: '6.5.0', target: dir, baseUrl: base });
    await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target: dir, baseUrl: base });
    expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz')).equals(podinfo)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz.prov')).equals(prov)).toBe(true);
    const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as {
      apiVersion: string;
      entries: Record<string, Array<{ version: string; urls: string[]; digest: string; created: string }>>;
    };
    expect(index.apiVersion).toBe('v1');
    expect(index.entries.other?.[0]?.version).toBe('0.1.0');
    expect(index.entries.podinfo?.map((e) => e.version)).toEqual(['6.5.0', '6.4.0']);
    expect(index.entries.podinfo?.[0]).toMatchObject({
      urls: [`${base}/podinfo-6.5.0.tgz`],
      digest: sha256hex(podinfo),
      created: '2024-01-02T03:04:05Z',
    });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The relative-url repository was asked with its query string on every request.
    expect(relRepo.requests.every((r) => r.path.endsWith('?sig=abc'))).toBe(true);
    const again = await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target: dir, baseUrl: base });
    expect(again.status).toBe('unchanged');
  });

  it('writes only Helm fields for the versions already in a directory index too, so a strict reader accepts it', async () => {
    const dir = path.join(work, 'strict');
    fs.mkdirSync(dir, { recursive: true });
    // Written by another tool: fields Helm's ChartVersion does not have, in an entry airlock never pushed.
    fs.writeFileSync(
      path.join(dir, 'index.yaml'),
      'apiVersion: v1\nentries:\n  other:\n  - name: other\n    version: 0.1.0\n    urls: [https://charts.internal/other-0.1.0.tgz]\n    digest: "00"\n    customField: x\n    description: null\n',
    );
    const archive = await openChartArchive(podinfoOld, 'podinfo-6.4.0.tgz');
    await directoryChartTarget(dir).push({
      name: 'podinfo',
      version: '6.4.0',
      tgz: podinfoOld,
      metadata: { ...archive.metadata, extra: 'y' } as typeof archive.metadata,
    });
    const index = parseIndexStrict(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8'));
    expect(index.entries.other?.[0]).toEqual({
      name: 'other',
      version: '0.1.0',
      urls: ['https://charts.internal/other-0.1.0.tgz'],
      digest: '00',
    });
    expect(index.entries.podinfo?.[0]).not.toHaveProperty('extra');
  });

  it('copies OCI charts: byte-exact to OCI, unpacked to a directory', async () => {
    await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `oci://${registry.host}/upstream` });
    const src = await getManifest(registry.url, 'upstream/podinfo', '6.5.0');
    const r = await run({
      source: `oci://${registry.host}/upstream`,
      chart: 'podinfo',
      version: '6.5.0',
      target: `oci://${registry.host}/mirror`,
    });
    expect(r.digest).toBe(`sha256:${sha256hex(src.bytes)}`);
    const dir = path.join(work, 'from-oci');
    await run({ source: `oci://${registry.host}/upstream`, chart: 'podinfo', version: '6.5.0', target: dir });
    expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz')).equals(podinfo)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz.prov')).equals(prov)).toBe(true);
  });
});

describe('chart bytes for a progress display', () => {
  /** What a display hears from one chart copy. */
  function recorder() {
    const heard = { planned: 0, moved: 0, skipped: 0 };
    return {
      heard,
      progress: {
        planned: (n: number) => void (heard.planned += n),
        moved: (n: number) => void (heard.moved += n),
        skipped: (n: number) => void (heard.skipped += n),
      },
    };
  }
  const withProgress = (p: MirrorChartPayload, progress: ReturnType<typeof recorder>['progress']) => {
    const engine = testEngine();
    return mirrorChart(p, { engine, logger: silentLogger(), repos: createHelmRepoReader(engine), progress });
  };

  it('a classic chart counts its archive and provenance once pushed; a copy already there moves nothing', async () => {
    const dir = path.join(work, 'progress-dir');
    const first = recorder();
    const p = { source: repo.url, chart: 'podinfo', version: '6.5.0', target: dir };
    expect((await withProgress(p, first.progress)).status).toBe('copied');
    expect(first.heard).toEqual({
      planned: podinfo.length + prov.length,
      moved: podinfo.length + prov.length,
      skipped: 0,
    });
    const again = recorder();
    expect((await withProgress(p, again.progress)).status).toBe('unchanged');
    expect(again.heard.moved).toBe(0);
  });

  it('an OCI chart copied to OCI counts the blobs the copier moves or mounts', async () => {
    await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `oci://${registry.host}/progress-src` });
    const heard = recorder();
    const r = await withProgress(
      {
        source: `oci://${registry.host}/progress-src`,
        chart: 'podinfo',
        version: '6.5.0',
        target: `oci://${registry.host}/progress-dst`,
      },
      heard.progress,
    );
    expect(r.status).toBe('copied');
    // The config, archive and provenance blobs, planned from the manifest; on one registry they are
    // mounted across repositories rather than moved, which the display hears as skipped.
    expect(heard.heard.planned).toBeGreaterThan(podinfo.length + prov.length);
    expect(heard.heard.moved + heard.heard.skipped).toBe(heard.heard.planned);
  });
});

describe('addon charts as a run watches them', () => {
  it('each group is watched once under its first source, and settles once with the outcomes of the source that delivered', async () => {
    const engine = testEngine();
    const dir = path.join(work, 'addon-track');
    const config = parseConfig({ targets: { charts: [dir] } });
    const group = {
      key: 'podinfo@6.5.0 two sources',
      alternatives: [
        { repo: `${repo.url}/nowhere`, chart: 'podinfo', version: '6.5.0', repoType: 'helm' },
        { repo: repo.url, chart: 'podinfo', version: '6.5.0', repoType: 'helm' },
      ],
    };
    const watched: string[] = [];
    const settled: ChartOutcome[][] = [];
    let moved = 0;
    const r = await mirrorAddonCharts([group], {
      config,
      engine,
      logger: silentLogger(),
      repos: createHelmRepoReader(engine),
      track: (name) => {
        watched.push(name);
        return {
          progress: { planned: () => undefined, moved: (n) => void (moved += n), skipped: () => undefined },
          settled: (outcomes) => void settled.push(outcomes),
        };
      },
    });
    expect(r.failed.size).toBe(0);
    expect(watched).toEqual([addonChartName(group)]);
    expect(watched[0]).toBe(`${repo.url}/nowhere podinfo@6.5.0`);
    expect(settled).toHaveLength(1);
    expect(settled[0]!.map((o) => [o.source, o.result?.status])).toEqual([[`${repo.url} podinfo@6.5.0`, 'copied']]);
    expect(moved).toBe(podinfo.length + prov.length);
  });
});

describe('bad chart input', () => {
  it.each([
    ['liar', '1.0.0', 'E_DIGEST_MISMATCH', /index says a{64}/],
    ['nourl', '1.0.0', 'E_REGISTRY', /has no urls/],
    ['notgz', '1.0.0', 'E_UNSUPPORTED', /not gzip/],
    ['nochart', '1.0.0', 'E_UNSUPPORTED', /no Chart\.yaml/],
    ['podinfo', '9.9.9', 'E_NOT_FOUND', /no version 9\.9\.9 \(newest: 6\.5\.0, 6\.4\.0\)/],
    ['ghost', '1.0.0', 'E_NOT_FOUND', /chart ghost is not in the repository index/],
  ])('%s %s fails with %s naming chart and repository', async (chart, version, code, message) => {
    const err = (await run({ source: repo.url, chart, version, target: path.join(work, 'bad') }).catch(
      (e: unknown) => e,
    )) as Error & { code: string; artifact: string };
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.artifact).toBe(`${repo.url} ${chart}@${version}`);
  });

  it('refuses a truncated index', async () => {
    const broken = await startChartRepo([]);
    broken.indexOverride = 'entries:\n  podinfo:\n  - name: podinfo\n    version: 1.0';
    try {
      const err = await run({
        source: broken.url,
        chart: 'podinfo',
        version: '1.0',
        target: path.join(work, 'bad'),
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_REGISTRY' });
      expect(String((err as Error).message)).toMatch(/no apiVersion/);
    } finally {
      await broken.stop();
    }
  });

  it('never overwrites a broken index.yaml in a directory target', async () => {
    const dir = path.join(work, 'broken-dir');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'index.yaml'), 'entries: [');
    const err = await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target: dir }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'E_REGISTRY' });
    expect(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')).toBe('entries: [');
  });
});

describe('images inside charts', () => {
  it('finds images in annotations, .relok8s-images.yaml, values maps and strings, and subcharts', async () => {
    const sub = {
      name: 'redis',
      version: '17.0.0',
      appVersion: '7.0.5',
      values: { image: { registry: 'docker.io', repository: 'bitnami/redis', tag: '' } },
    };
    const packed = { name: 'pg', version: '12.0.0', values: { image: { repository: 'postgres', tag: '15.2' } } };
    const tgz = buildChart({
      name: 'app',
      version: '1.0.0',
      appVersion: '2.3.4',
      annotations: { 'artifacthub.io/images': '- name: app\n  image: ghcr.io/acme/app:2.3.4\n' },
      values: {
        image: { repository: 'acme/app', tag: '' },
        sidecar: { image: 'quay.io/prometheus/node-exporter:v1.6.0' },
        helper: {
          image: {
            registry: 'registry.k8s.io',
            repository: 'kube-state-metrics/kube-state-metrics',
            digest: `sha256:${'b'.repeat(64)}`,
          },
        },
        redis: { image: { tag: '7.2.0' } },
        crd: { schema: { image: { type: 'string' } } },
      },
      files: { '.relok8s-images.yaml': '- "{{ .relok.registry }}/{{ .relok.repository }}:{{ .relok.tag }}"\n' },
      subcharts: [sub],
      packedSubcharts: [packed],
    });
    const images = chartImages(await openChartArchive(tgz, 'app'), {
      relok: { registry: 'gcr.io', repository: 'acme/relok', tag: '1.0' },
    });
    const byImage = Object.fromEntries(images.map((i) => [i.image, i.foundIn]));
    expect(byImage).toMatchObject({
      'ghcr.io/acme/app:2.3.4': 'annotation artifacthub.io/images',
      'gcr.io/acme/relok:1.0': '.relok8s-images.yaml',
      'docker.io/acme/app:2.3.4': 'values.yaml image.repository',
      'quay.io/prometheus/node-exporter:v1.6.0': 'values.yaml sidecar.image',
      [`registry.k8s.io/kube-state-metrics/kube-state-metrics@sha256:${'b'.repeat(64)}`]:
        'values.yaml helper.image.repository',
      'docker.io/bitnami/redis:7.2.0': 'charts/redis/ values.yaml image.repository',
      'docker.io/library/postgres:15.2': 'charts/pg-12.0.0.tgz values.yaml image.repository',
    });
    expect(images).toHaveLength(7);
  });

  it('airlock chart images prints them from a repository, and chart copy works from the CLI', async () => {
    const r = await airlock(['chart', 'images', repo.url, 'podinfo@6.5.0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { image: 'ghcr.io/stefanprodan/podinfo:6.5.0', foundIn: 'values.yaml image.repository' },
    ]);
    const dir = path.join(work, 'cli');
    const c = await airlock(['chart', 'copy', repo.url, 'podinfo@6.5.0', dir, '--base-url', 'https://charts.internal']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^copied +http.* podinfo@6\.5\.0 -> .*podinfo-6\.5\.0\.tgz/);
    const bad = await airlock(['chart', 'copy', repo.url, 'podinfo@9.9.9', dir]);
    expect(bad.code).toBe(5);
    expect(bad.stderr).toMatch(
      /^airlock: \[E_NOT_FOUND\] http:\/\/127\.0\.0\.1:\d+\/repo podinfo@9\.9\.9: chart podinfo has no version 9\.9\.9/m,
    );
    const nover = await airlock(['chart', 'copy', repo.url, 'podinfo', dir]);
    expect(nover.code).toBe(2);
    // From an OCI registry, too.
    await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `oci://${registry.host}/cli-src` });
    const oci = await airlock(['chart', 'images', `oci://${registry.host}/cli-src/podinfo:6.5.0`, '--json']);
    expect(oci.code, oci.stderr).toBe(0);
    expect(JSON.parse(oci.stdout)).toHaveLength(1);
    const dry = await airlock(['chart', 'copy', repo.url, 'podinfo@6.4.0', path.join(work, 'dry'), '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^planned /);
    expect(fs.existsSync(path.join(work, 'dry'))).toBe(false);
    const tgzFile = path.join(work, 'app.tgz');
    fs.writeFileSync(tgzFile, gunzipSync(podinfo));
    const notgz = await airlock(['chart', 'images', tgzFile]);
    expect(notgz.code).toBe(7);
    expect(notgz.stderr).toMatch(/not gzip/);
  });
});
