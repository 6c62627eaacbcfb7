import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';
import { buildChart, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { buildManifest, getManifest, pushImage } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let repo: ChartRepoServer;
let work: string;

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(upstream.url, 'acme/app', '1.0', buildManifest({}));
  await pushImage(upstream.url, 'acme/sidecar', '2.0', buildManifest({}));
  const app = buildChart({
    name: 'app',
    version: '1.0.0',
    appVersion: '1.0',
    values: {
      image: { registry: upstream.host, repository: 'acme/app', tag: '' },
      sidecar: { image: `${upstream.host}/acme/sidecar:2.0` },
    },
  });
  const appOld = buildChart({ name: 'app', version: '0.9.0', appVersion: '0.9' });
  repo = await startChartRepo([
    { name: 'app', version: '1.0.0', tgz: app },
    { name: 'app', version: '0.9.0', tgz: appOld },
  ]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-sync-'));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop(), repo?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('airlock sync', () => {
  it('mirrors charts to every chart target, then the images they need; a re-sync asks the index with If-None-Match and copies nothing', async () => {
    const dir = path.join(work, 'charts');
    const cfg = path.join(work, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  images:',
        `    registry: ${target.host}`,
        '  charts:',
        `    - oci://${target.host}/charts`,
        `    - url: ${dir}`,
        '      baseUrl: https://charts.internal/stable',
        'charts:',
        `  - repo: ${repo.url}`,
        '    name: app',
        '    semver: ">=1.0.0"',
        `  - repo: ${repo.url}`,
        '    name: missing',
        '    versions: ["1.0.0"]',
      ].join('\n'),
    );
    const state = ['--state', path.join(work, 'state', 'state.json')];
    const first = await airlock(['sync', '--config', cfg, '--json', ...state]);
    const report = JSON.parse(first.stdout) as {
      summary: Record<string, number>;
      items: Array<{ kind: string; source: string; target: string; status: string; error?: { code: string } }>;
    };
    expect(report.items.filter((i) => i.kind === 'chart' && i.status === 'copied')).toHaveLength(2);
    expect(
      report.items
        .filter((i) => i.kind === 'image' && i.status === 'copied')
        .map((i) => i.source)
        .sort(),
    ).toEqual([`docker://${upstream.host}/acme/app:1.0`, `docker://${upstream.host}/acme/sidecar:2.0`]);
    expect(report.items.find((i) => i.status === 'failed')).toMatchObject({
      kind: 'chart',
      error: { code: 'E_NOT_FOUND' },
    });
    expect(first.code).toBe(5);
    const host = upstream.host.replace(':', '-');
    expect((await getManifest(target.url, `${host}/acme/app`, '1.0')).status).toBe(200);
    expect((await getManifest(target.url, 'charts/app', '1.0.0')).status).toBe(200);
    expect((await getManifest(target.url, 'charts/app', '0.9.0')).status).toBe(404);
    const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as {
      entries: Record<string, Array<{ urls: string[] }>>;
    };
    expect(index.entries.app?.[0]?.urls).toEqual(['https://charts.internal/stable/app-1.0.0.tgz']);

    repo.requests.length = 0;
    const second = await airlock(['sync', '--config', cfg, '--json', '--only', 'charts,images', ...state]);
    const again = JSON.parse(second.stdout) as { summary: Record<string, number>; items: unknown[] };
    // The missing chart fails once per target it was meant for.
    expect(again.summary).toMatchObject({ copied: 0, unchanged: 4, failed: 2 });
    expect(repo.requests.filter((r) => r.path.endsWith('index.yaml')).map((r) => r.status)).toEqual([304]);
    // Known digests at the targets and cached image lists: no chart archive is downloaded again.
    expect(repo.requests.filter((r) => r.path.endsWith('.tgz'))).toEqual([]);
  });

  it('rejects an unknown --only kind and a config without chart targets', async () => {
    const cfg = path.join(work, 'bad.yaml');
    fs.writeFileSync(cfg, `charts:\n  - repo: ${repo.url}\n    name: app\n`);
    const only = await airlock(['sync', '--config', cfg, '--only', 'bundles']);
    expect(only.code).toBe(2);
    expect(only.stderr).toMatch(/unknown kind "bundles"/);
    const r = await airlock(['sync', '--config', cfg, '--state', path.join(work, 's2.json')]);
    expect(r.code).toBe(2);
    // At start, before any chart repository is read, naming the key.
    expect(r.stderr.trim()).toBe(
      `airlock: [E_CONFIG] ${cfg}: charts: is set but targets.charts is empty (every chart version goes to each targets.charts entry)`,
    );
  });
});
