import type { Readable } from 'node:stream';
import { HELM, chartTag } from '../charts/helm-oci.js';
import type { Engine } from '../engine.js';
import { AirlockError } from '../errors.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { createVerifyingStream } from '../oci/verify-stream.js';

/** `oci://host[:port]/path` → registry and repository path (the chart name is appended by callers). */
export function parseOciChartUrl(url: string): { registry: string; path: string } {
  const m = /^oci:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m?.[1]) throw new AirlockError('E_REFERENCE', 'expected oci://HOST[:PORT][/PATH]', { artifact: url });
  return { registry: m[1], path: (m[2] ?? '').replace(/\/+$/, '') };
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

/** Pulls a Helm chart artifact: the chart layer (or the legacy `application/tar+gzip`) and its provenance. */
export async function fetchOciChart(engine: Engine, url: string, chart: string, version: string): Promise<{ tgz: Buffer; prov?: Buffer; location: string }> {
  const { registry, path } = parseOciChartUrl(url);
  const repo = { registry, repository: path ? `${path}/${chart}` : chart };
  const tag = chartTag(version);
  const location = `oci://${registry}/${repo.repository}:${tag}`;
  const raw = await engine.client.getManifest(repo, tag);
  const parsed = parseManifest(raw, location);
  if (parsed.kind !== 'manifest') throw new AirlockError('E_UNSUPPORTED', 'expected a Helm chart manifest, found an index', { artifact: location });
  const chartLayer = parsed.layers.find((l) => l.mediaType === HELM.chart) ?? parsed.layers.find((l) => l.mediaType === HELM.legacyChart);
  if (!chartLayer) throw new AirlockError('E_UNSUPPORTED', `no Helm chart layer (config ${parsed.config.mediaType})`, { artifact: location });
  const tgz = await readVerified(await engine.client.openBlob(repo, chartLayer), chartLayer, location);
  const provLayer = parsed.layers.find((l) => l.mediaType === HELM.prov);
  const prov = provLayer ? await readVerified(await engine.client.openBlob(repo, provLayer), provLayer, location) : undefined;
  return { tgz, ...(prov ? { prov } : {}), location };
}
