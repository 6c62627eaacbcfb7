import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { jsonFileCache, memoryCache, writeFileAtomic, type JsonCache } from '../core/fs-atomic.js';
import type { HostAccess } from '../oci/auth.js';
import { basicAuthorization } from '../oci/auth.js';
import { AirlockError } from '../core/errors.js';
import {
  errorFromResponse,
  getFollowingRedirects,
  header,
  readBuffer,
  type HttpResponse,
  type RequestKind,
} from '../http/client.js';
import { registerSecret } from '../core/secrets.js';
import { MAX_CHART_ARCHIVE_BYTES } from '../charts/chart-archive.js';
import {
  findVersion,
  parseIndex,
  resolveChartUrl,
  type ChartVersionEntry,
  type IndexFile,
  type ParsedChart,
  type ParseIndexOptions,
} from '../charts/index-file.js';

export interface HelmRepoAuth {
  username?: string;
  password?: string;
  token?: string;
}

export interface FetchedChart {
  name: string;
  version: string;
  tgz: Buffer;
  prov?: Buffer;
  /** The upstream index entry (all Chart.yaml fields, created, digest). */
  entry: ChartVersionEntry;
  url: string;
}

/**
 * Remembered validators and the index as it was sent, for conditional GETs on re-sync. The text,
 * not the parsed index: parsing only cuts it at its chart boundaries, and a chart's versions are
 * parsed when that chart is asked for, so a large index never becomes a large object graph. The
 * charts parsed from that text are kept apart (key `<index URL>#charts`, same validators), so a
 * re-sync reads them back as JSON instead of parsing their YAML again.
 */
export interface CachedIndex {
  etag?: string;
  lastModified?: string;
  text?: string;
  charts?: Record<string, ParsedChart>;
}

export type IndexCache = JsonCache<CachedIndex>;

export function memoryIndexCache(): IndexCache {
  return memoryCache<CachedIndex>();
}

const MiB = 1024 * 1024;
/** Default of `limits.chartIndexBytes`: Bitnami's index, the largest well known, was past 20 MB. */
export const DEFAULT_MAX_INDEX_BYTES = 256 * MiB;

