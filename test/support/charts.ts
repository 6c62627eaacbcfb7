import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';

/**
 * Builds real chart archives with the system `tar` (GNU tar, as `helm package` output is read by
 * Helm's loader), so airlock's own tar code is tested against another implementation.
 */
export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  annotations?: Record<string, string>;
  values?: Record<string, unknown>;
  files?: Record<string, string | Buffer>;
  subcharts?: ChartSpec[];
  /** Subcharts packed as charts/<name>-<version>.tgz instead of directories. */
  packedSubcharts?: ChartSpec[];
  /** Leave Chart.yaml out (a broken chart). */
  noChartYaml?: boolean;
}

function writeChartDir(dir: string, spec: ChartSpec): void {
  fs.mkdirSync(dir, { recursive: true });
  if (!spec.noChartYaml) {
    fs.writeFileSync(
      path.join(dir, 'Chart.yaml'),
      stringify({
        apiVersion: 'v2',
        name: spec.name,
        version: spec.version,
        ...(spec.appVersion ? { appVersion: spec.appVersion } : {}),
        description: `${spec.name} test chart`,
        ...(spec.annotations ? { annotations: spec.annotations } : {}),
      }),
    );
  }
  fs.writeFileSync(path.join(dir, 'values.yaml'), stringify(spec.values ?? {}));
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'templates', 'deployment.yaml'), 'kind: Deployment\n');
  for (const [f, content] of Object.entries(spec.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), content);
  }
  for (const sub of spec.subcharts ?? []) writeChartDir(path.join(dir, 'charts', sub.name), sub);
  for (const sub of spec.packedSubcharts ?? []) {
    fs.mkdirSync(path.join(dir, 'charts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'charts', `${sub.name}-${sub.version}.tgz`), buildChart(sub));
  }
}

export function buildChart(spec: ChartSpec): Buffer {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-'));
  try {
    writeChartDir(path.join(work, spec.name), spec);
    const out = path.join(work, 'out.tgz');
    execFileSync('tar', ['-czf', out, '-C', work, spec.name]);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function sha256hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface RepoChart {
  name: string;
  version: string;
  tgz: Buffer;
  prov?: Buffer;
  /** Extra or overriding index entry fields (e.g. a wrong digest, empty urls). */
  entry?: Record<string, unknown>;
}

export interface ChartRepoServer {
  url: string;
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  charts: RepoChart[];
  /** Replace the served index text (broken-index tests). */
  indexOverride?: string;
  stop(): Promise<void>;
}

/**
 * A classic chart repository on loopback: index.yaml (with ETag and If-None-Match), chart archives
 * and .prov files. `relative` writes relative urls as ChartMuseum does; `requireQuery` answers 403
 * unless the query string carries it (Helm copies the repo URL's query onto chart URLs).
 */
export async function startChartRepo(
  charts: RepoChart[],
  options: {
    relative?: boolean;
    requireQuery?: string;
    basicAuth?: { username: string; password: string };
    redirectCharts?: boolean;
  } = {},
): Promise<ChartRepoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/repo`;
  const state: ChartRepoServer = { url, requests: [], charts, stop: async () => undefined };
  const indexText = () => {
    if (state.indexOverride !== undefined) return state.indexOverride;
    const entries: Record<string, unknown[]> = {};
    for (const c of state.charts) {
      const file = `${c.name}-${c.version}.tgz`;
      (entries[c.name] ??= []).push({
        apiVersion: 'v2',
        name: c.name,
        version: c.version,
        description: `${c.name} chart`,
        created: '2024-01-02T03:04:05Z',
        digest: sha256hex(c.tgz),
        urls: [options.relative ? `charts/${file}` : `${url}/charts/${file}`],
        ...c.entry,
      });
    }
    return stringify({ apiVersion: 'v1', entries, generated: '2024-01-02T03:04:05Z' });
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', url);
    const record = {
      method: req.method ?? 'GET',
      path: `${u.pathname}${u.search}`,
      status: 200,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    state.requests.push(record);
    const send = (status: number, body: Buffer | string = '', headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, headers).end(body);
    };
    if (options.basicAuth) {
      const expected = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected)
        return send(401, 'unauthorized', { 'www-authenticate': 'Basic realm="charts"' });
    }
    if (options.requireQuery && u.search !== `?${options.requireQuery}`) return send(403, 'signature missing');
    if (u.pathname === '/repo/index.yaml') {
      const text = indexText();
      const etag = `"${sha256hex(Buffer.from(text)).slice(0, 16)}"`;
      if (req.headers['if-none-match'] === etag) return send(304, '', { etag });
      return send(200, text, { 'content-type': 'application/x-yaml', etag });
    }
    // Like GitHub release assets: the chart URL redirects to storage on another path.
    if (options.redirectCharts && u.pathname.startsWith('/repo/charts/'))
      return send(302, '', { location: u.pathname.replace('/repo/charts/', '/repo/objects/') });
    const m = /^\/repo\/(?:charts|objects)\/(.+?)(\.prov)?$/.exec(u.pathname);
    const chart = m ? state.charts.find((c) => `${c.name}-${c.version}.tgz` === m[1]) : undefined;
    if (chart && !m?.[2]) return send(200, chart.tgz, { 'content-type': 'application/gzip' });
    if (chart?.prov && m?.[2]) return send(200, chart.prov);
    return send(404, 'not found');
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  state.stop = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

/** A clear-signed-looking provenance file (content is what matters to a byte-for-byte mirror). */
export function fakeProv(name: string, version: string, tgz: Buffer): Buffer {
  return Buffer.from(
    `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: ${name}\nversion: ${version}\n...\nfiles:\n  ${name}-${version}.tgz: sha256:${sha256hex(tgz)}\n-----BEGIN PGP SIGNATURE-----\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n`,
  );
}
