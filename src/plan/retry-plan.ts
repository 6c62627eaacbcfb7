import type { AirlockConfig } from '../config/schema.js';
import type { SyncKind } from '../config/scope.js';
import type { MirrorChartPayload } from '../jobs/mirror-chart.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../jobs/mirror-files.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';

/**
 * What a run failed to mirror, as the payloads to run again (`airlock runs retry`). Artifacts that
 * failed while being planned (tags not listed, an index not read) have no payload yet: their
 * config entries are planned again instead.
 */
export interface RetryPlan {
  images: MirrorImagePayload[];
  charts: MirrorChartPayload[];
  files: MirrorFilePayload[];
  botkube: MirrorBotkubePayload[];
  /** `images[].source` of entries whose tags could not be planned. */
  imageEntries: string[];
  /** `REPO NAME` of `charts[]` entries whose versions could not be planned. */
  chartEntries: string[];
  /** Something in the addon scope failed: the retry runs the addon scope again. */
  addons?: boolean;
  /** A plugin failed: the retry runs the plugins again (registration is idempotent). */
  plugins?: boolean;
}

export function emptyRetryPlan(): RetryPlan {
  return { images: [], charts: [], files: [], botkube: [], imageEntries: [], chartEntries: [] };
}

export function retryPlanSize(p: RetryPlan): number {
  return p.images.length + p.charts.length + p.files.length + p.botkube.length + p.imageEntries.length + p.chartEntries.length + (p.addons ? 1 : 0) + (p.plugins ? 1 : 0);
}

export function chartEntryKey(entry: { repo: string; name: string }): string {
  return `${entry.repo} ${entry.name}`;
}

/**
 * What a run covers: its config and kinds, or, for a retry, the config narrowed to the entries it
 * plans again, with the addon and plugin scopes only when they failed.
 */
export function runScope(config: AirlockConfig, kinds: SyncKind[], retry: RetryPlan | undefined): { config: AirlockConfig; kinds: SyncKind[] } {
  if (!retry) return { config, kinds };
  return { config: configForRetry(config, retry), kinds: [...(retry.addons ? (['addons'] as const) : []), ...(retry.plugins ? (['plugins'] as const) : []), 'charts', 'images', 'files'] };
}

/** The config narrowed to the entries a retry plans again. */
export function configForRetry(config: AirlockConfig, plan: RetryPlan): AirlockConfig {
  const images = new Set(plan.imageEntries);
  const charts = new Set(plan.chartEntries);
  return { ...config, images: config.images.filter((e) => images.has(e.source)), charts: config.charts.filter((e) => charts.has(chartEntryKey(e))), files: [], botkube: [] };
}