const sizeText = (bytes: number) => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`);

/** A body's chunks, failing with `tooLarge` once it passes `limit` (or announces more). */
async function* cappedBody(res: HttpResponse, limit: number, tooLarge: () => AirlockError): AsyncGenerator<Buffer> {
  const declared = Number(header(res, 'content-length') ?? NaN);
  if (declared > limit) {
    res.body.destroy();
    throw tooLarge();
  }
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw tooLarge();
    }
    yield chunk as Buffer;
  }
}

/** index.yaml as text, read up to the limit. */
async function readIndexText(res: HttpResponse, limit: number, artifact: string): Promise<string> {
  const chunks: Buffer[] = [];
  const tooLarge = () =>
    new AirlockError('E_TOO_LARGE', `index.yaml is larger than ${sizeText(limit)} (limits.chartIndexBytes)`, {
      artifact,
    });
  for await (const chunk of cappedBody(res, limit, tooLarge)) chunks.push(chunk);
  // One decode of the whole: decoding chunk by chunk and joining took half again as long.
  return Buffer.concat(chunks).toString('utf8');
}

async function readChartArchive(res: HttpResponse, artifact: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const tooLarge = () =>
    new AirlockError('E_TOO_LARGE', `chart archive is larger than ${sizeText(MAX_CHART_ARCHIVE_BYTES)}`, { artifact });
  for await (const chunk of cappedBody(res, MAX_CHART_ARCHIVE_BYTES, tooLarge)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface HelmRepoReaderOptions {
  cache?: IndexCache;
  auth?: (repoUrl: string) => HelmRepoAuth | undefined;
  /** Largest index.yaml read (`limits.chartIndexBytes`); a larger one fails with E_TOO_LARGE. */
  maxIndexBytes?: number;
}

/**
 * Reads a classic HTTP chart repository: index.yaml (conditional GET, parsed once per run),
 * chart archives verified against the index digest, and `.prov` files when the repository has them.
 */
export function createHelmRepoReader(engine: HostAccess, options: HelmRepoReaderOptions = {}) {
  const cache = options.cache ?? memoryIndexCache();
  const maxIndexBytes = options.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES;
  const parsed = new Map<string, Promise<IndexFile>>();
  const savers = new Map<string, { flush(): Promise<void> }>();

  /** Parse options that read charts back from the cache and write newly parsed ones to it (on flush). */
  function cachedCharts(
    repoUrl: string,
    key: string,
    validators: Pick<CachedIndex, 'etag' | 'lastModified'>,
    charts: Record<string, ParsedChart>,
  ): ParseIndexOptions {
    let dirty = false;
    let writing: Promise<void> = Promise.resolve();
    savers.set(repoUrl, {
      flush() {
        if (dirty) {
          dirty = false;
          const value: CachedIndex = { ...validators, charts: { ...charts } };
          writing = writing.then(() => cache.set(key, value)).catch(() => undefined);
        }
        return writing;
      },
    });
    return {
      parsed: charts,
      onParsed(chart, p) {
        charts[chart] = p;
        dirty = true;
      },
    };
  }

  function authHeaders(repoUrl: string, url: string): Record<string, string> {
    // Credentials go to the repository's host only, as Helm does without --pass-credentials.
    if (new URL(url).host !== new URL(repoUrl).host) return {};
    const host = new URL(repoUrl).host;
    const token = engine.token(host);
    const auth = options.auth?.(repoUrl) ?? (token ? { token } : engine.credentials(host));
    if (!auth) return {};
    if ('token' in auth && auth.token) {
      registerSecret(auth.token);
      return { authorization: `Bearer ${auth.token}` };
    }
    if (auth.username && auth.password)
      return { authorization: basicAuthorization({ username: auth.username, password: auth.password }) };
    return {};
  }

  // Chart URLs often redirect (GitHub release assets); credentials stay with the repository's host.
  async function get(
    repoUrl: string,
    url: string,
    extra: Record<string, string>,
    artifact: string,
    kind: RequestKind = 'blob',
  ) {
    return getFollowingRedirects(engine.http, url, { ...authHeaders(repoUrl, url), ...extra }, artifact, { kind });
  }

  async function loadIndex(repoUrl: string): Promise<IndexFile> {
    const url = resolveChartUrl(repoUrl, 'index.yaml');
    const artifact = repoUrl;
    const chartsKey = `${url}#charts`;
    const stored = await cache.get(url);
    // An entry of an older airlock (a parsed index, no text) is as good as none.
    const cached = typeof stored?.text === 'string' && stored.text.length <= maxIndexBytes ? stored : undefined;
    const conditional: Record<string, string> = {};
    if (cached?.etag) conditional['if-none-match'] = cached.etag;
    if (cached?.lastModified) conditional['if-modified-since'] = cached.lastModified;
    const res = await get(repoUrl, url, conditional, artifact, 'index');
    if (res.statusCode === 304 && cached?.text !== undefined) {
      await res.body.dump();
      const before = await cache.get(chartsKey);
      // Charts parsed from the same text: the same validators as the text's.
      const same = before?.charts && before.etag === cached.etag && before.lastModified === cached.lastModified;
      return parseIndex(
        cached.text,
        artifact,
        cachedCharts(
          repoUrl,
          chartsKey,
          { etag: cached.etag, lastModified: cached.lastModified },
          same ? { ...before.charts } : {},
        ),
      );
    }
    if (res.statusCode !== 200) throw await errorFromResponse(res, `fetching ${url} failed`, artifact);
    const text = await readIndexText(res, maxIndexBytes, artifact);
    const etag = header(res, 'etag');
    const lastModified = header(res, 'last-modified');
    const validators = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
    // Without validators nothing is cached: the next run downloads the index again anyway.
    const index = parseIndex(
      text,
      artifact,
      etag || lastModified ? cachedCharts(repoUrl, chartsKey, validators, {}) : {},
    );
    if (etag || lastModified) await cache.set(url, { text, ...validators });
    return index;
  }

  return {
    /** The parsed index, fetched at most once per reader (one run). */
    index(repoUrl: string): Promise<IndexFile> {
      let p = parsed.get(repoUrl);
      if (!p) {
        p = loadIndex(repoUrl);
        parsed.set(repoUrl, p);
        p.catch(() => parsed.delete(repoUrl));
      }
      return p;
    },

    /** The index entry of a version, without downloading the chart. */
    async entry(repoUrl: string, chart: string, version: string): Promise<ChartVersionEntry> {
      const index = await this.index(repoUrl);
      try {
        return findVersion(index, chart, version, `${repoUrl} ${chart}@${version}`);
      } finally {
        // What was parsed for this (and what the plan read before) goes to the cache now.
        await savers.get(repoUrl)?.flush();
      }
    },

    async fetchChart(repoUrl: string, chart: string, version: string): Promise<FetchedChart> {
      const artifact = `${repoUrl} ${chart}@${version}`;
      const entry = await this.entry(repoUrl, chart, version);
      const url = resolveChartUrl(repoUrl, entry.urls[0] ?? '');
      const res = await get(repoUrl, url, {}, artifact);
      if (res.statusCode !== 200) throw await errorFromResponse(res, `downloading ${url} failed`, artifact);
      const tgz = await readChartArchive(res, artifact);
      // The index parser checked the digest's form and left it as lowercase hex.
      if (entry.digest) {
        const actual = createHash('sha256').update(tgz).digest('hex');
        if (actual !== entry.digest) {
          throw new AirlockError(
            'E_DIGEST_MISMATCH',
            `chart digest mismatch: index says ${entry.digest}, downloaded bytes hash to ${actual}`,
            { artifact },
          );
        }
      }
      let prov: Buffer | undefined;
      const provUrl = new URL(url);
      provUrl.pathname = `${provUrl.pathname}.prov`;
      const pres = await get(repoUrl, provUrl.toString(), {}, artifact);
      if (pres.statusCode === 200) prov = await readBuffer(pres, 4 * 1024 * 1024, artifact);
      else await pres.body.dump();
      // Named by the chart asked for: the entry sits under that key, and its own `name:` is only its word.
      return { name: chart, version: entry.version, tgz, ...(prov ? { prov } : {}), entry, url };
    },
  };
}

