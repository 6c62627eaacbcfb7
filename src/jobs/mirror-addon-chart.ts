import type { ChartJobContext } from './mirror-chart.js';
import type { AirlockConfig } from '../config/schema.js';
import type { ChartOutcome } from '../report/run-report.js';
import { mirrorAddonCharts, type AddonChartGroup } from '../runner/addon-sync.js';

/**
 * One chart version an addon needs, to every chart target, from the first of its sources that
 * delivers (crane's charts come from a mirror or from upstream). `failed` when none did.
 */
export async function mirrorAddonChartJob(payload: AddonChartGroup, ctx: ChartJobContext & { config: AirlockConfig }): Promise<{ key: string; failed: boolean; outcomes: ChartOutcome[] }> {
  const r = await mirrorAddonCharts([payload], ctx);
  return { key: payload.key, failed: r.failed.has(payload.key), outcomes: r.outcomes };
}
