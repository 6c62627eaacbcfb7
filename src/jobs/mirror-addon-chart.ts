import pLimit from 'p-limit';
import { chartEntryFor } from '../addons/artifacts.js';
import type { AddonChartGroup } from '../model/addon-chart-payload.js';
import { toAirlockError, type AirlockError } from '../core/errors.js';
import { planCharts } from '../sources/chart-plan.js';
import { mirrorChart, type ChartJobContext } from './mirror-chart.js';
import type { AirlockConfig } from '../config/schema.js';
import type { ChartOutcome } from './mirror-chart.js';
import type { CopyProgress } from '../model/progress.js';

/**
 * One chart version an addon needs, to every chart target, from the first of its sources that
 * delivers (crane's charts come from a mirror or from upstream). `failed` when none did.
 */
export async function mirrorAddonChartJob(
  payload: AddonChartGroup,
  ctx: ChartJobContext & { config: AirlockConfig },
): Promise<{ key: string; failed: boolean; outcomes: ChartOutcome[] }> {
  const r = await mirrorAddonCharts([payload], ctx);
  return { key: payload.key, failed: r.failed.has(payload.key), outcomes: r.outcomes };
}

/** A run's watcher of one addon chart: its bytes as they move, and its outcomes once it settled. */
export type TrackAddonChart = (
  name: string,
) => { progress: CopyProgress; settled(outcomes: ChartOutcome[]): void } | undefined;

/** What an addon chart is called while it has no outcome yet: its first source, as its failure names it. */
export function addonChartName(g: AddonChartGroup): string {
  const alt = g.alternatives[0];
  return alt ? `${alt.repo} ${alt.chart}@${alt.version ?? '*'}` : g.key;
}

/**
 * Mirrors each chart version the addons need to every chart target, trying its sources in order
 * until one delivers to all targets. Only when none does is the chart failed.
 */
export async function mirrorAddonCharts(
  groups: AddonChartGroup[],
  ctx: ChartJobContext & { config: AirlockConfig; dryRun?: boolean; track?: TrackAddonChart },
): Promise<{ outcomes: ChartOutcome[]; failed: Set<string>; errors: AirlockError[] }> {
  const outcomes: ChartOutcome[] = [];
  const failed = new Set<string>();
  const errors: AirlockError[] = [];
  const limit = pLimit(ctx.config.concurrency.images);
  await Promise.all(
    groups.map((g) =>
      limit(async () => {
        const watched = ctx.track?.(addonChartName(g));
        const settle = (settled: ChartOutcome[]) => {
          outcomes.push(...settled);
          watched?.settled(settled);
        };
        const chartCtx = watched ? { ...ctx, progress: watched.progress } : ctx;
        const attempts: ChartOutcome[] = [];
        for (const alt of g.alternatives) {
          const plan = await planCharts({ ...ctx.config, charts: [chartEntryFor(alt)] }, ctx.engine, ctx.repos, {
            dryRun: ctx.dryRun,
          });
          const tried: ChartOutcome[] = plan.failures.map((f) => ({
            source: `${alt.repo} ${alt.chart}@${alt.version ?? '*'}`,
            target: '',
            error: f.error,
            durationMs: 0,
          }));
          for (const p of plan.payloads) {
            const t0 = Date.now();
            const source = `${p.source} ${p.chart}@${p.version}`;
            try {
              tried.push({
                source,
                target: p.target,
                result: await mirrorChart(p, chartCtx),
                durationMs: Date.now() - t0,
              });
            } catch (e) {
              tried.push({ source, target: p.target, error: toAirlockError(e, source), durationMs: Date.now() - t0 });
            }
          }
          if (tried.length > 0 && tried.every((o) => o.result)) {
            settle(tried);
            return;
          }
          attempts.push(...tried);
        }
        failed.add(g.key);
        settle(attempts);
        errors.push(...attempts.flatMap((o) => (o.error ? [o.error] : [])));
      }),
    ),
  );
  return { outcomes, failed, errors };
}
