import type { ChartMetadata } from '../charts/chart-archive.js';
import type { ChartVersionEntry } from '../charts/index-file.js';
import { checkName } from '../core/names.js';
import type { ItemStatus } from '../model/report.js';

/**
 * A chart's name and version name what a target writes or asks for (`<name>-<version>.tgz`, a
 * ChartMuseum URL, an OCI repository and tag), so every target checks them itself, whatever the
 * source: nothing is written outside the target and no request leaves its API.
 */
export function checkChartNames(name: string, version: string, artifact: string): void {
  checkName('chart-name', name, { field: 'chart name', artifact });
  checkName('version', version, { field: 'chart version', artifact });
}

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
  status: Extract<ItemStatus, 'copied' | 'unchanged'>;
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
