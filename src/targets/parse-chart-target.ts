import path from 'node:path';
import type { HostAccess } from '../oci/auth.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError } from '../core/errors.js';
import { parseOciChartUrl } from '../sources/oci-chart.js';
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
  if (spec.startsWith('oci://')) {
    const { registry, path: p } = parseOciChartUrl(spec);
    return ociChartTarget(engine, registry, p);
  }
  if (/^cm\+https?:\/\//.test(spec)) return chartMuseumTarget(engine, spec, options);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new AirlockError(
      'E_TRANSPORT',
      'a chart target is oci://HOST/PATH, cm+http(s)://HOST[/TENANT] or a directory',
      { artifact: spec },
    );
  }
  return directoryChartTarget(path.resolve(spec), options.baseUrl);
}
