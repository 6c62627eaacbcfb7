import { AirlockError } from '../core/errors.js';
import { JOB_KINDS, type JobKind, type RetryBucket } from '../jobs/kinds.js';
import { addonChartName } from '../jobs/mirror-addon-chart.js';
import { chartSource } from '../jobs/mirror-chart.js';
import { payloadImage } from '../addons/artifacts.js';
import type { AddonChartGroup } from '../model/addon-chart-payload.js';
import { JOB } from '../model/job-names.js';
import type { ReportItem } from '../model/report.js';
import type { RetryPlan } from '../model/retry-plan.js';
import { chartItems, failureItems, fileItem, imageItems } from '../report/run-report.js';
import { jobFailureError } from './failure-text.js';
import { parsePublishAddonsPayload, parseRegisterPluginPayload, parseSyncRunPayload } from './step-payloads.js';

/**
 * Every job kind the queue knows, by job name: the plain processors' table (src/jobs/kinds.ts)
 * and the flow steps', with what a job that failed for good reports. The worker adds how each
 * runs (src/queue/worker-kinds.ts); the flow's report, the rate budget and the worker's metrics
 * read this one table instead of switching on job names.
 */

/** A job's data as it was queued, whether or not it parses. */
type Loose = Record<string, unknown>;

export interface QueueJobKind<P = unknown> {
  name: string;
  /** The job's data to its payload (throws AirlockError E_USAGE naming what is wrong). */
  parse(data: unknown): P;
  /** What the job is about, for its error and logs. */
  artifact(data: Loose): string;
  /** The upstream host the job reads from (src/queue/rate-defer.ts). */
  upstream?(data: Loose): string | undefined;
  /** Where a failed job goes in the retry plan. */
  retry?: RetryBucket;
  /** A job that failed for good, as the report items it stands for: for the worker's metrics and a flow's report. */
  failedItems(data: Loose, error: AirlockError): ReportItem[];
  /** The plain processor, for the kinds that are one (not a flow step). */
  plain?: JobKind<P>;
  /** What an addon may need that this job mirrors: a failed one holds back the addons that need it. */
  addonNeed?(data: Loose): AddonNeed | undefined;
}

