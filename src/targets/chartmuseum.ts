import { createHash } from 'node:crypto';
import type { HostAccess } from '../oci/auth.js';
import { basicAuthorization } from '../oci/auth.js';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { readBuffer, readText } from '../http/client.js';
import type { HttpResponse } from '../http/transport.js';
import { redact } from '../core/secrets.js';
import { checkChartNames, type ChartPackage, type ChartTarget } from './chart-target.js';

export interface ChartMuseumOptions {
  /** `--context-path` of the server, e.g. `/museum`. */
  contextPath?: string;
  /** Overwrite a different chart of the same version (`?force`); off by default. */
  force?: boolean;
}

const MAX_JSON = 4 * 1024 * 1024;
const MAX_CHART = 512 * 1024 * 1024;

/**
 * ChartMuseum (helm/chartmuseum, pkg/chartmuseum/server/multitenant). `url` is
 * `cm+http(s)://HOST[:PORT][/TENANT/PATH]`; the tenant path must have as many segments as the
 * server's `--depth`, or no route matches.
 */
function chartMuseumParts(
  url: string,
  contextPath: string | undefined,
): { origin: string; host: string; ctx: string; tenant: string } {
  const u = new URL(url.replace(/^cm\+/, ''));
  return {
    origin: u.origin,
    host: u.host,
    tenant: u.pathname.replace(/^\/+|\/+$/g, ''),
    ctx: (contextPath ?? '').replace(/\/+$/, '').replace(/^(?!\/)(.)/, '/$1'),
  };
}

/** The Helm repository URL a ChartMuseum target serves (what `helm repo add` and Flux point at). */
export function chartMuseumRepoUrl(url: string, contextPath?: string): string {
  const { origin, ctx, tenant } = chartMuseumParts(url, contextPath);
  return `${origin}${ctx}${tenant ? `/${tenant}` : ''}`;
}

/** ChartMuseum answers errors as `{"error": "..."}` (gin.H in handlers.go); its upload size limit answers plain text. */
async function museumMessage(res: HttpResponse): Promise<string> {
  const text = await readText(res, 16 * 1024).catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (body && typeof body.error === 'string') return redact(body.error);
  } catch {
    // not JSON: the text itself
  }
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return redact(plain ? plain.slice(0, 160) : '(empty body)');
}

function codeFor(status: number): ErrorCode {
  if (status === 401) return 'E_UNAUTHORIZED';
  if (status === 403) return 'E_DENIED';
  if (status === 404) return 'E_NOT_FOUND';
  if (status === 409) return 'E_CONFLICT';
  if (status === 429) return 'E_RATE_LIMITED';
  return 'E_REGISTRY';
}

