import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorChart, type MirrorChartPayload } from '../src/jobs/mirror-chart.js';
import { silentLogger } from '../src/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { buildChart, fakeProv, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { startChartMuseumDouble, type ChartMuseumDouble, type ChartMuseumOptions } from './support/chartmuseum-double.js';
import { testEngine } from './support/engine.js';

// airlock against ChartMuseum as helm/chartmuseum's handlers behave (test/support/chartmuseum-double.ts):
let repo: ChartRepoServer;
let work: string;
const podinfo = buildChart({ name: 'podinfo', version: '6.5.0', appVersion: '6.5.0' });
const podinfoOld = buildChart({ name: 'podinfo', version: '6.4.0', appVersion: '6.4.0' });
const prov = fakeProv('podinfo', '6.5.0', podinfo);
const build7 = buildChart({ name: 'metrics', version: '1.2.3+build.7' });
const build6 = buildChart({ name: 'metrics', version: '1.2.3+build.6' });
const big = buildChart({ name: 'big', version: '1.0.0', files: { 'blob.bin': randomBytes(64 * 1024) } });

beforeAll(async () => {
  repo = await startChartRepo([
    { name: 'podinfo', version: '6.5.0', tgz: podinfo, prov },
    { name: 'podinfo', version: '6.4.0', tgz: podinfoOld },
    { name: 'metrics', version: '1.2.3+build.7', tgz: build7 },
    { name: 'big', version: '1.0.0', tgz: big },
  ]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-cm-'));
});

afterAll(async () => {
  await repo?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function run(p: MirrorChartPayload, engine = testEngine()) {
  return mirrorChart(p, { engine, logger: silentLogger(), repos: createHelmRepoReader(engine) });
}

async function withMuseum(options: ChartMuseumOptions, fn: (cm: ChartMuseumDouble) => Promise<void>) {
  const cm = await startChartMuseumDouble(options);
  try {
    await fn(cm);
  } finally {
    await cm.stop();
  }
}

const posts = (cm: ChartMuseumDouble) => cm.requests.filter((q) => q.method === 'POST');

describe('ChartMuseum as a target', () => {
  it('uploads with provenance into a nested tenant under a context path, skips what is there, never overwrites a different chart silently', async () => {
    await withMuseum({ contextPath: '/museum', depth: 2, basicAuth: { username: 'cm', password: 'cm-pass-1234' } }, async (cm) => {
      const env = { [`AIRLOCK_AUTH_${new URL(cm.url).host.replace(/[^0-9A-Za-z]/g, '_').toUpperCase()}`]: 'cm:cm-pass-1234' };
      const target = `cm+${cm.url.replace('/museum', '')}/org/team`;
      const r = await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' }, testEngine({ env }));
      expect(r).toMatchObject({ status: 'copied', target: `${cm.url}/org/team/charts/podinfo-6.5.0.tgz` });
      expect(cm.storage.get('org/team/podinfo-6.5.0.tgz')?.content.equals(podinfo)).toBe(true);
      expect(cm.storage.get('org/team/podinfo-6.5.0.tgz.prov')?.content.equals(prov)).toBe(true);
      cm.requests.length = 0;
      const again = await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' }, testEngine({ env }));
      expect(again.status).toBe('unchanged');
      expect(posts(cm)).toEqual([]);
      // A different archive under the same name and version.
      const impostor = await startChartRepo([{ name: 'podinfo', version: '6.5.0', tgz: buildChart({ name: 'podinfo', version: '6.5.0', values: { x: 1 } }) }]);
      try {
        const err = await run({ source: impostor.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' }, testEngine({ env })).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'E_CONFLICT' });
        expect(posts(cm)).toEqual([]);
        const forced = await run({ source: impostor.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum', force: true }, testEngine({ env }));
        expect(forced.status).toBe('copied');
        expect(posts(cm).map((q) => q.path)).toEqual(['/museum/api/org/team/charts?force']);
      } finally {
        await impostor.stop();
      }
      const denied = await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target, contextPath: '/museum' }).catch((e: unknown) => e);
      expect(denied).toMatchObject({ code: 'E_UNAUTHORIZED' });
    });
  });

});

describe('ChartMuseum as a source', () => {
  it('mirrors from a tenant under a context path: relative charts/ urls, provenance, digests as its index says', async () => {
    await withMuseum({ contextPath: '/museum', depth: 1 }, async (cm) => {
      const form = new FormData();
      form.append('chart', new Blob([new Uint8Array(podinfo)]), 'podinfo-6.5.0.tgz');
      form.append('prov', new Blob([new Uint8Array(prov)]), 'podinfo-6.5.0.tgz.prov');
      expect((await fetch(`${cm.url}/api/team/charts`, { method: 'POST', body: form })).status).toBe(201);
      await new Promise((r) => setImmediate(r));
      const dir = path.join(work, 'from-museum');
      const r = await run({ source: `${cm.url}/team`, chart: 'podinfo', version: '6.5.0', target: dir });
      expect(r).toMatchObject({ status: 'copied', digest: sha256hex(podinfo) });
      expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz')).equals(podinfo)).toBe(true);
      expect(fs.readFileSync(path.join(dir, 'podinfo-6.5.0.tgz.prov')).equals(prov)).toBe(true);
      const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as { entries: Record<string, Array<{ digest: string }>> };
      expect(index.entries.podinfo?.[0]?.digest).toBe(sha256hex(podinfo));
    });
  });
});
