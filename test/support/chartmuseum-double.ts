import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './ports.js';

/**
 * TEST DOUBLE of ChartMuseum (helm/chartmuseum), which cannot run here. Built handler by handler
 * from its Go source; every behaviour below names the file it follows. Sources read:
 *
 * - helm/chartmuseum @ 09d63b8172e68474dfde7ea3026f528c1a6c8d6f (after v0.16.5):
 *   pkg/chartmuseum/server/multitenant/{routes,handlers,api,index,cache,storage,server}.go,
 *   pkg/chartmuseum/router/{router,match}.go, pkg/chartmuseum/server.go, pkg/repo/{chart,index,provenance}.go,
 *   pkg/config/vars.go (flag defaults), cmd/chartmuseum/main.go (flag → option mapping)
 * - chartmuseum/storage @ 331bc8b0cfc276031b67e81fcbadc9ee01bbbc71: local.go, storage.go (the local backend)
 * - chartmuseum/auth @ 5fa4838f3edf76d1948dc6811159e717af6686f1: authorization.go (basic auth, anonymous pull)
 * - gin-contrib/size @ e14a14094dc46f09f9a5c87700072cfdf544fe56 (the version chartmuseum's go.mod pins): size.go
 * - helm/helm: pkg/chart/metadata.go @ 07b13b63ca8af032920b5b80e09010ff82033006 (Chart.yaml fields, validation),
 *   pkg/repo/index.go @ 01e913a7ea0fefa19f309f3939e914097e2b9ed1 (IndexFile.Get, ChartVersion JSON); the loader's
 *   "Chart.yaml file is missing" from helm.sh/helm/v3 v3.20.2 pkg/chart/loader/load.go (chartmuseum's go.mod)
 *
 * It shares nothing with airlock's code: multipart, versions and Chart.yaml are parsed here on their own
 * (chart archives with the system tar). Not modelled: bearer auth, --depth-dynamic, --per-chart-limit,
 * the templates/values API routes, artifacthub-repo.yml, an external cache store.
 */
export interface ChartMuseumDouble {
  /** `http://127.0.0.1:PORT<contextPath>`. */
  url: string;
  requests: Array<{ method: string; path: string; status: number }>;
  /** The storage backend: object path (`<tenant>/<file>`, or `<file>` at depth 0) → bytes and mtime. */
  storage: Map<string, StorageObject>;
  /** Writes an object behind the server's back (another replica on the same storage, a restored backup). */
  putObject(objectPath: string, content: Buffer): void;
  /** Index-cache events (upload, delete) waiting, when `holdIndexEvents` is set. */
  pendingEvents(): number;
  /** Runs the waiting events, as the event listener goroutine does. */
  applyIndexEvents(): void;
  /** One `--cache-interval` tick: every known tenant's index compared with storage and regenerated. */
  refreshIndex(): void;
  stop(): Promise<void>;
}

export interface StorageObject {
  content: Buffer;
  lastModified: number;
}

export interface ChartMuseumOptions {
  /** `--context-path`. */
  contextPath?: string;
  /** `--depth`: tenant path segments (0 = single tenant). */
  depth?: number;
  /** `--basic-auth-user` / `--basic-auth-pass`. */
  basicAuth?: { username: string; password: string };
  /** `--auth-anonymous-get`. */
  anonymousGet?: boolean;
  /** `--allow-overwrite`. */
  allowOverwrite?: boolean;
  /** `--disable-force-overwrite`. */
  disableForceOverwrite?: boolean;
  /** `--disable-api`. */
  disableApi?: boolean;
  /** `--disable-delete`. */
  disableDelete?: boolean;
  /** `--max-storage-objects` (0 = none). */
  maxStorageObjects?: number;
  /** `--max-upload-size` in bytes (default 20 MiB, as the server's). */
  maxUploadSize?: number;
  /** `--chart-url`: absolute chart URLs in index.yaml. */
  chartUrl?: string;
  /** `--chart-post-form-field-name` / `--prov-post-form-field-name` (default `chart` / `prov`). */
  chartPostFormFieldName?: string;
  provPostFormFieldName?: string;
  /** `--always-regenerate-chart-index`. */
  alwaysRegenerateIndex?: boolean;
  /** `--disable-statefiles` (default: index-cache.yaml is written to each tenant's storage). */
  disableStatefiles?: boolean;
  /** Keep index-cache events queued until `applyIndexEvents()` (the listener runs them at once otherwise). */
  holdIndexEvents?: boolean;
}

