import type { AirlockConfig } from '../config/schema.js';
import type { SyncKind } from '../config/scope.js';
import type { RetryPlan } from '../model/retry-plan.js';

export function chartEntryKey(entry: { repo: string; name: string }): string {
  return `${entry.repo} ${entry.name}`;
}

/**
 * What a run covers: its config and kinds, or, for a retry, the config narrowed to the entries it
 * plans again, with the addon and plugin scopes only when they failed.
 */
export function runScope(
  config: AirlockConfig,
  kinds: SyncKind[],
  retry: RetryPlan | undefined,
): { config: AirlockConfig; kinds: SyncKind[] } {
  if (!retry) return { config, kinds };
  return {
    config: configForRetry(config, retry),
    kinds: [
      ...(retry.addons ? (['addons'] as const) : []),
      ...(retry.plugins ? (['plugins'] as const) : []),
      'charts',
      'images',
      'files',
    ],
  };
}

/** The config narrowed to the entries a retry plans again. */
export function configForRetry(config: AirlockConfig, plan: RetryPlan): AirlockConfig {
  const images = new Set(plan.imageEntries);
  const charts = new Set(plan.chartEntries);
  return {
    ...config,
    images: config.images.filter((e) => images.has(e.source)),
    charts: config.charts.filter((e) => charts.has(chartEntryKey(e))),
    files: [],
    botkube: [],
  };
}
