import type * as z from 'zod';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { JsonCache } from '../core/fs-atomic.js';
import type { AirlockConfig } from '../config/schema.js';
import { registryEndpointHost } from '../http/registry-host.js';
import type { ChartImage } from '../charts/chart-images.js';
import { mirrorChartPayload, type MirrorChartPayload } from '../model/chart-payload.js';
import {
  mirrorBotkubePayload,
  mirrorFilePayload,
  type MirrorBotkubePayload,
  type MirrorFilePayload,
} from '../model/file-payloads.js';
import { parseMirrorImagePayload, type MirrorImagePayload } from '../model/image-payload.js';
import { JOB } from '../model/job-names.js';
import type { CopyProgress } from '../model/progress.js';
import type { RetryPlan } from '../model/retry-plan.js';
import { parseImageRef } from '../oci/reference.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import { addonChartGroup, type AddonChartGroup } from '../model/addon-chart-payload.js';
import { mirrorAddonChartJob } from './mirror-addon-chart.js';
import type { BotkubeMirrorResult } from '../botkube/mirror-plugin-index.js';
import type { MirroredFile } from '../files/static-mirror.js';
import type { CopyResult } from '../oci/copy-image.js';
import { chartSource, mirrorChart, type ChartResult } from './mirror-chart.js';
import { mirrorBotkubeJob, mirrorFileJob } from './mirror-files.js';
import { mirrorImage } from './mirror-image.js';
import type { JobEngine } from './job-engine.js';

/**
 * One table of the plain job kinds: per job name, how its payload is parsed, which processor runs
 * it, what it is about (for errors and logs), which upstream it reads (for the rate budget) and
 * where a failed one goes in a retry plan. The queue composes it with its flow steps and report
 * mapping (src/queue/job-kinds.ts): the worker's dispatch, a failed job's label and report items,
 * the rate budget's upstream and the retry plan all read one entry instead of switching on names.
 */

/** The part of a retry plan a failed job's payload goes to (or, for a scope, the flag it sets). */
export type RetryBucket = Exclude<keyof RetryPlan, 'imageEntries' | 'chartEntries'>;

/** What the processors need from whoever runs them: each takes the part its own context names. */
export interface JobContext {
  engine: JobEngine;
  logger: Logger;
  config: AirlockConfig;
  /** The job's bytes as they move (images, charts, files). */
  progress?: CopyProgress;
  /** The chart repository reader; called only by the chart kinds. */
  repos(): HelmRepoReader;
  /** Images found in charts, kept between jobs. */
  imageCache?: JsonCache<ChartImage[]>;
}

/** A job's data as it was queued, before (or without) parsing: what a label can still be read from. */
type Loose = Record<string, unknown>;

export interface JobKind<P = unknown, R = unknown> {
  name: string;
  /** The job's data as the queue hands it over (any JSON) to its payload; throws AirlockError E_USAGE naming what is wrong. */
  parse(data: unknown): P;
  run(payload: P, ctx: JobContext): Promise<R>;
  /** What the job is about, for its error and its log lines; read from the raw data, so a payload that did not parse is named too. */
  artifact(data: Loose): string;
  /** The upstream host it reads from, as the HTTP layer keys its budget; undefined when unknown. */
  upstream?(data: Loose): string | undefined;
  /** Where its payload goes when it failed for good and the run is retried. */
  retry?: RetryBucket;
}

function invalid(kind: string, why: string): AirlockError {
  return new AirlockError('E_USAGE', `${kind} payload invalid: ${why}`);
}

