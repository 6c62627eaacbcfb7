import { MT } from '../oci/media-types.js';
import { sha256Digest, type RawManifest } from '../oci/manifest.js';
import type { ChartMetadata } from './chart-archive.js';

/** Helm's OCI media types (helm/helm:pkg/registry/constants.go). */
export const HELM = {
  config: 'application/vnd.cncf.helm.config.v1+json',
  chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  prov: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
  legacyChart: 'application/tar+gzip',
} as const;

/** OCI tags cannot hold `+`; Helm stores `1.0.0+build` as `1.0.0_build` and converts back on pull. */
export function chartTag(version: string): string {
  return version.replace(/\+/g, '_');
}

export interface BuiltChartArtifact {
  config: Buffer;
  configDigest: string;
  layers: Array<{ mediaType: string; bytes: Buffer; digest: string }>;
  manifest: RawManifest;
}

/**
 * The manifest `helm push` would write, without the push time: the same chart gives the same
 * digest on every run, so a re-sync finds it unchanged with one HEAD.
 */
export function buildChartArtifact(metadata: ChartMetadata, tgz: Buffer, prov?: Buffer): BuiltChartArtifact {
  const config = Buffer.from(JSON.stringify(metadata));
  const configDigest = sha256Digest(config);
  const layers: BuiltChartArtifact['layers'] = [{ mediaType: HELM.chart, bytes: tgz, digest: sha256Digest(tgz) }];
  if (prov) layers.push({ mediaType: HELM.prov, bytes: prov, digest: sha256Digest(prov) });
  layers.sort((a, b) => a.digest.localeCompare(b.digest));
  const annotations: Record<string, string> = { ...(metadata.annotations ?? {}) };
  const set = (k: string, v: unknown) => {
    if (typeof v === 'string' && v) annotations[`org.opencontainers.image.${k}`] = v;
  };
  set('description', metadata.description);
  set('url', metadata.home);
  set('source', metadata.sources?.[0]);
  set(
    'authors',
    metadata.maintainers
      ?.map((m) => m.name)
      .filter(Boolean)
      .join(', '),
  );
  annotations['org.opencontainers.image.title'] = metadata.name;
  annotations['org.opencontainers.image.version'] = metadata.version;
  const body = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: HELM.config, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(body));
  return { config, configDigest, layers, manifest: { bytes, mediaType: MT.ociManifest, digest: sha256Digest(bytes) } };
}
