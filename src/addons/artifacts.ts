import type { AddonCatalogConfig, ChartEntry } from '../config/schema.js';
import type { AirlockError } from '../core/errors.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import type { PlanFailure } from '../model/plan-failure.js';
import type { ResolvedCatalog } from './catalog-source.js';
import type { AddonChartGroup, PlannedChart } from '../model/addon-chart-payload.js';
import type { AddonPlan } from './discover.js';
import type { CatalogPlan } from './plan-catalog.js';

// What a run's addons need and what of it arrived: the planner fills these, the chart, image and file
// mirrors work through them, and publishing reads them to decide which addons may go out.

/** A catalog as this run saw it. */
export interface PlannedCatalog {
  config: AddonCatalogConfig;
  catalog?: ResolvedCatalog;
  plan?: CatalogPlan;
  error?: AirlockError;
}

export interface AddonArtifacts {
  catalogs: PlannedCatalog[];
  images: MirrorImagePayload[];
  charts: AddonChartGroup[];
  urls: string[];
  failures: PlanFailure[];
}

// The upstream alternative first: a conditional mirror URL (crane's `parameter.mirror`) is the fallback.
const UPSTREAM_HINT = /github\.io|\.dev\/|charts\./;

/**
 * An addon's chart versions with their alternative sources: the repositories one addon lists for
 * the same chart and version (in `if` branches). Charts of the same name from unrelated
 * repositories, in different addons, stay apart.
 */
export function addonChartGroups(plan: Pick<AddonPlan, 'charts'>): AddonChartGroup[] {
  const byChart = new Map<string, PlannedChart[]>();
  for (const ch of plan.charts) {
    if (ch.repoType !== 'helm' && ch.repoType !== 'oci') continue;
    const k = `${ch.chart}@${ch.version ?? '*'}`;
    const list = byChart.get(k) ?? [];
    if (!list.some((a) => a.repo === ch.repo)) list.push(ch);
    byChart.set(k, list);
  }
  return [...byChart.entries()].map(([k, alternatives]) => {
    alternatives.sort((a, b) => Number(UPSTREAM_HINT.test(b.repo)) - Number(UPSTREAM_HINT.test(a.repo)));
    return {
      key: `${k} ${alternatives
        .map((a) => a.repo)
        .sort()
        .join(' ')}`,
      alternatives,
    };
  });
}

/** The normalised image a copy payload is about (`docker://` off), as addon plans name images. */
export function payloadImage(source: string): string {
  return source.replace(/^docker:\/\//, '');
}

/** The `charts:`-style entry for one alternative source of an addon chart. */
export function chartEntryFor(ch: PlannedChart): ChartEntry {
  const v = ch.version;
  const exact = v && !/[*^~<>=|x ]/.test(v.replace(/^v/, '')) ? v : undefined;
  return {
    repo: ch.repo.replace(/\/+$/, '') || ch.repo,
    name: ch.chart,
    ...(exact ? { versions: [exact] } : v && v !== '*' ? { semver: v } : { newest: 1 }),
    images: true,
  };
}

export interface AddonMirrorStatus {
  /** Normalised images that did not arrive. */
  failedImages: Set<string>;
  /** Keys of the chart groups (addonChartGroups) that did not arrive from any source. */
  failedCharts: Set<string>;
  /** Source URL → mirrored URL for the files that arrived. */
  files: Map<string, string>;
  failedUrls: Set<string>;
  /** True when there is no static target: URLs stay upstream. */
  filesUnmirrored: boolean;
}

/** What an addon needs that did not arrive, as `kind name` lines. */
export function blockers(plan: AddonPlan, status: AddonMirrorStatus, definitionImages: boolean): string[] {
  const out: string[] = [];
  for (const i of [...plan.images, ...(definitionImages ? plan.definitionImages : [])])
    if (status.failedImages.has(i)) out.push(`image ${i}`);
  for (const g of addonChartGroups(plan))
    if (status.failedCharts.has(g.key))
      out.push(`chart ${g.alternatives[0]!.chart}@${g.alternatives[0]!.version ?? '*'}`);
  for (const u of plan.urls) if (status.failedUrls.has(u)) out.push(`file ${u}`);
  return [...new Set(out)];
}