export function chartMuseumTarget(engine: HostAccess, url: string, options: ChartMuseumOptions = {}): ChartTarget {
  const { origin, host, ctx, tenant } = chartMuseumParts(url, options.contextPath);
  const tenantPath = tenant ? `/${tenant}` : '';
  const api = `${origin}${ctx}/api${tenantPath}/charts`;
  const repoUrl = chartMuseumRepoUrl(url, options.contextPath);
  const label = url;

  function headers(): Record<string, string> {
    // Bearer (`--bearer-auth`) from AIRLOCK_TOKEN_<HOST>, else basic credentials like any registry's.
    const token = engine.token(host);
    if (token) return { authorization: `Bearer ${token}` };
    const creds = engine.credentials(host);
    return creds ? { authorization: basicAuthorization(creds) } : {};
  }

  const get = (target: string, artifact: string) =>
    engine.http.request({ method: 'GET', url: target, headers: headers(), artifact });

  /**
   * A 404 is "absent" only when a handler said so. router.go answers `{"error":"not found"}` when no
   * route matches: a tenant path of the wrong depth, a context path the server does not have, or
   * --disable-api; taking that for "absent" would upload into a 404 and hide the cause.
   */
  async function absentOr404(res: HttpResponse, what: string, artifact: string): Promise<undefined> {
    const message = await museumMessage(res);
    if (message !== 'not found') return undefined;
    throw new AirlockError(
      'E_CONFIG',
      `ChartMuseum has no route for ${what} (HTTP 404 "not found"): the tenant path ${JSON.stringify(tenant || '/')} must have as many segments as the server's --depth, contextPath must match its --context-path${what.includes('/api/') ? ', and its API must be enabled' : ''}`,
      { artifact, status: 404 },
    );
  }

  /**
   * What the server's index lists for this exact version (`GET <ctx>/api/<tenant>/charts/<name>/<version>`).
   * The index is a cache: an upload reaches it through an event after the 201, and an object written
   * by another replica only at that replica's next --cache-interval rescan (multitenant/cache.go).
   * The version is read as a semver constraint when no entry has it exactly (helm's IndexFile.Get),
   * so an answer for another version (`1.0.0+b.1` for `1.0.0+b.2`) is no answer.
   */
  async function listedDigest(name: string, version: string, artifact: string): Promise<string | undefined> {
    const target = `${api}/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
    const res = await get(target, artifact);
    if (res.statusCode === 404) return absentOr404(res, target, artifact);
    if (res.statusCode !== 200) throw await museumError(res, 'ChartMuseum lookup failed', artifact);
    let body: { name?: unknown; version?: unknown; digest?: unknown };
    try {
      body = JSON.parse((await readBuffer(res, MAX_JSON, artifact)).toString('utf8')) as typeof body;
    } catch (e) {
      if (e instanceof AirlockError) throw e;
      throw new AirlockError(
        'E_REGISTRY',
        `ChartMuseum lookup answered something that is not JSON: ${(e as Error).message}`,
        { artifact },
      );
    }
    if (body?.name !== name || body.version !== version) return undefined;
    return typeof body.digest === 'string' ? body.digest.replace(/^sha256:/, '') : '';
  }

  /**
   * The sha256 of the archive in the server's storage (`GET <ctx>/<tenant>/charts/<name>-<version>.tgz`,
   * storage.go getStorageObject reads the storage backend, not the index cache), streamed and bounded.
   */
  async function storedDigest(file: string, artifact: string): Promise<string | undefined> {
    const target = `${repoUrl}/charts/${encodeURIComponent(file)}`;
    const res = await get(target, artifact);
    if (res.statusCode === 404) return absentOr404(res, target, artifact);
    if (res.statusCode !== 200) throw await museumError(res, 'ChartMuseum download failed', artifact);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_CHART) {
        res.body.destroy();
        throw new AirlockError('E_REGISTRY', `ChartMuseum's ${file} exceeds the ${MAX_CHART}-byte limit`, { artifact });
      }
      hash.update(chunk as Buffer);
    }
    return hash.digest('hex');
  }

  async function museumError(res: HttpResponse, what: string, artifact: string): Promise<AirlockError> {
    const status = res.statusCode;
    return new AirlockError(codeFor(status), `${what}: HTTP ${status} ${await museumMessage(res)}`, {
      artifact,
      status,
    });
  }

  const locationOf = (name: string, version: string) => `${repoUrl}/charts/${name}-${version}.tgz`;

  return {
    label,
    async has(name, version, digest) {
      checkChartNames(name, version, label);
      return {
        present: (await listedDigest(name, version, `${label} ${name}@${version}`)) === digest,
        location: locationOf(name, version),
      };
    },
    async push(chart: ChartPackage) {
      // The server names the file after the Chart.yaml inside (pkg/repo/chart.go ChartPackageFilenameFromContent).
      const name = chart.metadata.name || chart.name;
      const version = String(chart.metadata.version || chart.version);
      checkChartNames(name, version, label);
      const file = `${name}-${version}.tgz`;
      const artifact = `${label} ${name}@${version}`;
      const location = locationOf(name, version);
      const digest = createHash('sha256').update(chart.tgz).digest('hex');
      const conflict = (stored: string) =>
        new AirlockError(
          'E_CONFLICT',
          `ChartMuseum already holds ${name} ${version} with digest ${stored}, the source chart is ${digest}; set force to overwrite`,
          { artifact },
        );

      // The index first (cheap); storage decides whenever the index does not vouch for this archive,
      // so a lagging index never lets a different chart be overwritten on a server with --allow-overwrite.
      if ((await listedDigest(name, version, artifact)) === digest) return { status: 'unchanged', location, digest };
      const stored = await storedDigest(file, artifact);
      if (stored === digest) return { status: 'unchanged', location, digest };
      if (stored !== undefined && !options.force) throw conflict(stored);

      // undici's own FormData: its request code encodes only that class as multipart. Field names
      // `chart` and `prov` are the ones the server always reads (handlers.go getChartAndProvFiles).
      const { FormData } = await import('../http/undici-core.js');
      const form = new FormData();
      form.append('chart', new Blob([new Uint8Array(chart.tgz)]), file);
      if (chart.prov) form.append('prov', new Blob([new Uint8Array(chart.prov)]), `${file}.prov`);
      const res = await engine.http.request({
        method: 'POST',
        url: options.force ? `${api}?force` : api,
        headers: headers(),
        body: form,
        artifact,
        kind: 'blob',
        size: chart.tgz.length + (chart.prov?.length ?? 0),
      });
      if (res.statusCode === 201 || res.statusCode === 200) {
        await res.body.dump();
        return { status: 'copied', location, digest };
      }
      if (res.statusCode === 409) {
        // `chart already exists`: the version arrived meanwhile, the server refuses ?force
        // (--disable-force-overwrite), or a provenance file of that name is left in storage.
        const said = await museumMessage(res);
        const now = await storedDigest(file, artifact);
        if (now === digest) return { status: 'unchanged', location, digest };
        if (now === undefined) {
          throw new AirlockError(
            'E_CONFLICT',
            `ChartMuseum refused ${file} (HTTP 409 ${said}) though its storage has no such archive: a ${file}.prov left there blocks the upload`,
            { artifact, status: 409 },
          );
        }
        if (options.force) {
          throw new AirlockError(
            'E_CONFLICT',
            `ChartMuseum refused to overwrite ${name} ${version} (digest ${now}) even with ?force (HTTP 409 ${said}): the server runs with --disable-force-overwrite`,
            { artifact, status: 409 },
          );
        }
        throw conflict(now);
      }
      if (res.statusCode === 413) {
        const said = await museumMessage(res);
        const size = chart.tgz.length + (chart.prov?.length ?? 0);
        throw new AirlockError(
          'E_REGISTRY',
          `ChartMuseum refused the upload as too large (HTTP 413 ${said}): ${size} bytes of chart and provenance, over the server's --max-upload-size (20 MiB unless set)`,
          { artifact, status: 413 },
        );
      }
      throw await museumError(res, 'ChartMuseum upload failed', artifact);
    },
  };
}
