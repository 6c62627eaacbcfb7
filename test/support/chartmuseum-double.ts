import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './ports.js';

/**
 * TEST DOUBLE of ChartMuseum (helm/chartmuseum), which cannot run here. Written from its documented
 * API (shared/docs/formats.md 3.3, chartmuseum README): multipart `POST <ctx>/api[/<tenant>]/charts`
 * with parts `chart` and `prov`, `?force`, 201 `{"saved":true}`, 409 `{"error":"file already exists"}`,
 * 507 past the storage limit, `GET <ctx>/api[/<tenant>]/charts/<name>/<version>` with `digest`,
 * `GET <ctx>[/<tenant>]/index.yaml` with relative `charts/<file>` urls, `GET .../charts/<file>`,
 * basic auth on every route unless anonymous GETs are allowed. The stored file is named from the
 * Chart.yaml inside the upload (read with the system tar), so an archive without one is refused.
 */
export interface ChartMuseumDouble {
  url: string;
  requests: Array<{ method: string; path: string; status: number }>;
  stored: Map<string, { name: string; version: string; metadata: Record<string, unknown>; tgz: Buffer; prov?: Buffer; digest: string; created: string }>;
  stop(): Promise<void>;
}

export interface ChartMuseumOptions {
  contextPath?: string;
  /** `--depth`: tenant path segments (0 = single tenant). */
  depth?: number;
  basicAuth?: { username: string; password: string };
  anonymousGet?: boolean;
  /** Bytes of chart data after which uploads answer 507. */
  storageLimit?: number;
  allowOverwrite?: boolean;
  disableForceOverwrite?: boolean;
}

function chartYamlOf(tgz: Buffer): { name: string; version: string; metadata: Record<string, unknown> } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-double-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.tgz'), tgz);
    const list = execFileSync('tar', ['-tzf', path.join(dir, 'c.tgz')], { encoding: 'utf8' }).split('\n');
    const entry = list.find((l) => /^[^/]+\/Chart\.yaml$/.test(l));
    if (!entry) return undefined;
    const text = execFileSync('tar', ['-xzOf', path.join(dir, 'c.tgz'), entry], { encoding: 'utf8' });
    const doc = parse(text) as { name?: string; version?: unknown } & Record<string, unknown>;
    return doc?.name && doc.version !== undefined ? { name: doc.name, version: String(doc.version), metadata: doc } : undefined;
  } catch {
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function startChartMuseumDouble(options: ChartMuseumOptions = {}): Promise<ChartMuseumDouble> {
  const port = await freePort();
  const ctx = (options.contextPath ?? '').replace(/\/+$/, '');
  const depth = options.depth ?? 0;
  const stored: ChartMuseumDouble['stored'] = new Map();
  const requests: ChartMuseumDouble['requests'] = [];
  let used = 0;

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec = { method: req.method ?? 'GET', path: `${u.pathname}${u.search}`, status: 0 };
    requests.push(rec);
    const json = (status: number, body: unknown) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);

    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (options.basicAuth && !(isGet && options.anonymousGet)) {
      const expected = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        rec.status = 401;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="chartmuseum"', 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
    }
    if (!u.pathname.startsWith(`${ctx}/`)) return json(404, { error: 'not found' });
    const parts = u.pathname.slice(ctx.length + 1).split('/');
    const isApi = parts[0] === 'api';
    const rest = isApi ? parts.slice(1) : parts;
    const tenant = rest.slice(0, depth).join('/');
    const tail = rest.slice(depth);
    const key = (name: string, version: string) => `${tenant}|${name}|${version}`;

    if (isApi && tail[0] === 'charts' && req.method === 'POST' && tail.length === 1) {
      const form = await new Request('http://x', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body }).formData().catch(() => undefined);
      const chartPart = form?.get('chart');
      const provPart = form?.get('prov');
      if (!chartPart || typeof chartPart === 'string') return json(400, { error: 'no chart in request' });
      const tgz = Buffer.from(await chartPart.arrayBuffer());
      const meta = chartYamlOf(tgz);
      if (!meta) return json(500, { error: 'chart is not a valid helm chart package' });
      const k = key(meta.name, meta.version);
      const force = u.searchParams.has('force') && !options.disableForceOverwrite;
      if (stored.has(k) && !force && !options.allowOverwrite) return json(409, { error: 'file already exists' });
      if (options.storageLimit !== undefined && used + tgz.length > options.storageLimit) return json(507, { error: 'storage limit reached' });
      used += tgz.length;
      const prov = provPart && typeof provPart !== 'string' ? Buffer.from(await provPart.arrayBuffer()) : undefined;
      stored.set(k, { ...meta, tgz, ...(prov ? { prov } : {}), digest: createHash('sha256').update(tgz).digest('hex'), created: new Date().toISOString() });
      return json(201, { saved: true });
    }
    if (isApi && tail[0] === 'charts' && isGet && tail.length === 3) {
      const c = stored.get(key(decodeURIComponent(tail[1] ?? ''), decodeURIComponent(tail[2] ?? '')));
      if (!c) return json(404, { error: 'improper constraint' });
      return json(200, { name: c.name, version: c.version, digest: c.digest, created: c.created, urls: [`charts/${c.name}-${c.version}.tgz`] });
    }
    if (!isApi && isGet && tail.length === 1 && tail[0] === 'index.yaml') {
      const entries: Record<string, unknown[]> = {};
      for (const [k, c] of stored) {
        if (!k.startsWith(`${tenant}|`)) continue;
        // Like ChartMuseum, every Chart.yaml field goes into the entry (repo.ChartVersion inlines the metadata).
        (entries[c.name] ??= []).push({ apiVersion: 'v2', ...c.metadata, name: c.name, version: c.version, digest: c.digest, created: c.created, urls: [`charts/${c.name}-${c.version}.tgz`] });
      }
      rec.status = 200;
      res.writeHead(200, { 'content-type': 'application/x-yaml' }).end(stringify({ apiVersion: 'v1', entries, generated: new Date().toISOString(), serverInfo: {} }));
      return;
    }
    if (!isApi && isGet && tail[0] === 'charts' && tail.length === 2) {
      const file = tail[1] ?? '';
      for (const [k, c] of stored) {
        if (!k.startsWith(`${tenant}|`)) continue;
        const base = `${c.name}-${c.version}.tgz`;
        if (file === base || (file === `${base}.prov` && c.prov)) {
          rec.status = 200;
          res.writeHead(200).end(file === base ? c.tgz : c.prov);
          return;
        }
      }
    }
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}${ctx}`,
    requests,
    stored,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