/** An image (as addon plans name it), a chart group's key or a file URL that an addon may need. */
export interface AddonNeed {
  kind: 'image' | 'chart' | 'url';
  name: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const need = (kind: AddonNeed['kind'], name: string): AddonNeed | undefined => (name ? { kind, name } : undefined);

/** A plain kind with its failure's report items. */
function plain<P>(
  kind: JobKind<P>,
  failedItems: QueueJobKind['failedItems'],
  addonNeed?: QueueJobKind['addonNeed'],
): QueueJobKind<P> {
  return {
    name: kind.name,
    parse: kind.parse,
    artifact: kind.artifact,
    ...(kind.upstream ? { upstream: kind.upstream } : {}),
    ...(kind.retry ? { retry: kind.retry } : {}),
    failedItems,
    plain: kind,
    ...(addonNeed ? { addonNeed } : {}),
  };
}

/** Every job name this version produces: a name added to JOB without a kind here does not compile. */
export type JobName = (typeof JOB)[keyof typeof JOB];

const KINDS: Record<JobName, QueueJobKind> = {
  [JOB.mirrorImage]: plain(
    JOB_KINDS[JOB.mirrorImage],
    (d, error) => imageItems([{ payload: { source: str(d.source), target: str(d.target) }, error, durationMs: 0 }]),
    (d) => need('image', str(d.source) && payloadImage(str(d.source))),
  ),
  [JOB.mirrorChart]: plain(JOB_KINDS[JOB.mirrorChart], (d, error) =>
    chartItems([
      {
        source: chartSource({ source: str(d.source), chart: str(d.chart), version: str(d.version) }),
        target: str(d.target),
        error,
        durationMs: 0,
      },
    ]),
  ),
  [JOB.mirrorFile]: plain(
    JOB_KINDS[JOB.mirrorFile],
    (d, error) => [fileItem('file', str(d.url), '', 'failed', 0, undefined, error)],
    (d) => need('url', str(d.url)),
  ),
  [JOB.mirrorBotkube]: plain(JOB_KINDS[JOB.mirrorBotkube], (d, error) => [
    fileItem('plugin-index', str(d.url), '', 'failed', 0, undefined, error),
  ]),
  [JOB.mirrorAddonChart]: plain(
    JOB_KINDS[JOB.mirrorAddonChart],
    (d, error) => {
      // The chart the addon asked for: its first source, as the one-shot run names a chart it could not plan.
      const alternatives = (d as Partial<AddonChartGroup>).alternatives;
      return chartItems([
        {
          source: alternatives?.[0] ? addonChartName({ key: '', alternatives }) : JOB.mirrorAddonChart,
          target: '',
          error,
          durationMs: 0,
        },
      ]);
    },
    (d) => need('chart', str(d.key)),
  ),
  [JOB.sync]: {
    name: JOB.sync,
    parse: parseSyncRunPayload,
    artifact: () => JOB.sync,
    // A run that failed as a whole has no artifact of its own: its children reported theirs.
    failedItems: () => [],
  },
  [JOB.publishAddons]: {
    name: JOB.publishAddons,
    parse: parsePublishAddonsPayload,
    artifact: () => JOB.publishAddons,
    retry: 'addons',
    failedItems: (_d, error) => failureItems([{ artifact: JOB.publishAddons, error }], 'addon'),
  },
  [JOB.registerPlugin]: {
    name: JOB.registerPlugin,
    parse: parseRegisterPluginPayload,
    artifact: () => JOB.registerPlugin,
    retry: 'plugins',
    failedItems: (d, error) => {
      const request = ((d.manifest ?? {}) as { request?: { plugin_id?: unknown } }).request;
      const pluginId = typeof request?.plugin_id === 'string' ? request.plugin_id : 'plugin';
      return failureItems(
        [{ artifact: pluginId, error: new AirlockError(error.code, error.message, { artifact: pluginId }) }],
        'plugin',
      );
    },
  },
};

/** The kind of a job name; undefined for a name this version does not know (a newer producer's). */
export function jobKind(name: string): QueueJobKind | undefined {
  return Object.hasOwn(KINDS, name) ? KINDS[name as JobName] : undefined;
}

/** Job data as the table's labels read it: anything that is not an object reads as empty. */
export function looseData(data: unknown): Loose {
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Loose) : {};
}

/** The artifact a job is about, for its error and its log lines. */
export function jobArtifact(name: string, data: unknown): string {
  return jobKind(name)?.artifact(looseData(data)) ?? name;
}

/** A job that failed for good, as the report items it stands for; none for a kind this version does not know. */
export function failedJobItems(name: string, data: unknown, error: AirlockError): ReportItem[] {
  return jobKind(name)?.failedItems(looseData(data), error) ?? [];
}

/** What an addon may need that a job mirrors; undefined for a job no addon waits on. */
export function addonNeedOf(name: string, data: unknown): AddonNeed | undefined {
  return jobKind(name)?.addonNeed?.(looseData(data));
}

/** A child of a flow that failed for good, as report items and as what to retry. */
export function failedChildItems(
  child: { name: string; data: unknown; reason: string; byChild?: boolean },
  retry: RetryPlan,
): ReportItem[] {
  const failure = jobFailureError(child.reason);
  const kind = jobKind(child.name);
  if (kind?.retry) addToRetry(retry, kind, child.data);
  const error =
    kind?.name === JOB.registerPlugin && child.byChild
      ? new AirlockError(failure.code, `not registered: its image copy failed: ${failure.message}`)
      : failure;
  const items = failedJobItems(child.name, child.data, error);
  return items.length ? items : failureItems([{ artifact: child.name, error }], 'job');
}

function addToRetry(retry: RetryPlan, kind: QueueJobKind, data: unknown): void {
  const bucket = kind.retry;
  if (bucket === 'addons' || bucket === 'plugins') {
    retry[bucket] = true;
    return;
  }
  if (!bucket) return;
  let payload: unknown;
  try {
    payload = kind.parse(data);
  } catch {
    // Data that did not parse would fail the retry the same way: it is reported, not retried.
    return;
  }
  (retry[bucket] as unknown[]).push(payload);
}
