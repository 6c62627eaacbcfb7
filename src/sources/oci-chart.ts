import type { Readable } from 'node:stream';
import { HELM, chartTag } from '../charts/helm-oci.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError } from '../core/errors.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { createVerifyingStream } from '../oci/verify-stream.js';
import { MAX_CHART_ARCHIVE_BYTES } from '../charts/chart-archive.js';
import { checkName } from '../core/names.js';

/**
 * `oci://host[:port]/path` → registry and repository path (the chart name is appended by callers).
 * The host must be one a URL parser reads back unchanged (no user info, query or fragment that
 * would move requests off `/v2/`), the path an OCI repository name.
 */
export function parseOciChartUrl(url: string): { registry: string; path: string } {
  const m = /^oci:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const usage = () => new AirlockError('E_REFERENCE', 'expected oci://HOST[:PORT][/PATH]', { artifact: url });
  if (!m?.[1]) throw usage();
  let host: string;
  try {
    const parsed = new URL(`http://${m[1]}/`);
    host = parsed.username || parsed.password || parsed.search || parsed.hash ? '' : parsed.host;
  } catch {
    host = '';
  }
  // The URL parser drops a default port; anything else it changes was not a plain host.
  if (host !== m[1].toLowerCase().replace(/:80$/, '')) throw usage();
  const path = (m[2] ?? '').replace(/\/+$/, '');
  if (path) checkName('repository', path, { field: 'repository path', artifact: url, code: 'E_REFERENCE' });
  return { registry: m[1], path };
}

async function readVerified(stream: Readable, desc: Descriptor, artifact: string): Promise<Buffer> {
  const verifier = createVerifyingStream(desc, artifact);
  const chunks: Buffer[] = [];
  stream.on('error', (e) => verifier.destroy(e));
  try {
    for await (const c of stream.pipe(verifier)) chunks.push(c as Buffer);
  } finally {
    // On a verification failure the source would otherwise hold its connection until a timeout.
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/**
 * A layer the manifest names, before it names a blob request: a digest of a known algorithm (not
 * a path) and a size a chart archive can have.
 */
function checkLayer(desc: Descriptor, what: string, location: string): Descriptor {
  checkName('digest', desc.digest, { field: `${what} digest`, artifact: location });
  if (!(desc.size >= 0) || desc.size > MAX_CHART_ARCHIVE_BYTES) {
    throw new AirlockError(
      'E_TOO_LARGE',
      `${what} of ${desc.size} bytes is past the ${MAX_CHART_ARCHIVE_BYTES / 1024 / 1024} MiB a chart archive may have`,
      { artifact: location },
    );
  }
  return desc;
}

/** Pulls a Helm chart artifact: the chart layer (or the legacy `application/tar+gzip`) and its provenance. */
export async function fetchOciChart(
  engine: RegistryAccess,
  url: string,
  chart: string,
  version: string,
): Promise<{ tgz: Buffer; prov?: Buffer; location: string }> {
  const { registry, path } = parseOciChartUrl(url);
  const repo = {
    registry,
    repository: checkName('repository', path ? `${path}/${chart}` : chart, { field: 'OCI repository', artifact: url }),
  };
  const tag = checkName('tag', chartTag(version), { field: 'OCI tag', artifact: url });
  const location = `oci://${registry}/${repo.repository}:${tag}`;
  const raw = await engine.client.getManifest(repo, tag);
  const parsed = parseManifest(raw, location);
  if (parsed.kind !== 'manifest')
    throw new AirlockError('E_UNSUPPORTED', 'expected a Helm chart manifest, found an index', { artifact: location });
  const chartLayer =
    parsed.layers.find((l) => l.mediaType === HELM.chart) ??
    parsed.layers.find((l) => l.mediaType === HELM.legacyChart);
  if (!chartLayer)
    throw new AirlockError('E_UNSUPPORTED', `no Helm chart layer (config ${parsed.config.mediaType})`, {
      artifact: location,
    });
  checkLayer(chartLayer, 'chart layer', location);
  const tgz = await readVerified(await engine.client.openBlob(repo, chartLayer), chartLayer, location);
  const provLayer = parsed.layers.find((l) => l.mediaType === HELM.prov);
  if (provLayer) checkLayer(provLayer, 'provenance layer', location);
  const prov = provLayer
    ? await readVerified(await engine.client.openBlob(repo, provLayer), provLayer, location)
    : undefined;
  return { tgz, ...(prov ? { prov } : {}), location };
}
