import type { MirrorChartPayload } from './chart-payload.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from './file-payloads.js';
import type { MirrorImagePayload } from './image-payload.js';

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
  return (
    p.images.length +
    p.charts.length +
    p.files.length +
    p.botkube.length +
    p.imageEntries.length +
    p.chartEntries.length +
    (p.addons ? 1 : 0) +
    (p.plugins ? 1 : 0)
  );
}
