import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import { silentLogger } from '../src/core/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { buildChart, fakeProv, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import {
  startChartMuseumDouble,
  type ChartMuseumDouble,
  type ChartMuseumOptions,
} from './support/chartmuseum-double.js';
import { testEngine } from './support/engine.js';

// The double's own behaviour, each checked against what helm/chartmuseum's handlers do (the files
// named in test/support/chartmuseum-double.ts): a double that drifted from the server would let
// airlock's ChartMuseum code pass against something that does not exist.
const chart = buildChart({ name: 'demo', version: '0.1.0' });
const prov = fakeProv('demo', '0.1.0', chart);

interface Reply {
  status: number;
  body: unknown;
  headers: Headers;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // text bodies (index.yaml, 413) stay text
  }
  return { status: res.status, body, headers: res.headers };
}

function form(parts: Record<string, { bytes: Buffer; filename?: string } | string>): FormData {
  const f = new FormData();
  for (const [field, part] of Object.entries(parts)) {
    if (typeof part === 'string') f.append(field, part);
    else f.append(field, new Blob([new Uint8Array(part.bytes)]), part.filename ?? `${field}.bin`);
  }
  return f;
}

const post = async (url: string, body: FormData | Buffer, headers: Record<string, string> = {}) =>
  reply(
    await fetch(url, {
      method: 'POST',
      body: body instanceof FormData ? body : new Uint8Array(body),
      headers: body instanceof FormData ? headers : { 'content-type': 'application/octet-stream', ...headers },
    }),
  );
const get = async (url: string, init: RequestInit = {}) => reply(await fetch(url, init));
const upload = (
  url: string,
  extra: Record<string, { bytes: Buffer; filename?: string }> = {},
  query = '',
  headers: Record<string, string> = {},
) => post(`${url}${query}`, form({ chart: { bytes: chart, filename: 'demo-0.1.0.tgz' }, ...extra }), headers);

async function withMuseum(options: ChartMuseumOptions, fn: (cm: ChartMuseumDouble) => Promise<void>) {
  const cm = await startChartMuseumDouble(options);
  try {
    await fn(cm);
  } finally {
    await cm.stop();
  }
}