/** A parser from a payload's schema (the schema library is only loaded by a process that runs these jobs). */
function schemaParser<T>(schema: z.ZodType<T>, kind: string): (data: unknown) => T {
  return (data) => {
    const r = schema.safeParse(data);
    if (r.success) return r.data;
    // The field first (`alternatives[0].version: …`): zod's own message does not say which one.
    const issue = r.error.issues[0];
    const at = (issue?.path ?? [])
      .map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`))
      .join('');
    throw invalid(kind, `${at ? `${at}: ` : ''}${issue?.message ?? 'unknown'}`);
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The host of a URL, or undefined: an unparsable source fails in the job itself, with its own message. */
function urlHost(url: unknown, oci = false): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    return oci && u.protocol === 'oci:' ? registryEndpointHost(u.host) : u.host;
  } catch {
    return undefined;
  }
}

/** The context's byte progress, for the processors that move bytes (all of them). */
const bytesOf = (ctx: JobContext): { progress?: CopyProgress } => (ctx.progress ? { progress: ctx.progress } : {});

const mirrorImageKind: JobKind<MirrorImagePayload, CopyResult> = {
  name: JOB.mirrorImage,
  parse: parseMirrorImagePayload,
  run: (p, ctx) => mirrorImage(p, { engine: ctx.engine, logger: ctx.logger, ...bytesOf(ctx) }),
  artifact: (d) => str(d.source) ?? JOB.mirrorImage,
  upstream: (d) => {
    if (typeof d.source !== 'string') return undefined;
    try {
      const ref = parseImageRef(d.source);
      return ref.transport === 'docker' ? registryEndpointHost(ref.registry) : undefined;
    } catch {
      return undefined;
    }
  },
  retry: 'images',
};

const mirrorChartKind: JobKind<MirrorChartPayload, ChartResult> = {
  name: JOB.mirrorChart,
  parse: schemaParser(mirrorChartPayload, JOB.mirrorChart),
  run: (p, ctx) =>
    mirrorChart(p, {
      engine: ctx.engine,
      logger: ctx.logger,
      repos: ctx.repos(),
      ...(ctx.imageCache ? { imageCache: ctx.imageCache } : {}),
      ...bytesOf(ctx),
    }),
  artifact: (d) => chartSource({ source: str(d.source), chart: str(d.chart), version: str(d.version) }),
  upstream: (d) => urlHost(d.source, true),
  retry: 'charts',
};

const mirrorFileKind: JobKind<MirrorFilePayload, MirroredFile> = {
  name: JOB.mirrorFile,
  parse: schemaParser(mirrorFilePayload, JOB.mirrorFile),
  run: (p, ctx) => mirrorFileJob(p, { engine: ctx.engine, logger: ctx.logger, ...bytesOf(ctx) }),
  artifact: (d) => str(d.url) ?? JOB.mirrorFile,
  upstream: (d) => urlHost(d.url),
  retry: 'files',
};

const mirrorBotkubeKind: JobKind<MirrorBotkubePayload, BotkubeMirrorResult> = {
  name: JOB.mirrorBotkube,
  parse: schemaParser(mirrorBotkubePayload, JOB.mirrorBotkube),
  run: (p, ctx) => mirrorBotkubeJob(p, { engine: ctx.engine, logger: ctx.logger, ...bytesOf(ctx) }),
  artifact: (d) => str(d.url) ?? JOB.mirrorBotkube,
  retry: 'botkube',
};

const mirrorAddonChartKind: JobKind<AddonChartGroup, AddonChartResult> = {
  name: JOB.mirrorAddonChart,
  parse: schemaParser(addonChartGroup, JOB.mirrorAddonChart),
  run: (p, ctx) =>
    mirrorAddonChartJob(p, {
      config: ctx.config,
      engine: ctx.engine,
      logger: ctx.logger,
      repos: ctx.repos(),
      ...(ctx.imageCache ? { imageCache: ctx.imageCache } : {}),
      ...bytesOf(ctx),
    }),
  // Named as before the table: a chart group has no one source (its alternatives are in the report items).
  artifact: () => JOB.mirrorAddonChart,
  // Failed addon charts are retried with their addon scope (the publish-addons job asks for it).
};

/** The plain job kinds by job name. */
export const JOB_KINDS = {
  [JOB.mirrorImage]: mirrorImageKind,
  [JOB.mirrorChart]: mirrorChartKind,
  [JOB.mirrorFile]: mirrorFileKind,
  [JOB.mirrorBotkube]: mirrorBotkubeKind,
  [JOB.mirrorAddonChart]: mirrorAddonChartKind,
} as const;

export type PlainJobName = keyof typeof JOB_KINDS;

/** What the addon chart processor returns. */
type AddonChartResult = Awaited<ReturnType<typeof mirrorAddonChartJob>>;
