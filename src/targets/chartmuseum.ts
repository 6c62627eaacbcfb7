import { createHash } from 'node:crypto';
import type { Engine } from '../engine.js';
import { basicAuthorization } from '../oci/auth.js';
import { AirlockError } from '../errors.js';
import { errorFromResponse, readBuffer } from '../oci/http.js';
import { checkChartNames, type ChartPackage, type ChartTarget } from './chart-target.js';

export interface ChartMuseumOptions {
  /** `--context-path` of the server, e.g. `/museum`. */
  contextPath?: string;
  /** Overwrite a different chart of the same version (`?force`); off by default. */
  force?: boolean;
}

/**
 * ChartMuseum's API (helm/chartmuseum README): `POST <ctx>/api[/<tenant>]/charts` multipart with
 * parts `chart` and `prov`. A version already there is compared by digest first, so a re-sync
 * uploads nothing and a different chart under the same version is never silently replaced.
 * `url` is `cm+http(s)://HOST[:PORT][/TENANT/PATH]`.
 */
function chartMuseumParts(url: string, contextPath: string | undefined): { origin: string; host: string; ctx: string; tenant: string } {
  const u = new URL(url.replace(/^cm\+/, ''));
  return { origin: u.origin, host: u.host, tenant: u.pathname.replace(/^\/+|\/+$/g, ''), ctx: (contextPath ?? '').replace(/\/+$/, '').replace(/^(?!\/)(.)/, '/$1') };
}

/** The Helm repository URL a ChartMuseum target serves (what `helm repo add` and Flux point at). */
export function chartMuseumRepoUrl(url: string, contextPath?: string): string {
  const { origin, ctx, tenant } = chartMuseumParts(url, contextPath);
  return `${origin}${ctx}${tenant ? `/${tenant}` : ''}`;
}

export function chartMuseumTarget(engine: Engine, url: string, options: ChartMuseumOptions = {}): ChartTarget {
  const { origin, host, ctx, tenant } = chartMuseumParts(url, options.contextPath);
  const api = `${origin}${ctx}/api${tenant ? `/${tenant}` : ''}/charts`;
  const label = url;

  function headers(): Record<string, string> {
    // Bearer (`--bearer-auth`) from AIRLOCK_TOKEN_<HOST>, else basic credentials like any registry's.
    const token = engine.token(host);
    if (token) return { authorization: `Bearer ${token}` };
    const creds = engine.credentials(host);
    return creds ? { authorization: basicAuthorization(creds) } : {};
  }

  async function storedDigest(name: string, version: string, artifact: string): Promise<string | undefined> {
    const res = await engine.http.send(engine.http.transport, {
      method: 'GET',
      url: `${api}/${encodeURIComponent(name)}/${encodeURIComponent(version)}`,
      headers: headers(),
      artifact,
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) throw await errorFromResponse(res, 'ChartMuseum lookup failed', artifact);
    const body = JSON.parse((await readBuffer(res, 4 * 1024 * 1024, artifact)).toString("utf8")) as { digest?: string };
    return body.digest ?? '';
  }

  const locationOf = (name: string, version: string) => `${chartMuseumRepoUrl(url, options.contextPath)}/charts/${name}-${version}.tgz`;

  return {
    label,
    async has(name, version, digest) {
      checkChartNames(name, version, label);
      return { present: (await storedDigest(name, version, `${label} ${name}@${version}`)) === digest, location: locationOf(name, version) };
    },
    async push(chart: ChartPackage) {
      checkChartNames(chart.name, chart.version, label);
      const artifact = `${label} ${chart.name}@${chart.version}`;
      const location = locationOf(chart.name, chart.version);
      const digest = createHash('sha256').update(chart.tgz).digest('hex');
      const conflict = (stored: string) =>
        new AirlockError('E_CONFLICT', `ChartMuseum already holds ${chart.name} ${chart.version} with digest ${stored}, the source chart is ${digest}; set force to overwrite`, { artifact });

      const stored = await storedDigest(chart.name, chart.version, artifact);
      if (stored === digest) return { status: 'unchanged', location, digest };
      if (stored !== undefined && !options.force) throw conflict(stored);

      // undici's own FormData: its request code encodes only that class as multipart.
      const { FormData } = await import('../oci/undici-core.js');
      const form = new FormData();
      form.append('chart', new Blob([new Uint8Array(chart.tgz)]), `${chart.name}-${chart.version}.tgz`);
      if (chart.prov) form.append('prov', new Blob([new Uint8Array(chart.prov)]), `${chart.name}-${chart.version}.tgz.prov`);
      const res = await engine.http.send(engine.http.transport, {
        method: 'POST',
        url: options.force ? `${api}?force` : api,
        headers: headers(),
        body: form,
        artifact,
      });
      if (res.statusCode === 201 || res.statusCode === 200) {
        await res.body.dump();
        return { status: 'copied', location, digest };
      }
      if (res.statusCode === 409) {
        await res.body.dump();
        const now = await storedDigest(chart.name, chart.version, artifact);
        if (now === digest) return { status: 'unchanged', location, digest };
        throw conflict(now ?? 'unknown');
      }
      if (res.statusCode === 507) {
        await res.body.dump();
        throw new AirlockError('E_REGISTRY', 'ChartMuseum storage is full (HTTP 507 Insufficient Storage)', { artifact, status: 507 });
      }
      throw await errorFromResponse(res, 'ChartMuseum upload failed', artifact);
    },
  };
}