describe('ChartMuseum double follows helm/chartmuseum', () => {
  let cm: ChartMuseumDouble;
  beforeAll(async () => {
    cm = await startChartMuseumDouble({
      contextPath: 'ctx/',
      depth: 1,
      basicAuth: { username: 'u', password: 'p' },
      anonymousGet: true,
    });
  });
  afterAll(() => cm.stop());
  const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };

  it('multipart upload: 201 {saved:true}; the same version again 409 {"error":"chart already exists"}; ?force overwrites', async () => {
    expect(await upload(`${cm.url}/api/team/charts`, { prov: { bytes: prov } }, '', auth)).toMatchObject({
      status: 201,
      body: { saved: true },
    });
    expect(cm.storage.get('team/demo-0.1.0.tgz')?.content.equals(chart)).toBe(true);
    expect(cm.storage.get('team/demo-0.1.0.tgz.prov')?.content.equals(prov)).toBe(true);
    expect(await upload(`${cm.url}/api/team/charts`, {}, '', auth)).toMatchObject({
      status: 409,
      body: { error: 'chart already exists' },
    });
    // handlers.go: GetQuery("force") is the key's presence, whatever its value.
    expect(await upload(`${cm.url}/api/team/charts`, {}, '?force=false', auth)).toMatchObject({
      status: 201,
      body: { saved: true },
    });
  });

  it('context path (normalised to /ctx), tenant depth, and /health with no auth at any depth; outside them 404 {"error":"not found"} before auth', async () => {
    expect(cm.url.endsWith('/ctx')).toBe(true);
    expect(await get(`${cm.url}/health`)).toMatchObject({ status: 200, body: { healthy: true } });
    const origin = new URL(cm.url).origin;
    expect(await get(`${origin}/health`)).toMatchObject({ status: 404, body: { error: 'not found' } });
    expect(await get(`${origin}/team/index.yaml`)).toMatchObject({ status: 404, body: { error: 'not found' } });
    // depth 1: no tenant, or two segments, is no route at all.
    expect(await get(`${cm.url}/index.yaml`)).toMatchObject({ status: 404, body: { error: 'not found' } });
    expect(await post(`${cm.url}/api/org/team/charts`, form({ chart: { bytes: chart } }))).toMatchObject({
      status: 404,
      body: { error: 'not found' },
    });
    expect(await post(`${cm.url}/api/charts`, form({ chart: { bytes: chart } }))).toMatchObject({
      status: 404,
      body: { error: 'not found' },
    });
  });

  it('auth: pushes need the basic header (401 {"error":"unauthorized"}, Basic realm="ChartMuseum"); anonymous GETs when allowed', async () => {
    const denied = await upload(`${cm.url}/api/team/charts`);
    expect(denied).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="ChartMuseum"');
    const res = await get(`${cm.url}/api/team/charts/demo/0.1.0`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'demo',
      version: '0.1.0',
      apiVersion: 'v2',
      urls: ['charts/demo-0.1.0.tgz'],
      digest: sha256hex(chart),
    });
  });

  it('index.yaml per tenant: relative charts/ urls, only Helm fields, serverInfo.contextPath; the archive and .prov from storage', async () => {
    const res = await get(`${cm.url}/team/index.yaml`);
    expect(res.headers.get('content-type')).toBe('application/x-yaml');
    const index = parse(res.body as string) as {
      apiVersion: string;
      serverInfo: unknown;
      entries: Record<string, Array<Record<string, unknown>>>;
    };
    expect(index.apiVersion).toBe('v1');
    expect(index.serverInfo).toEqual({ contextPath: '/ctx' });
    expect(Object.keys(index.entries.demo?.[0] ?? {}).sort()).toEqual([
      'apiVersion',
      'created',
      'description',
      'digest',
      'name',
      'urls',
      'version',
    ]);
    expect(index.entries.demo?.[0]).toMatchObject({ urls: ['charts/demo-0.1.0.tgz'], digest: sha256hex(chart) });
    const tgz = await fetch(`${cm.url}/team/charts/demo-0.1.0.tgz`);
    expect(tgz.headers.get('content-type')).toBe('application/x-tar');
    expect(Buffer.from(await tgz.arrayBuffer()).equals(chart)).toBe(true);
    expect((await fetch(`${cm.url}/team/charts/demo-0.1.0.tgz.prov`)).headers.get('content-type')).toBe(
      'application/pgp-signature',
    );
    expect(await get(`${cm.url}/team/charts/demo-9.9.9.tgz`)).toMatchObject({
      status: 404,
      body: { error: 'object not found' },
    });
    expect(await get(`${cm.url}/team/charts/demo-0.1.0.zip`)).toMatchObject({
      status: 500,
      body: { error: 'unsupported file extension' },
    });
    // Another tenant: an empty index, not a 404.
    expect((await get(`${cm.url}/other/index.yaml`)).status).toBe(200);
    expect((await fetch(`${cm.url}/other/index.yaml`, { method: 'HEAD' })).status).toBe(200);
  });

  it("an upload that is not a chart: 400 with the Helm loader's error; no file field at all: 400 naming the fields", async () => {
    const bad = await post(
      `${cm.url}/api/team/charts`,
      form({ chart: { bytes: buildChart({ name: 'x', version: '1.0.0', noChartYaml: true }) } }),
      auth,
    );
    expect(bad).toMatchObject({ status: 400, body: { error: 'Chart.yaml file is missing' } });
    const badVersion = await post(
      `${cm.url}/api/team/charts`,
      form({ chart: { bytes: buildChart({ name: 'x', version: 'one' }) } }),
      auth,
    );
    expect(badVersion).toMatchObject({
      status: 400,
      body: { error: 'validation: chart.metadata.version "one" is invalid' },
    });
    // A part without a filename is a form value in Go, not a file.
    const valueOnly = await post(`${cm.url}/api/team/charts`, form({ chart: chart.toString('latin1') }), auth);
    expect(valueOnly).toMatchObject({
      status: 400,
      body: { error: 'no package or provenance file found in form fields chart and prov' },
    });
  });
});

