import { AirlockError } from '../core/errors.js';
import { parseOciChartUrl } from '../sources/oci-chart.js';

/** What a `targets.charts` entry names, read without contacting it. */
export type ChartTargetSpec =
  | { kind: 'oci'; registry: string; path: string }
  | { kind: 'chartmuseum'; url: string }
  | { kind: 'directory'; dir: string };

/**
 * `oci://HOST[:PORT]/PATH`, `cm+http(s)://HOST[:PORT][/TENANT]`, or a directory. Pure, so the
 * config check refuses what a run would (another scheme, a malformed URL) with the same words.
 */
export function parseChartTargetSpec(spec: string): ChartTargetSpec {
  if (spec.startsWith('oci://')) return { kind: 'oci', ...parseOciChartUrl(spec) };
  if (/^cm\+https?:\/\//.test(spec)) {
    if (!URL.canParse(spec.replace(/^cm\+/, '')))
      throw new AirlockError('E_REFERENCE', 'expected cm+http(s)://HOST[:PORT][/TENANT]', { artifact: spec });
    return { kind: 'chartmuseum', url: spec };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new AirlockError(
      'E_TRANSPORT',
      'a chart target is oci://HOST/PATH, cm+http(s)://HOST[/TENANT] or a directory',
      { artifact: spec },
    );
  }
  return { kind: 'directory', dir: spec };
}
