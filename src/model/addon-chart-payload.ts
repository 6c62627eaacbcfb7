import * as z from 'zod';

/** One chart an addon names: where from, which version, and the repository kind (`helm`, `oci`, `git`). */
export const plannedChart = z.object({
  repo: z.string().min(1),
  chart: z.string().min(1),
  /** Exact version, a range, or absent (the newest). */
  version: z.string().optional(),
  repoType: z.string(),
});

export type PlannedChart = z.infer<typeof plannedChart>;

/**
 * `mirror-addon-chart`: one chart version an addon needs, with the sources it may come from
 * (crane: a mirror or upstream); the first that delivers it wins.
 */
export const addonChartGroup = z.object({
  key: z.string().min(1),
  alternatives: z.array(plannedChart).min(1),
});

export type AddonChartGroup = z.infer<typeof addonChartGroup>;