describe('ChartMuseum double: server settings', () => {
  it('--disable-force-overwrite: ?force is refused too; --allow-overwrite: no ?force needed', async () => {
    await withMuseum({ disableForceOverwrite: true }, async (cm) => {
      expect((await upload(`${cm.url}/api/charts`)).status).toBe(201);
      expect(await upload(`${cm.url}/api/charts`, {}, '?force')).toMatchObject({
        status: 409,
        body: { error: 'chart already exists' },
      });
    });
    await withMuseum({ allowOverwrite: true }, async (cm) => {
      expect((await upload(`${cm.url}/api/charts`)).status).toBe(201);
      expect((await upload(`${cm.url}/api/charts`)).status).toBe(201);
    });
  });

  it('a bare chart body (not multipart): 409 {"error":"file already exists"}; --max-storage-objects gives 507 there and on /api/prov, never on a multipart upload', async () => {
    await withMuseum({ maxStorageObjects: 1 }, async (cm) => {
      expect(await post(`${cm.url}/api/charts`, chart)).toMatchObject({ status: 201, body: { saved: true } });
      expect(await post(`${cm.url}/api/charts`, chart)).toMatchObject({
        status: 409,
        body: { error: 'file already exists' },
      });
      const other = buildChart({ name: 'other', version: '1.0.0' });
      expect(await post(`${cm.url}/api/charts`, other)).toMatchObject({
        status: 507,
        body: { error: 'repo has reached storage limit' },
      });
      expect(await post(`${cm.url}/api/prov`, fakeProv('other', '1.0.0', other))).toMatchObject({
        status: 507,
        body: { error: 'repo has reached storage limit' },
      });
      expect((await post(`${cm.url}/api/charts`, form({ chart: { bytes: other } }))).status).toBe(201);
    });
  });

  it('/api/prov takes a raw provenance body named from its name/version lines', async () => {
    await withMuseum({}, async (cm) => {
      expect(await post(`${cm.url}/api/prov`, prov)).toMatchObject({ status: 201, body: { saved: true } });
      expect(cm.storage.has('demo-0.1.0.tgz.prov')).toBe(true);
      expect(await post(`${cm.url}/api/prov`, prov)).toMatchObject({
        status: 409,
        body: { error: 'file already exists' },
      });
      expect(await post(`${cm.url}/api/prov`, Buffer.from('not signed'))).toMatchObject({
        status: 500,
        body: { error: 'invalid provenance file' },
      });
    });
  });

  it('custom form field names are read besides chart and prov', async () => {
    await withMuseum({ chartPostFormFieldName: 'file', provPostFormFieldName: 'sig' }, async (cm) => {
      expect((await post(`${cm.url}/api/charts`, form({ file: { bytes: chart }, sig: { bytes: prov } }))).status).toBe(
        201,
      );
      expect([...cm.storage.keys()].filter((k) => k.startsWith('demo')).sort()).toEqual([
        'demo-0.1.0.tgz',
        'demo-0.1.0.tgz.prov',
      ]);
      expect(await post(`${cm.url}/api/charts`, form({ other: { bytes: chart } }))).toMatchObject({
        status: 400,
        body: { error: 'no package or provenance file found in form fields file and sig' },
      });
    });
  });

  it('a body over --max-upload-size: 413 "request too large" as text', async () => {
    await withMuseum({ maxUploadSize: 1024 }, async (cm) => {
      const big = buildChart({ name: 'big', version: '1.0.0', files: { 'blob.bin': randomBytes(4096) } });
      const r = await post(`${cm.url}/api/charts`, form({ chart: { bytes: big } }));
      expect(r).toMatchObject({ status: 413, body: 'request too large' });
    });
  });

  it('DELETE removes the package and its .prov (200 {"deleted":true}); absent 404 with the storage error; --disable-delete has no route', async () => {
    await withMuseum({}, async (cm) => {
      await upload(`${cm.url}/api/charts`, { prov: { bytes: prov } });
      expect(await get(`${cm.url}/api/charts/demo/0.1.0`, { method: 'DELETE' })).toMatchObject({
        status: 200,
        body: { deleted: true },
      });
      expect(cm.storage.has('demo-0.1.0.tgz') || cm.storage.has('demo-0.1.0.tgz.prov')).toBe(false);
      const again = await get(`${cm.url}/api/charts/demo/0.1.0`, { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect((again.body as { error: string }).error).toMatch(/no such file or directory$/);
      expect((await get(`${cm.url}/api/charts/demo/0.1.0`)).status).toBe(404);
    });
    await withMuseum({ disableDelete: true }, async (cm) => {
      expect(await get(`${cm.url}/api/charts/demo/0.1.0`, { method: 'DELETE' })).toMatchObject({
        status: 404,
        body: { error: 'not found' },
      });
    });
  });

  it('--disable-api: every /api route is gone, the repository routes stay', async () => {
    await withMuseum({ disableApi: true }, async (cm) => {
      expect(await upload(`${cm.url}/api/charts`)).toMatchObject({ status: 404, body: { error: 'not found' } });
      expect((await get(`${cm.url}/index.yaml`)).status).toBe(200);
    });
  });

  it('--chart-url makes index urls absolute: chart url + context path + tenant', async () => {
    await withMuseum({ chartUrl: 'https://charts.example', contextPath: '/m', depth: 1 }, async (cm) => {
      await upload(`${cm.url}/api/team/charts`);
      const index = parse((await get(`${cm.url}/team/index.yaml`)).body as string) as {
        entries: Record<string, Array<{ urls: string[] }>>;
      };
      expect(index.entries.demo?.[0]?.urls).toEqual(['https://charts.example/m/team/charts/demo-0.1.0.tgz']);
    });
  });
});

describe('ChartMuseum double: the index cache', () => {
  it('reads a version as a semver constraint after an exact match: 0.1 finds 0.1.3, 1.0.0+b.2 finds 1.0.0+b.1; missing names and versions as Helm words them', async () => {
    await withMuseum({}, async (cm) => {
      for (const v of ['0.1.0', '0.1.3', '1.0.0+b.1', '2.0.0-rc.1'])
        await post(`${cm.url}/api/charts`, form({ chart: { bytes: buildChart({ name: 'demo', version: v }) } }));
      const version = async (v: string) =>
        (await get(`${cm.url}/api/charts/demo/${encodeURIComponent(v)}`)).body as { version?: string; error?: string };
      expect((await version('0.1.3')).version).toBe('0.1.3');
      expect((await version('0.1')).version).toBe('0.1.3');
      expect((await version('1.0.0+b.2')).version).toBe('1.0.0+b.1');
      expect((await version('latest')).version).toBe('1.0.0+b.1');
      expect((await version('2.0.0')).error).toBe('no chart version found for demo-2.0.0');
      expect((await get(`${cm.url}/api/charts/nope/1.0.0`)).body).toEqual({ error: 'no chart name found' });
      expect(await get(`${cm.url}/api/charts/nope`)).toMatchObject({ status: 404, body: { error: 'chart not found' } });
    });
  });

  it('an upload reaches index.yaml and the API through an event after the 201; the storage route has it at once', async () => {
    await withMuseum({ holdIndexEvents: true }, async (cm) => {
      // An empty tenant index is rebuilt from storage on every read, so the first chart shows at once.
      await upload(`${cm.url}/api/charts`);
      expect((await get(`${cm.url}/api/charts/demo/0.1.0`)).status).toBe(200);
      const next = buildChart({ name: 'demo', version: '0.2.0' });
      expect((await post(`${cm.url}/api/charts`, form({ chart: { bytes: next } }))).status).toBe(201);
      expect(cm.pendingEvents()).toBeGreaterThan(0);
      expect((await get(`${cm.url}/api/charts/demo/0.2.0`)).status).toBe(404);
      expect(parse((await get(`${cm.url}/index.yaml`)).body as string).entries.demo).toHaveLength(1);
      expect((await get(`${cm.url}/charts/demo-0.2.0.tgz`)).status).toBe(200);
      cm.applyIndexEvents();
      expect((await get(`${cm.url}/api/charts/demo/0.2.0`)).status).toBe(200);
      expect(
        parse((await get(`${cm.url}/index.yaml`)).body as string).entries.demo.map(
          (v: { version: string }) => v.version,
        ),
      ).toEqual(['0.2.0', '0.1.0']);
    });
  });

  it('an object written behind the server (another replica) shows only after a cache-interval rescan, or always with --always-regenerate-chart-index', async () => {
    for (const alwaysRegenerateIndex of [false, true]) {
      await withMuseum({ depth: 1, alwaysRegenerateIndex }, async (cm) => {
        await upload(`${cm.url}/api/team/charts`);
        await new Promise((r) => setImmediate(r));
        cm.putObject('team/demo-0.3.0.tgz', buildChart({ name: 'demo', version: '0.3.0' }));
        expect((await get(`${cm.url}/api/team/charts/demo/0.3.0`)).status).toBe(alwaysRegenerateIndex ? 200 : 404);
        cm.refreshIndex();
        expect((await get(`${cm.url}/api/team/charts/demo/0.3.0`)).status).toBe(200);
        expect(cm.storage.has('team/index-cache.yaml')).toBe(true);
      });
    }
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
      expect((await mirrorChart({ source: repo.url, chart: 'demo', version: '0.1.0', target }, ctx)).status).toBe(
        'copied',
      );
      expect((await mirrorChart({ source: repo.url, chart: 'demo', version: '0.1.0', target }, ctx)).status).toBe(
        'unchanged',
      );
    } finally {
      await c.stop();
    }
  });
});
