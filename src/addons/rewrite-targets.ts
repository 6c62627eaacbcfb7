import type { AirlockConfig } from '../config/schema.js';
import { parseRegistryRef } from '../oci/reference.js';
import { parseOciChartUrl } from '../sources/oci-chart.js';
import { chartMuseumRepoUrl } from '../targets/chartmuseum.js';
import { targetParts } from '../targets/image-target.js';
import type { AddonMirrorStatus } from './artifacts.js';
import type { ImageTarget, RewriteTargets } from './rewrite.js';

/**
 * The mirrored image repository (no transport, no tag) for a normalised source image, in its two
 * parts — the target registry with its path prefix, and the path the rule renders — or undefined
 * when images go to an oci: store.
 */
function imageTargetFor(config: AirlockConfig): (normalised: string) => ImageTarget | undefined {
  const rule = config.targets.images;
  return (normalised) => {
    if (!rule) return undefined;
    const t = targetParts(parseRegistryRef(normalised), rule);
    return t.registry.startsWith('oci:') ? undefined : t;
  };
}

/** The chart repository rewritten addons point at: addons.chartRepository, else what targets.charts[0] serves. */
export function addonChartRepository(config: AirlockConfig): { url: string; repoType: 'helm' | 'oci' } | undefined {
  const explicit = config.addons?.chartRepository;
  if (explicit) return { url: explicit.replace(/\/+$/, ''), repoType: explicit.startsWith('oci://') ? 'oci' : 'helm' };
  const first = config.targets.charts[0];
  if (!first) return undefined;
  const t = typeof first === 'string' ? { url: first } : first;
  if (t.url.startsWith('oci://')) {
    parseOciChartUrl(t.url);
    return { url: t.url.replace(/\/+$/, ''), repoType: 'oci' };
  }
  if (/^cm\+https?:\/\//.test(t.url))
    return { url: chartMuseumRepoUrl(t.url, 'contextPath' in t ? t.contextPath : undefined), repoType: 'helm' };
  if ('baseUrl' in t && t.baseUrl) return { url: t.baseUrl.replace(/\/+$/, ''), repoType: 'helm' };
  return undefined;
}

/** Where the rewrite points an addon's images, charts and files, from the config and what arrived. */
export function rewriteTargets(config: AirlockConfig, status: AddonMirrorStatus): RewriteTargets {
  const repo = addonChartRepository(config);
  return {
    image: imageTargetFor(config),
    chart: () => repo,
    url: (u) => status.files.get(u),
  };
}