export type HelmRepoReader = ReturnType<typeof createHelmRepoReader>;

const hashed = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

/**
 * Index validators and bodies on disk, so the next run can ask with If-None-Match. The index text
 * lies in a file of its own beside the JSON that names it (a 50 MB string inside JSON took a
 * second to parse back); the file's name carries the validators, so the JSON never names a text
 * of other validators, and the one it replaced is removed after it.
 */
export function fileIndexCache(dir: string): IndexCache {
  const meta = jsonFileCache<CachedIndex & { textFile?: string }>(dir);
  return {
    async get(key) {
      const m = await meta.get(key);
      if (!m || typeof m.textFile !== 'string') return m;
      const { textFile, ...rest } = m;
      try {
        return { ...rest, text: (await fsp.readFile(path.join(dir, path.basename(textFile)))).toString('utf8') };
      } catch {
        return undefined;
      }
    },
    async set(key, value) {
      const { text, ...rest } = value;
      if (text === undefined) return meta.set(key, rest);
      const before = await meta.get(key);
      const textFile = `${hashed(key)}-${hashed(`${rest.etag ?? ''}\n${rest.lastModified ?? ''}`).slice(0, 16)}.yaml`;
      await fsp.mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, textFile), text);
      await meta.set(key, { ...rest, textFile });
      if (before?.textFile && before.textFile !== textFile)
        await fsp.rm(path.join(dir, path.basename(before.textFile)), { force: true });
    },
  };
}