type Action = 'pull' | 'push' | '';

interface Route {
  method: string;
  path: string;
  action: Action;
  handler: (c: Ctx) => Promise<void> | void;
}

interface Ctx {
  req: http.IncomingMessage;
  query: URLSearchParams;
  params: Record<string, string>;
  body(): Promise<Buffer | undefined>;
  json(status: number, body: unknown): void;
  data(status: number, contentType: string, body: Buffer | string): void;
  status(status: number): void;
}

/** helm/helm pkg/chart/metadata.go: the Metadata struct's fields in declaration order (its JSON names). */
const METADATA_FIELDS = [
  'name',
  'home',
  'sources',
  'version',
  'description',
  'keywords',
  'maintainers',
  'icon',
  'apiVersion',
  'condition',
  'tags',
  'appVersion',
  'deprecated',
  'annotations',
  'kubeVersion',
  'dependencies',
  'type',
];

interface ChartVersion {
  metadata: Record<string, unknown>;
  name: string;
  version: string;
  urls: string[];
  created: string;
  digest: string;
}

/**
 * Masterminds/semver v3 NewVersion (loose: `v` prefix, missing minor/patch) as Helm validates chart
 * versions (pkg/chart/metadata.go isValidSemver). Written here, not shared with airlock.
 */
const VERSION_RE =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

interface Semver {
  parts: [number, number, number];
  given: number;
  pre: string;
}

function semverOf(v: string): Semver | undefined {
  const m = VERSION_RE.exec(v);
  if (!m) return undefined;
  return {
    parts: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)],
    given: m[3] !== undefined ? 3 : m[2] !== undefined ? 2 : 1,
    pre: m[4] ?? '',
  };
}

/** Masterminds Version.Compare: X.Y.Z, then prerelease (none ranks higher); build metadata ignored. */
function compareSemver(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) if (a.parts[i] !== b.parts[i]) return (a.parts[i] ?? 0) < (b.parts[i] ?? 0) ? -1 : 1;
  if (a.pre === b.pre) return 0;
  if (!a.pre) return 1;
  if (!b.pre) return -1;
  const x = a.pre.split('.');
  const y = b.pre.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) < Number(q) ? -1 : 1;
    if (pn) return -1;
    if (qn) return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * helm/helm pkg/repo/index.go IndexFile.Get, which ChartMuseum's GET /api/charts/<name>/<version>
 * uses (multitenant/api.go getChartVersion; "latest" means the newest): an exact version string
 * first, else the version read as a semver CONSTRAINT — so `1.0` finds `1.0.7` and `1.0.0+b.2`
 * finds `1.0.0+b.1`. Only operator-less and `=` constraints are modelled (Masterminds: a partial
 * version is a tilde range, a full one equality ignoring build metadata, prereleases only when asked).
 */
function indexGet(entries: Map<string, ChartVersion[]>, name: string, version: string): ChartVersion | string {
  const vs = entries.get(name);
  if (!vs) return 'no chart name found';
  if (vs.length === 0) return 'no chart version found';
  if (version) {
    const exact = vs.find((v) => v.version === version);
    if (exact) return exact;
  }
  const want = version ? semverOf(version.replace(/^=\s*/, '')) : undefined;
  if (version && !want) return `improper constraint: ${version}`;
  for (const v of vs) {
    const have = semverOf(v.version);
    if (!have) continue;
    if (!want) {
      if (!have.pre) return v;
      continue;
    }
    if (have.pre && !want.pre) continue;
    const ok =
      want.given === 3
        ? compareSemver(have, want) === 0
        : have.parts.slice(0, want.given).every((n, i) => n === want.parts[i]);
    if (ok) return v;
  }
  return `no chart version found for ${name}-${version}`;
}

/**
 * helm loader as ChartMuseum calls it (pkg/repo/chart.go chartFromContent → loader.LoadArchive):
 * the Chart.yaml below the archive's top directory, decoded into Helm's Metadata (unknown fields
 * dropped, apiVersion defaulting to v1), then Metadata.Validate (pkg/chart/metadata.go).
 */
