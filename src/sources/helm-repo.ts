import { createHash } from 'node:crypto';
import { jsonFileCache, memoryCache, type JsonCache } from '../util/fs-atomic.js';
import type { Engine } from '../engine.js';
import { basicAuthorization } from '../oci/auth.js';
import { AirlockError } from '../errors.js';
import { errorFromResponse, getFollowingRedirects, header, readBuffer, type RequestKind } from '../oci/http.js';
import { registerSecret } from '../secrets.js';
import { findVersion, parseIndex, resolveChartUrl, type ChartVersionEntry, type IndexFile } from '../charts/index-file.js';

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

/** Remembered validators and the parsed index, for conditional GETs on re-sync (JSON reads far faster than YAML). */
export interface CachedIndex {
  etag?: string;
  lastModified?: string;
  index: IndexFile;
}

export type IndexCache = JsonCache<CachedIndex>;

export function memoryIndexCache(): IndexCache {
  return memoryCache<CachedIndex>();
}

const MAX_INDEX = 256 * 1024 * 1024;
const MAX_CHART = 512 * 1024 * 1024;

/**
 * Reads a classic HTTP chart repository: index.yaml (conditional GET, parsed once per run),
 * chart archives verified against the index digest, and `.prov` files when the repository has them.
 */
export function createHelmRepoReader(engine: Engine, options: { cache?: IndexCache; auth?: (repoUrl: string) => HelmRepoAuth | undefined } = {}) {
  const cache = options.cache ?? memoryIndexCache();
  const parsed = new Map<string, Promise<IndexFile>>();

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
    if (auth.username && auth.password) return { authorization: basicAuthorization({ username: auth.username, password: auth.password }) };
    return {};
  }

  // Chart URLs often redirect (GitHub release assets); credentials stay with the repository's host.
  async function get(repoUrl: string, url: string, extra: Record<string, string>, artifact: string, kind: RequestKind = 'blob') {
    return getFollowingRedirects(engine.http.send, engine.http.transport, url, { ...authHeaders(repoUrl, url), ...extra }, artifact, { kind });
  }

  async function loadIndex(repoUrl: string): Promise<IndexFile> {
    const url = resolveChartUrl(repoUrl, 'index.yaml');
    const artifact = repoUrl;
    const cached = await cache.get(url);
    const conditional: Record<string, string> = {};
    if (cached?.etag) conditional['if-none-match'] = cached.etag;
    if (cached?.lastModified) conditional['if-modified-since'] = cached.lastModified;
    const res = await get(repoUrl, url, conditional, artifact, 'index');
    if (res.statusCode === 304 && cached?.index) {
      await res.body.dump();
      return cached.index;
    }
    if (res.statusCode !== 200) throw await errorFromResponse(res, `fetching ${url} failed`, artifact);
    const index = parseIndex((await readBuffer(res, MAX_INDEX, artifact)).toString('utf8'), artifact);
    const etag = header(res, 'etag');
    const lastModified = header(res, 'last-modified');
    if (etag || lastModified) await cache.set(url, { index, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) });
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
      return findVersion(await this.index(repoUrl), chart, version, `${repoUrl} ${chart}@${version}`);
    },

    async fetchChart(repoUrl: string, chart: string, version: string): Promise<FetchedChart> {
      const artifact = `${repoUrl} ${chart}@${version}`;
      const entry = await this.entry(repoUrl, chart, version);
      const url = resolveChartUrl(repoUrl, entry.urls[0] ?? '');
      const res = await get(repoUrl, url, {}, artifact);
      if (res.statusCode !== 200) throw await errorFromResponse(res, `downloading ${url} failed`, artifact);
      const tgz = await readBuffer(res, MAX_CHART, artifact);
      if (entry.digest) {
        const actual = createHash('sha256').update(tgz).digest('hex');
        if (actual !== entry.digest.replace(/^sha256:/, '')) {
          throw new AirlockError('E_DIGEST_MISMATCH', `chart digest mismatch: index says ${entry.digest}, downloaded bytes hash to ${actual}`, { artifact });
        }
      }
      let prov: Buffer | undefined;
      const provUrl = new URL(url);
      provUrl.pathname = `${provUrl.pathname}.prov`;
      const pres = await get(repoUrl, provUrl.toString(), {}, artifact);
      if (pres.statusCode === 200) prov = await readBuffer(pres, 4 * 1024 * 1024, artifact);
      else await pres.body.dump();
      return { name: entry.name, version: entry.version, tgz, ...(prov ? { prov } : {}), entry, url };
    },
  };
}

export type HelmRepoReader = ReturnType<typeof createHelmRepoReader>;

/** Index validators and bodies on disk, so the next run can ask with If-None-Match. */
export function fileIndexCache(dir: string): IndexCache {
  return jsonFileCache<CachedIndex>(dir);
}
