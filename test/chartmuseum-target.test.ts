import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import type { MirrorChartPayload } from '../src/model/chart-payload.js';
import { silentLogger } from '../src/core/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { buildChart, fakeProv, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import {
  startChartMuseumDouble,
  type ChartMuseumDouble,
  type ChartMuseumOptions,
} from './support/chartmuseum-double.js';
import { testEngine } from './support/engine.js';

// airlock against ChartMuseum as helm/chartmuseum's handlers behave (test/support/chartmuseum-double.ts):
// an index that lags storage, versions read as constraints, 409/413 and "no route" 404s.
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
    await withMuseum(
      { contextPath: '/museum', depth: 2, basicAuth: { username: 'cm', password: 'cm-pass-1234' } },
      async (cm) => {
        const env = {
          [`AIRLOCK_AUTH_${new URL(cm.url).host.replace(/[^0-9A-Za-z]/g, '_').toUpperCase()}`]: 'cm:cm-pass-1234',
        };
        const target = `cm+${cm.url.replace('/museum', '')}/org/team`;
        const r = await run(
          { source: repo.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' },
          testEngine({ env }),
        );
        expect(r).toMatchObject({ status: 'copied', target: `${cm.url}/org/team/charts/podinfo-6.5.0.tgz` });
        expect(cm.storage.get('org/team/podinfo-6.5.0.tgz')?.content.equals(podinfo)).toBe(true);
        expect(cm.storage.get('org/team/podinfo-6.5.0.tgz.prov')?.content.equals(prov)).toBe(true);
        cm.requests.length = 0;
        const again = await run(
          { source: repo.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' },
          testEngine({ env }),
        );
        expect(again.status).toBe('unchanged');
        expect(posts(cm)).toEqual([]);
        // A different archive under the same name and version.
        const impostor = await startChartRepo([
          {
            name: 'podinfo',
            version: '6.5.0',
            tgz: buildChart({ name: 'podinfo', version: '6.5.0', values: { x: 1 } }),
          },
        ]);
        try {
          const err = await run(
            { source: impostor.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum' },
            testEngine({ env }),
          ).catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'E_CONFLICT' });
          expect(posts(cm)).toEqual([]);
          const forced = await run(
            { source: impostor.url, chart: 'podinfo', version: '6.5.0', target, contextPath: '/museum', force: true },
            testEngine({ env }),
          );
          expect(forced.status).toBe('copied');
          expect(posts(cm).map((q) => q.path)).toEqual(['/museum/api/org/team/charts?force']);
        } finally {
          await impostor.stop();
        }
        // The server's {"error": "..."} is the message, not its JSON.
        const denied = await run({
          source: repo.url,
          chart: 'podinfo',
          version: '6.4.0',
          target,
          contextPath: '/museum',
        }).catch((e: unknown) => e);
        expect(denied).toMatchObject({ code: 'E_UNAUTHORIZED' });
        expect((denied as Error).message).toMatch(/HTTP 401 unauthorized$/);
      },
    );
  });

  it('finds its chart in storage while the index has not caught up (events held): no second upload', async () => {
    await withMuseum({ holdIndexEvents: true }, async (cm) => {
      // The first chart of an empty index is seen at once (the server rescans storage while its index is empty).
      expect((await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target: `cm+${cm.url}` })).status).toBe(
        'copied',
      );
      expect((await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `cm+${cm.url}` })).status).toBe(
        'copied',
      );
      expect(cm.pendingEvents()).toBeGreaterThan(0);
      expect((await fetch(`${cm.url}/api/charts/podinfo/6.5.0`)).status).toBe(404);
      // A fresh run (no mirror state) while the index still lacks 6.5.0.
      const again = await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `cm+${cm.url}` });
      expect(again.status).toBe('unchanged');
      expect(posts(cm)).toHaveLength(2);
    });
  });

  it('refuses a different archive another replica stored, though the index does not list it and the server allows overwrites', async () => {
    await withMuseum({ allowOverwrite: true, depth: 1 }, async (cm) => {
      expect(
        (await run({ source: repo.url, chart: 'podinfo', version: '6.4.0', target: `cm+${cm.url}/team` })).status,
      ).toBe('copied');
      await new Promise((r) => setImmediate(r));
      const theirs = buildChart({ name: 'podinfo', version: '6.5.0', values: { replica: 'b' } });
      cm.putObject('team/podinfo-6.5.0.tgz', theirs);
      const err = await run({
        source: repo.url,
        chart: 'podinfo',
        version: '6.5.0',
        target: `cm+${cm.url}/team`,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_CONFLICT' });
      expect((err as Error).message).toContain(sha256hex(theirs));
      expect(cm.storage.get('team/podinfo-6.5.0.tgz')?.content.equals(theirs)).toBe(true);
      expect(posts(cm)).toHaveLength(1);
    });
  });

  it('does not take the index answer for another version (the server reads the version as a constraint): 1.2.3+build.7 next to 1.2.3+build.6', async () => {
    await withMuseum({}, async (cm) => {
      const form = new FormData();
      form.append('chart', new Blob([new Uint8Array(build6)]), 'metrics.tgz');
      expect((await fetch(`${cm.url}/api/charts`, { method: 'POST', body: form })).status).toBe(201);
      await new Promise((r) => setImmediate(r));
      expect(
        (
          (await (await fetch(`${cm.url}/api/charts/metrics/${encodeURIComponent('1.2.3+build.7')}`)).json()) as {
            version: string;
          }
        ).version,
      ).toBe('1.2.3+build.6');
      const r = await run({ source: repo.url, chart: 'metrics', version: '1.2.3+build.7', target: `cm+${cm.url}` });
      expect(r.status).toBe('copied');
      expect(cm.storage.get('metrics-1.2.3+build.7.tgz')?.content.equals(build7)).toBe(true);
      expect(cm.storage.get('metrics-1.2.3+build.6.tgz')?.content.equals(build6)).toBe(true);
    });
  });

  it('says the server refuses ?force when it runs with --disable-force-overwrite', async () => {
    await withMuseum({ disableForceOverwrite: true }, async (cm) => {
      cm.putObject('podinfo-6.5.0.tgz', buildChart({ name: 'podinfo', version: '6.5.0', values: { other: 1 } }));
      const err = await run({
        source: repo.url,
        chart: 'podinfo',
        version: '6.5.0',
        target: `cm+${cm.url}`,
        force: true,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_CONFLICT', status: 409 });
      expect((err as Error).message).toMatch(
        /even with \?force \(HTTP 409 chart already exists\): the server runs with --disable-force-overwrite/,
      );
    });
  });

  it('names a leftover .prov that makes the server answer 409 for a chart it does not hold', async () => {
    await withMuseum({}, async (cm) => {
      cm.putObject('podinfo-6.5.0.tgz.prov', prov);
      const err = await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `cm+${cm.url}` }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'E_CONFLICT' });
      expect((err as Error).message).toMatch(/podinfo-6\.5\.0\.tgz\.prov left there/);
    });
  });

  it("reports an upload over the server's --max-upload-size (413) for that chart only", async () => {
    await withMuseum({ maxUploadSize: 16 * 1024 }, async (cm) => {
      expect((await run({ source: repo.url, chart: 'podinfo', version: '6.5.0', target: `cm+${cm.url}` })).status).toBe(
        'copied',
      );
      const err = await run({ source: repo.url, chart: 'big', version: '1.0.0', target: `cm+${cm.url}` }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'E_REGISTRY', status: 413 });
      expect((err as Error).message).toMatch(/too large \(HTTP 413 request too large\).*--max-upload-size/);
    });
  });

  it('a tenant path or context path the server does not route is a config error, not an upload into a 404', async () => {
    await withMuseum({ depth: 1, contextPath: '/cm' }, async (cm) => {
      const origin = new URL(cm.url).origin;
      const deep = await run({
        source: repo.url,
        chart: 'podinfo',
        version: '6.4.0',
        target: `cm+${origin}/org/team`,
        contextPath: '/cm',
      }).catch((e: unknown) => e);
      expect(deep).toMatchObject({ code: 'E_CONFIG' });
      expect((deep as Error).message).toMatch(/no route .*--depth/);
      const noCtx = await run({
        source: repo.url,
        chart: 'podinfo',
        version: '6.4.0',
        target: `cm+${origin}/team`,
      }).catch((e: unknown) => e);
      expect(noCtx).toMatchObject({ code: 'E_CONFIG' });
      expect(posts(cm)).toEqual([]);
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
      const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as {
        entries: Record<string, Array<{ digest: string }>>;
      };
      expect(index.entries.podinfo?.[0]?.digest).toBe(sha256hex(podinfo));
    });
  });
});
