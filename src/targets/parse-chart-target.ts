import path from 'node:path';
import type { HostAccess } from '../oci/auth.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { parseChartTargetSpec } from './chart-target-spec.js';
import { chartMuseumTarget, type ChartMuseumOptions } from './chartmuseum.js';
import { directoryChartTarget } from './chart-directory.js';
import { ociChartTarget } from './chart-oci.js';
import type { ChartTarget } from './chart-target.js';

export interface ChartTargetOptions extends ChartMuseumOptions {
  /** Public base URL of a directory target (default: relative URLs in index.yaml). */
  baseUrl?: string;
}

/** `oci://HOST[:PORT]/PATH`, `cm+http(s)://HOST[:PORT][/TENANT]`, or a directory. */
/** What any chart target may need: registries for OCI targets, HTTP and host credentials for ChartMuseum. */
export type ChartTargetAccess = RegistryAccess & HostAccess;

export function parseChartTarget(
  engine: ChartTargetAccess,
  spec: string,
  options: ChartTargetOptions = {},
): ChartTarget {
  const target = parseChartTargetSpec(spec);
  if (target.kind === 'oci') return ociChartTarget(engine, target.registry, target.path);
  if (target.kind === 'chartmuseum') return chartMuseumTarget(engine, spec, options);
  return directoryChartTarget(path.resolve(target.dir), options.baseUrl);
}