function loadChart(
  tgz: Buffer,
): { metadata: Record<string, unknown>; name: string; version: string } | { error: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-double-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.tgz'), tgz);
    let list: string[];
    try {
      list = execFileSync('tar', ['-tzf', path.join(dir, 'c.tgz')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).split('\n');
    } catch {
      return { error: 'gzip: invalid header' };
    }
    const entry = list.find((l) => /^[^/]+\/Chart\.yaml$/.test(l));
    if (!entry) return { error: 'Chart.yaml file is missing' };
    let doc: Record<string, unknown>;
    try {
      doc = (parse(execFileSync('tar', ['-xzOf', path.join(dir, 'c.tgz'), entry], { encoding: 'utf8' })) ??
        {}) as Record<string, unknown>;
    } catch (e) {
      return { error: `cannot load Chart.yaml: ${(e as Error).message.split('\n')[0]}` };
    }
    const metadata: Record<string, unknown> = {};
    for (const k of METADATA_FIELDS) if (doc[k] !== undefined && doc[k] !== null && doc[k] !== '') metadata[k] = doc[k];
    for (const k of ['name', 'version', 'apiVersion', 'appVersion', 'type'])
      if (metadata[k] !== undefined) metadata[k] = String(metadata[k]);
    metadata.apiVersion ??= 'v1';
    const name = (metadata.name as string | undefined) ?? '';
    const version = (metadata.version as string | undefined) ?? '';
    if (!name) return { error: 'validation: chart.metadata.name is required' };
    if (name === '.' || name === '..') return { error: `validation: chart.metadata.name "${name}" is not allowed` };
    if (name !== path.posix.basename(name)) return { error: `validation: chart.metadata.name "${name}" is invalid` };
    if (!version) return { error: 'validation: chart.metadata.version is required' };
    if (!semverOf(version)) return { error: `validation: chart.metadata.version "${version}" is invalid` };
    if (!['', 'application', 'library'].includes(String(metadata.type ?? '')))
      return { error: 'validation: chart.metadata.type must be application or library' };
    return { metadata, name, version };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** pkg/repo/provenance.go ProvenanceFilenameFromContent. */
function provenanceFilename(content: Buffer): string | undefined {
  const text = content.toString('latin1');
  const name = /\nname:[ *](.+)/.exec(text);
  const version = /\nversion:[ *](.+)/.exec(text);
  if (!text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----') || !name || !version) return undefined;
  return `${name[1]}-${version[1]}.tgz.prov`;
}

/**
 * Go's mime/multipart as `req.FormFile(field)` reads it: the first part of that name that has a
 * `filename` parameter (a part without one is a form value, not a file).
 */
function formFiles(contentType: string, body: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) return files;
  const delimiter = Buffer.from(`--${b}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    let start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
      const param = (key: string) => new RegExp(`;\\s*${key}=(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(disposition);
      const name = param('name');
      const filename = param('filename');
      const field = name?.[1] ?? name?.[2];
      if (field && (filename?.[1] ?? filename?.[2]) && !files.has(field))
        files.set(field, part.subarray(headerEnd + 4));
    }
    at = next + 2;
  }
  return files;
}

export async function startChartMuseumDouble(options: ChartMuseumOptions = {}): Promise<ChartMuseumDouble> {
  const port = await freePort();
  // pkg/chartmuseum/server.go NewServer: one trailing slash trimmed, a leading one added.
  let ctx = (options.contextPath ?? '').replace(/\/$/, '');
  if (ctx && !ctx.startsWith('/')) ctx = `/${ctx}`;
  const depth = options.depth ?? 0;
  const maxUploadSize = options.maxUploadSize ?? 20 * 1024 * 1024;
  const chartField = options.chartPostFormFieldName ?? 'chart';
  const provField = options.provPostFormFieldName ?? 'prov';
  const allowOverwrite = options.allowOverwrite ?? false;
  // cmd/chartmuseum/main.go: AllowForceOverwrite = !disableforceoverwrite.
  const allowForceOverwrite = !(options.disableForceOverwrite ?? false);
  const storage = new Map<string, StorageObject>();
  const requests: ChartMuseumDouble['requests'] = [];
  const pending: Array<() => void> = [];

  // chartmuseum/storage local.go: objects are files under one root; a tenant is a directory.
  const objectPath = (repo: string, file: string) => (repo ? path.posix.join(repo, file) : file);
  const listObjects = (repo: string) =>
    [...storage.entries()]
      .filter(([p]) => path.posix.dirname(p) === (repo || '.'))
      .map(([p, o]) => ({ path: path.posix.basename(p), ...o }));
  const putObject = (p: string, content: Buffer) => storage.set(p, { content, lastModified: Date.now() });

  /** pkg/repo/chart.go ChartVersionFromStorageObject: urls `charts/<file>`, digest sha256 of the bytes, created = mtime. */
  function chartVersionFrom(file: string, content: Buffer, lastModified: number): ChartVersion | undefined {
    const chart = loadChart(content);
    if ('error' in chart) return undefined;
    return {
      metadata: chart.metadata,
      name: chart.name,
      version: chart.version,
      urls: [`charts/${file}`],
      created: new Date(lastModified).toISOString(),
      digest: createHash('sha256').update(content).digest('hex'),
    };
  }

  // multitenant/cache.go: one cached index per tenant, changed by events and by storage rescans.
  interface CacheEntry {
    entries: Map<string, ChartVersion[]>;
    raw: string;
  }
  const cache = new Map<string, CacheEntry>();

  function chartUrlOf(repo: string): string {
    // server.go NewMultiTenantServer (chart-url + context path), cache.go newRepositoryIndex (+ "/" + repo).
    if (!options.chartUrl) return '';
    const base = options.chartUrl + ctx;
    return repo ? `${base}/${repo}` : base;
  }

  /** pkg/repo/index.go Regenerate: versions newest first, `generated` now, raw YAML (sigs.k8s.io/yaml: keys sorted). */
  function regenerate(entry: CacheEntry): void {
    const entries: Record<string, unknown[]> = {};
    for (const name of [...entry.entries.keys()].sort()) {
      const vs = entry.entries.get(name) ?? [];
      vs.sort((a, b) => {
        const x = semverOf(a.version);
        const y = semverOf(b.version);
        if (!x) return 1;
        if (!y) return -1;
        return compareSemver(y, x);
      });
      entries[name] = vs.map((v) => ({ ...v.metadata, urls: v.urls, created: v.created, digest: v.digest }));
    }
    const serverInfo = ctx ? { contextPath: ctx } : {};
    entry.raw = stringify(
      {
        apiVersion: 'v1',
        entries,
        generated: new Date(Math.round(Date.now() / 1000) * 1000).toISOString(),
        serverInfo,
      },
      { sortMapEntries: true },
    );
  }

  /** index.go saveStatefile, after a rescan or an event changed the index: index-cache.yaml in the tenant's storage. */
  function saveStatefile(repo: string, entry: CacheEntry): void {
    if (!options.disableStatefiles) putObject(objectPath(repo, 'index-cache.yaml'), Buffer.from(entry.raw));
  }

  function cacheEntry(repo: string): CacheEntry {
    let entry = cache.get(repo);
    if (!entry) {
      entry = { entries: new Map(), raw: '' };
      cache.set(repo, entry);
      regenerate(entry);
    }
    return entry;
  }

  /** pkg/repo/index.go AddEntry (replaces the same version among the last five, else appends), UpdateEntry, RemoveEntry. */
  function addEntry(repo: string, entry: CacheEntry, cv: ChartVersion): void {
    const url = chartUrlOf(repo);
    if (url) cv.urls[0] = `${url}/${cv.urls[0]}`;
    const vs = entry.entries.get(cv.name) ?? [];
    entry.entries.set(cv.name, vs);
    for (let i = 1; i <= 5 && vs.length - i >= 0; i++) {
      if (vs[vs.length - i]?.version === cv.version) {
        vs[vs.length - i] = cv;
        return;
      }
    }
    vs.push(cv);
  }
  function updateEntry(repo: string, entry: CacheEntry, cv: ChartVersion): void {
    const vs = entry.entries.get(cv.name);
    const i = vs?.findIndex((v) => v.version === cv.version) ?? -1;
    if (!vs || i < 0) return;
    const url = chartUrlOf(repo);
    if (url) cv.urls[0] = `${url}/${cv.urls[0]}`;
    vs[i] = cv;
  }
  function removeEntry(entry: CacheEntry, name: string, version: string): void {
    const vs = entry.entries.get(name);
    const i = vs?.findIndex((v) => v.version === version) ?? -1;
    if (!vs || i < 0) return;
    vs.splice(i, 1);
    if (vs.length === 0) entry.entries.delete(name);
  }

  /**
   * cache.go refreshCacheEntry / index.go getIndexFile: the .tgz objects in storage compared with
   * the cached index by file name and mtime (storage.go GetObjectSliceDiff, tolerance 0); only a
   * change regenerates. An object that is not a valid chart is skipped (checkInvalidChartPackageError).
   */
  function rescan(repo: string, entry: CacheEntry): void {
    const prev = new Map<string, ChartVersion>();
    for (const vs of entry.entries.values()) for (const v of vs) prev.set(path.posix.basename(v.urls[0] ?? ''), v);
    const curr = listObjects(repo).filter((o) => path.posix.extname(o.path) === '.tgz');
    const currByPath = new Map(curr.map((o) => [o.path, o]));
    let change = false;
    for (const [file, v] of prev) {
      const now = currByPath.get(file);
      if (!now) {
        removeEntry(entry, v.name, v.version);
        change = true;
      } else if (now.lastModified > Date.parse(v.created)) {
        const cv = chartVersionFrom(file, now.content, now.lastModified);
        if (cv) updateEntry(repo, entry, cv);
        change = true;
      }
    }
    for (const o of curr) {
      if (prev.has(o.path)) continue;
      change = true;
      const cv = chartVersionFrom(o.path, o.content, o.lastModified);
      if (cv) addEntry(repo, entry, cv);
    }
    if (!change) return;
    regenerate(entry);
    saveStatefile(repo, entry);
  }

  /**
   * index.go getIndexFile: what index.yaml and the chart API read. The storage is rescanned only
   * with --always-regenerate-chart-index or while the tenant's cached index is empty; otherwise the
   * cache answers, as the upload/delete events and the --cache-interval timer left it.
   */
  function getIndexFile(repo: string): CacheEntry {
    const entry = cacheEntry(repo);
    if (options.alwaysRegenerateIndex || entry.entries.size === 0) rescan(repo, entry);
    return entry;
  }

  /**
   * cache.go emitEvent / startEventListener: uploads and deletes reach the index through a channel
   * drained by another goroutine, after the handler stored the object; the 201 does not wait for it.
   */
  function emitEvent(repo: string, op: 'add' | 'update' | 'delete', cv: ChartVersion | undefined): void {
    const apply = () => {
      // startEventListener: an event without a chart version is logged and dropped.
      if (!cv) return;
      const entry = cacheEntry(repo);
      if (op === 'add') addEntry(repo, entry, cv);
      else if (op === 'update') updateEntry(repo, entry, cv);
      else removeEntry(entry, cv.name, cv.version);
      regenerate(entry);
      saveStatefile(repo, entry);
    };
    if (options.holdIndexEvents) pending.push(apply);
    else setImmediate(apply);
  }

  /** api.go checkStorageLimit (--max-storage-objects counts every object of the tenant, .prov and index-cache.yaml too). */
  function storageLimitReached(repo: string, file: string, force: boolean): boolean {
    const max = options.maxStorageObjects ?? 0;
    if (max <= 0) return false;
    const all = listObjects(repo);
    if (all.length < max) return false;
    if (allowOverwrite || (allowForceOverwrite && force)) return !all.some((o) => o.path === file);
    return true;
  }

  const contentTypes = { chart: 'application/x-tar', prov: 'application/pgp-signature', index: 'application/x-yaml' };

  // ---- handlers (multitenant/handlers.go) ----

  const getIndex = (c: Ctx) => {
    const entry = getIndexFile(c.params.repo ?? '');
    c.data(200, contentTypes.index, entry.raw);
  };

  /** storage.go getStorageObject: read from storage, not from the index cache. */
  const getStorageObject = (c: Ctx) => {
    const file = c.params.filename ?? '';
    const isChart = file.endsWith('tgz');
    const isProv = file.endsWith('tgz.prov');
    if (!isChart && !isProv) return c.json(500, { error: 'unsupported file extension' });
    const o = storage.get(objectPath(c.params.repo ?? '', file));
    if (!o) return c.json(404, { error: 'object not found' });
    c.data(200, isProv ? contentTypes.prov : contentTypes.chart, o.content);
  };

  /** api.go getAllCharts (offset/limit over sorted names). */
  const getAllCharts = (c: Ctx) => {
    let offset = 0;
    let limit = -1;
    if (c.query.has('offset')) {
      offset = Number.parseInt(c.query.get('offset') ?? '', 10);
      if (!Number.isFinite(offset) || offset < 0)
        return c.json(400, { error: 'offset is not a valid non-negative integer' });
    }
    if (c.query.has('limit')) {
      limit = Number.parseInt(c.query.get('limit') ?? '', 10);
      if (!Number.isFinite(limit) || limit <= 0) return c.json(400, { error: 'limit is not a valid positive integer' });
    }
    const entry = getIndexFile(c.params.repo ?? '');
    const names = [...entry.entries.keys()].sort();
    const picked = offset === 0 && limit === -1 ? names : names.slice(offset, offset + limit);
    c.json(200, Object.fromEntries(picked.map((n) => [n, (entry.entries.get(n) ?? []).map(versionJson)])));
  };

  /** pkg/repo/index.go ChartVersion JSON: Metadata's fields inlined, then urls, created, digest. */
  const versionJson = (v: ChartVersion) => ({ ...v.metadata, urls: v.urls, created: v.created, digest: v.digest });

  const getChart = (c: Ctx, head: boolean) => {
    const vs = getIndexFile(c.params.repo ?? '').entries.get(c.params.name ?? '');
    if (!vs) return head ? c.status(404) : c.json(404, { error: 'chart not found' });
    return head ? c.status(200) : c.json(200, vs.map(versionJson));
  };

  /** api.go getChartVersion: from the index cache; "latest" is the newest. */
  const getChartVersion = (c: Ctx, head: boolean) => {
    const version = c.params.version === 'latest' ? '' : (c.params.version ?? '');
    const found = indexGet(getIndexFile(c.params.repo ?? '').entries, c.params.name ?? '', version);
    if (typeof found === 'string') return head ? c.status(404) : c.json(404, { error: found });
    return head ? c.status(200) : c.json(200, versionJson(found));
  };

  /**
   * handlers.go postRequestHandler: multipart/form-data goes to postPackageAndProvenanceRequestHandler,
   * any other body is a bare chart package (postPackageRequestHandler).
   */
  const postCharts = async (c: Ctx) => {
    const body = await c.body();
    if (!body) return;
    const mediaType = (c.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const repo = c.params.repo ?? '';
    // GetQuery("force"): the key's presence, whatever its value.
    const force = c.query.has('force');
    if (mediaType === 'multipart/form-data') return postPackageAndProvenance(c, repo, body, force);

    // api.go uploadChartPackage.
    const chart = loadChart(body);
    if ('error' in chart) return c.json(400, { error: chart.error });
    const file = `${chart.name}-${chart.version}.tgz`;
    if (path.posix.basename(file) !== file) return c.json(400, { error: `${file} is improperly formatted` });
    const found = storage.has(objectPath(repo, file));
    if (found && !allowOverwrite && (!allowForceOverwrite || !force))
      return c.json(409, { error: 'file already exists' });
    if (storageLimitReached(repo, file, force)) return c.json(507, { error: 'repo has reached storage limit' });
    putObject(objectPath(repo, file), body);
    emitEvent(repo, found ? 'update' : 'add', chartVersionFrom(file, body, Date.now()));
    c.json(201, { saved: true });
  };

  /**
   * handlers.go postPackageAndProvenanceRequestHandler + getChartAndProvFiles: form files `chart`,
   * the configured chart field, `prov`, the configured prov field; the file name comes from the
   * content (Chart.yaml name-version, or the provenance's name/version lines). One that exists makes
   * it a conflict, refused unless --allow-overwrite or (?force and force overwrite allowed), with
   * `chart already exists` (not api.go's `file already exists`). No --max-storage-objects check here.
   */
  const postPackageAndProvenance = (c: Ctx, repo: string, body: Buffer, force: boolean) => {
    const form = formFiles(c.req.headers['content-type'] ?? '', body);
    const fields: Array<{ field: string; kind: 'chart' | 'prov' }> = [
      { field: 'chart', kind: 'chart' },
      { field: chartField, kind: 'chart' },
      { field: 'prov', kind: 'prov' },
      { field: provField, kind: 'prov' },
    ];
    const files = new Map<string, { content: Buffer; field: string }>();
    let conflict = false;
    for (const { field, kind } of fields) {
      const content = form.get(field);
      if (!content) continue;
      let file: string;
      if (kind === 'chart') {
        const chart = loadChart(content);
        if ('error' in chart) return c.json(400, { error: chart.error });
        file = `${chart.name}-${chart.version}.tgz`;
      } else {
        const name = provenanceFilename(content);
        if (!name) return c.json(400, { error: 'invalid provenance file' });
        file = name;
      }
      if (files.has(file)) continue;
      if (!conflict) {
        if (path.posix.basename(file) !== file) return c.json(400, { error: `${file} is improperly formatted` });
        if (storage.has(objectPath(repo, file))) conflict = true;
      }
      files.set(file, { content, field });
    }
    if (conflict && !allowOverwrite && (!allowForceOverwrite || !force))
      return c.json(409, { error: 'chart already exists' });
    if (files.size === 0)
      return c.json(400, {
        error: `no package or provenance file found in form fields ${chartField} and ${provField}`,
      });
    let chartVersion: ChartVersion | undefined;
    for (const [file, { content, field }] of files) {
      putObject(objectPath(repo, file), content);
      // Only the default field name is taken as "the chart" for the index event.
      if (field === 'chart') chartVersion = chartVersionFrom(file, content, Date.now());
    }
    emitEvent(repo, conflict ? 'update' : 'add', chartVersion);
    c.json(201, { saved: true });
  };

  /** handlers.go postProvenanceFileRequestHandler / api.go uploadProvenanceFile: the raw body is the .prov. */
  const postProv = async (c: Ctx) => {
    const body = await c.body();
    if (!body) return;
    const repo = c.params.repo ?? '';
    const force = c.query.has('force');
    const file = provenanceFilename(body);
    if (!file) return c.json(500, { error: 'invalid provenance file' });
    if (path.posix.basename(file) !== file) return c.json(400, { error: `${file} is improperly formatted` });
    if (!allowOverwrite && (!allowForceOverwrite || !force) && storage.has(objectPath(repo, file)))
      return c.json(409, { error: 'file already exists' });
    if (storageLimitReached(repo, file, force)) return c.json(507, { error: 'repo has reached storage limit' });
    putObject(objectPath(repo, file), body);
    c.json(201, { saved: true });
  };

  /** api.go deleteChartVersion: the package (404 with the storage error when absent), then its .prov if any. */
  const deleteChartVersion = (c: Ctx) => {
    const repo = c.params.repo ?? '';
    const name = c.params.name ?? '';
    const version = c.params.version ?? '';
    const p = objectPath(repo, `${name}-${version}.tgz`);
    if (!storage.delete(p)) return c.json(404, { error: `remove /charts/${p}: no such file or directory` });
    storage.delete(objectPath(repo, `${name}-${version}.tgz.prov`));
    emitEvent(repo, 'delete', { metadata: { name, version }, name, version, urls: [], created: '', digest: '' });
    c.json(200, { deleted: true });
  };

  // ---- routes (multitenant/routes.go) ----
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/',
      action: 'pull',
      handler: (c) =>
        c.data(200, 'text/html', '<!DOCTYPE html><html><body><h1>Welcome to ChartMuseum!</h1></body></html>\n'),
    },
    { method: 'GET', path: '/info', action: '', handler: (c) => c.json(200, { version: 'double' }) },
    { method: 'GET', path: '/health', action: '', handler: (c) => c.json(200, { healthy: true }) },
    { method: 'GET', path: '/:repo/index.yaml', action: 'pull', handler: getIndex },
    // headIndexFileRequestHandler answers 200 without looking.
    { method: 'HEAD', path: '/:repo/index.yaml', action: 'pull', handler: (c) => c.status(200) },
    { method: 'GET', path: '/:repo/charts/:filename', action: 'pull', handler: getStorageObject },
  ];
  if (!options.disableApi) {
    routes.push(
      { method: 'GET', path: '/api/:repo/charts', action: 'pull', handler: getAllCharts },
      { method: 'HEAD', path: '/api/:repo/charts/:name', action: 'pull', handler: (c) => getChart(c, true) },
      { method: 'GET', path: '/api/:repo/charts/:name', action: 'pull', handler: (c) => getChart(c, false) },
      {
        method: 'HEAD',
        path: '/api/:repo/charts/:name/:version',
        action: 'pull',
        handler: (c) => getChartVersion(c, true),
      },
      {
        method: 'GET',
        path: '/api/:repo/charts/:name/:version',
        action: 'pull',
        handler: (c) => getChartVersion(c, false),
      },
      { method: 'POST', path: '/api/:repo/charts', action: 'push', handler: postCharts },
      { method: 'POST', path: '/api/:repo/prov', action: 'push', handler: postProv },
    );
    if (!options.disableDelete)
      routes.push({
        method: 'DELETE',
        path: '/api/:repo/charts/:name/:version',
        action: 'push',
        handler: deleteChartVersion,
      });
  }

  /**
   * router/match.go: the context path is cut off (anything outside it matches nothing); /health
   * matches at any depth; an /api/ path not ending in .yaml/.tgz/.prov is an API route, whose
   * tenant starts after /api; exactly `depth` segments form the tenant (`:repo`).
   */
  function match(method: string, original: string): { route: Route; params: Record<string, string> } | undefined {
    let url = original;
    if (ctx) {
      if (url === ctx) url = '/';
      else if (url.startsWith(ctx)) url = url.replace(ctx, '');
      else return undefined;
    }
    if (url === '/health' && method === 'GET')
      return { route: routes.find((r) => r.path === '/health') as Route, params: {} };
    const isApi = url.startsWith('/api/') && !/\.(yaml|tgz|prov)$/.test(url);
    const start = isApi ? 2 : 1;
    const parts = url.split('/');
    let repo: string | undefined;
    let noRepo: string[] = [];
    if (parts.length >= depth + start) {
      repo = parts.slice(start, start + depth).join('/');
      noRepo = ['', ...(isApi ? ['api'] : []), ...parts.slice(start + depth)];
    }
    for (const route of routes) {
      if (route.method !== method) continue;
      if (route.path === url) return { route, params: {} };
      if (repo === undefined) continue;
      const tmpl = route.path.replace('/:repo', '').split('/');
      if (tmpl.length !== noRepo.length) continue;
      const params: Record<string, string> = {};
      if (
        tmpl.every((seg, i) =>
          seg.startsWith(':') ? ((params[seg.slice(1)] = noRepo[i] ?? ''), true) : seg === noRepo[i],
        )
      )
        return { route, params: { ...params, repo } };
    }
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec = { method: req.method ?? 'GET', path: `${u.pathname}${u.search}`, status: 0 };
    requests.push(rec);
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      rec.status = status;
      res.writeHead(status, headers).end(body);
    };
    const c: Ctx = {
      req,
      query: u.searchParams,
      params: {},
      // gin-contrib/size: a body past --max-upload-size is answered 413 "request too large" (text), connection closed.
      body: async () => {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of req) {
          size += (chunk as Buffer).length;
          if (size <= maxUploadSize) chunks.push(chunk as Buffer);
        }
        if (size > maxUploadSize) {
          send(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }, 'request too large');
          return undefined;
        }
        return Buffer.concat(chunks);
      },
      json: (status, body) => send(status, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(body)),
      data: (status, contentType, body) => send(status, { 'content-type': contentType }, body),
      status: (status) => send(status, {}),
    };
    // Go's URL.Path is the decoded path.
    let decoded: string;
    try {
      decoded = decodeURIComponent(u.pathname);
    } catch {
      decoded = u.pathname;
    }
    const found = match(req.method ?? 'GET', decoded);
    // router.go rootHandler: no route → 404 {"error":"not found"}, before any auth check.
    if (!found) {
      req.resume();
      return c.json(404, { error: 'not found' });
    }
    c.params = found.params;
    // router.go + chartmuseum/auth: routes with an action need the exact basic header, unless anonymous pulls are allowed.
    if (
      found.route.action &&
      options.basicAuth?.username &&
      options.basicAuth.password &&
      !(options.anonymousGet && found.route.action === 'pull')
    ) {
      const expected = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        req.resume();
        return send(
          401,
          { 'www-authenticate': 'Basic realm="ChartMuseum"', 'content-type': 'application/json; charset=utf-8' },
          JSON.stringify({ error: 'unauthorized' }),
        );
      }
    }
    Promise.resolve(found.route.handler(c)).catch((e: unknown) => {
      if (!res.headersSent) c.json(500, { error: String(e) });
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}${ctx}`,
    requests,
    storage,
    putObject,
    pendingEvents: () => pending.length,
    applyIndexEvents() {
      for (const apply of pending.splice(0)) apply();
    },
    refreshIndex() {
      for (const [repo, entry] of cache) rescan(repo, entry);
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
