import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import { silentLogger } from '../src/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { buildChart, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { startChartMuseumDouble, type ChartMuseumDouble } from './support/chartmuseum-double.js';
import { testEngine } from './support/engine.js';

// The double's own behaviour, checked against ChartMuseum's documented API (formats.md 3.3).
const chart = buildChart({ name: 'demo', version: '0.1.0' });

async function upload(url: string, tgz: Buffer, query = '', headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('chart', new Blob([new Uint8Array(tgz)]), 'demo-0.1.0.tgz');
  const res = await fetch(`${url}${query}`, { method: 'POST', body: form, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('ChartMuseum double follows the documented API', () => {
  let cm: ChartMuseumDouble;
  beforeAll(async () => {
    cm = await startChartMuseumDouble({ contextPath: '/ctx', depth: 1, basicAuth: { username: 'u', password: 'p' }, anonymousGet: true });
  });
  afterAll(() => cm.stop());
  const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };

  it('201 {saved:true}, then 409 "file already exists", ?force overwrites', async () => {
    expect(await upload(`${cm.url}/api/team/charts`, chart, '', auth)).toEqual({ status: 201, body: { saved: true } });
    expect(await upload(`${cm.url}/api/team/charts`, chart, '', auth)).toEqual({ status: 409, body: { error: 'file already exists' } });
    expect((await upload(`${cm.url}/api/team/charts`, chart, '?force', auth)).status).toBe(201);
  });

  it('requires auth for uploads but allows anonymous GETs when configured', async () => {
    expect((await upload(`${cm.url}/api/team/charts`, chart)).status).toBe(401);
    const res = await fetch(`${cm.url}/api/team/charts/demo/0.1.0`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { digest: string }).digest).toBe(sha256hex(chart));
  });

  it('serves a tenant index.yaml with relative charts/ urls and the archive itself', async () => {
    const index = parse(await (await fetch(`${cm.url}/team/index.yaml`)).text()) as { entries: Record<string, Array<{ urls: string[]; digest: string }>> };
    expect(index.entries.demo?.[0]).toMatchObject({ urls: ['charts/demo-0.1.0.tgz'], digest: sha256hex(chart) });
    const tgz = Buffer.from(await (await fetch(`${cm.url}/team/charts/demo-0.1.0.tgz`)).arrayBuffer());
    expect(tgz.equals(chart)).toBe(true);
    expect((await fetch(`${cm.url}/other/index.yaml`)).status).toBe(200);
  });

  it('rejects an upload without Chart.yaml', async () => {
    const res = await upload(`${cm.url}/api/team/charts`, buildChart({ name: 'x', version: '1.0.0', noChartYaml: true }), '', auth);
    expect(res.status).toBe(500);
  });
});

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const hasDocker = dockerAvailable();

describe('real ChartMuseum (testcontainers)', () => {
  let repo: ChartRepoServer;
  beforeAll(async () => {
    repo = await startChartRepo([{ name: 'demo', version: '0.1.0', tgz: chart }]);
  });
  afterAll(() => repo.stop());

  // Needs a Docker engine (none on the CI machine): skipped there, and vitest reports it as skipped.
  it.skipIf(!hasDocker)('uploads to ghcr.io/helm/chartmuseum and finds the chart unchanged on re-sync', async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const c = await new GenericContainer('ghcr.io/helm/chartmuseum:v0.16.2')
      .withEnvironment({ STORAGE: 'local', STORAGE_LOCAL_ROOTDIR: '/tmp/charts' })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/health', 8080))
      .start();
    try {
      const engine = testEngine();
      const target = `cm+http://${c.getHost()}:${c.getMappedPort(8080)}`;
      const ctx = { engine, logger: silentLogger(), repos: createHelmRepoReader(engine) };
      expect((await mirrorChart({ source: repo.url, chart: 'demo', version: '0.1.0', target }, ctx)).status).toBe('copied');
      expect((await mirrorChart({ source: repo.url, chart: 'demo', version: '0.1.0', target }, ctx)).status).toBe('unchanged');
    } finally {
      await c.stop();
    }
  });
});
