import type { ChartMetadata } from '../charts/chart-archive.js';
import type { ChartVersionEntry } from '../charts/index-file.js';

/** A chart version as it travels: the archive bytes unchanged, its provenance, its metadata. */
export interface ChartPackage {
  name: string;
  version: string;
  tgz: Buffer;
  prov?: Buffer;
  metadata: ChartMetadata;
  /** The upstream index entry, when the chart came from a classic repository. */
  entry?: ChartVersionEntry;
}

export interface ChartPushResult {
  status: 'copied' | 'unchanged';
  /** Where the chart now is: `oci://…:tag`, a ChartMuseum URL, a file path. */
  location: string;
  /** sha256 of the .tgz (what Helm indexes call `digest`). */
  digest: string;
}

export interface ChartTarget {
  label: string;
  push(chart: ChartPackage): Promise<ChartPushResult>;
  /** Where the chart would land, and whether it is there with this .tgz digest (hex) — checked without the archive. */
  has(name: string, version: string, digest: string): Promise<{ present: boolean; location: string }>;
}
