import type { Job } from 'bullmq';
import type { AirlockError } from '../core/errors.js';
import type { AddonChartGroup } from '../model/addon-chart-payload.js';
import { JOB_KINDS, type JobContext, type JobKind } from '../jobs/kinds.js';
import { chartSource, type ChartResult } from '../jobs/mirror-chart.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../model/file-payloads.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { JOB } from '../model/job-names.js';
import type { ReportItem } from '../model/report.js';
import { chartImagePayloads } from '../plan/image-payloads.js';
import { botkubeItems, chartItems, failureItems, fileItem, imageItems } from '../report/run-report.js';
import { runImageJobs } from '../runner/run-image-jobs.js';
import type { RepositoryClient } from '../spaceone/repository-client.js';
import { jobKind, type JobName, type QueueJobKind } from './job-kinds.js';
import type { PublishAddonsPayload, RegisterPluginPayload, SyncRunPayload } from './step-payloads.js';
import { publishAddonsStep } from './steps/publish-addons.js';
import { syncRunStep } from './steps/sync-run.js';
import type { ChildResult, FlowContext } from './sync-flow.js';

/**
 * How the queue worker runs each job kind: the table of src/queue/job-kinds.ts with, per kind, a
 * run that takes the parsed payload and returns the job's value and the report items it settled.
 * The one lookup the worker makes by job name.
 */

/** What the worker hands a job: the processors' context and the flow steps'. */
export interface WorkerJobContext {
  jobs: JobContext;
  flow: FlowContext;
  /** The worker's Repository service client, opened on first use. */
  repositoryClient: () => Promise<RepositoryClient>;
}

/** A job's run: its value (what BullMQ keeps), the items it settled, and a failure to throw once they are counted. */
export interface JobRun {
  value: unknown;
  items: ReportItem[];
  failure?: AirlockError;
}

export interface WorkerJobKind<P = unknown> extends QueueJobKind<P> {
  run(job: Job, payload: P, ctx: WorkerJobContext): Promise<JobRun>;
}

/** Inside a flow a child returns its report items to its parent with its value. */
function asChild(job: Job, value: unknown, items: ReportItem[], retry?: ChildResult['retry']): unknown {
  return job.parentKey ? ({ items, value, ...(retry ? { retry } : {}) } satisfies ChildResult) : value;
}

/** The images a chart needs, copied right after it (a flow cannot add siblings to its parent). */
async function chartImagesInline(
  results: ChartResult[],
  ctx: JobContext,
): Promise<{ items: ReportItem[]; failedPayloads: MirrorImagePayload[] }> {
  const { payloads, failures } = chartImagePayloads(results, ctx.config, new Set());
  const outcomes = await runImageJobs(
    payloads,
    { engine: ctx.engine, logger: ctx.logger },
    { concurrency: ctx.config.concurrency.images },
  );
  return {
    items: [...failureItems(failures, 'image'), ...imageItems(outcomes)],
    failedPayloads: outcomes.flatMap((o) => (o.error ? [o.payload] : [])),
  };
}

/** Each job name's parsed payload. */
interface Payloads {
  [JOB.mirrorImage]: MirrorImagePayload;
  [JOB.mirrorChart]: MirrorChartPayload;
  [JOB.mirrorFile]: MirrorFilePayload;
  [JOB.mirrorBotkube]: MirrorBotkubePayload;
  [JOB.mirrorAddonChart]: AddonChartGroup;
  [JOB.sync]: SyncRunPayload;
  [JOB.publishAddons]: PublishAddonsPayload;
  [JOB.registerPlugin]: RegisterPluginPayload;
}

/** A run for every job name (one missing does not compile). */
type Runs = { [K in JobName]: WorkerJobKind<Payloads[K]>['run'] };

const RUNS: Runs = {
  [JOB.mirrorImage]: async (job, p, ctx) => {
    const value = await runWithBytes(job, JOB_KINDS[JOB.mirrorImage], p, ctx.jobs);
    const items = imageItems([{ payload: p, result: value, durationMs: 0 }]);
    return { value: asChild(job, value, items), items };
  },
  [JOB.mirrorFile]: async (job, p, ctx) => {
    const value = await runWithBytes(job, JOB_KINDS[JOB.mirrorFile], p, ctx.jobs);
    const items = [fileItem('file', value.source, value.url, value.status, value.bytes, value.sha256)];
    return { value: asChild(job, value, items), items };
  },
  [JOB.mirrorBotkube]: async (job, p, ctx) => {
    const r = await runWithBytes(job, JOB_KINDS[JOB.mirrorBotkube], p, ctx.jobs);
    // Files that failed fail the job (and its retries), after the rest was copied.
    const items = botkubeItems(r);
    return {
      value: asChild(job, { ...r, failures: [] }, items),
      items,
      ...(r.failures[0] ? { failure: r.failures[0] } : {}),
    };
  },
  [JOB.mirrorAddonChart]: async (job, p, ctx) => {
    const r = await runWithBytes(job, JOB_KINDS[JOB.mirrorAddonChart], p, ctx.jobs);
    const images = await chartImagesInline(
      r.outcomes.flatMap((o) => (o.result ? [o.result] : [])),
      ctx.jobs,
    );
    const items = [...chartItems(r.outcomes), ...images.items];
    return { value: asChild(job, { key: r.key, failed: r.failed }, items), items };
  },
  [JOB.mirrorChart]: async (job, p, ctx) => {
    const value = await runWithBytes(job, JOB_KINDS[JOB.mirrorChart], p, ctx.jobs);
    const items = chartItems([{ source: chartSource(p), target: value.target, result: value, durationMs: 0 }]);
    if (!job.parentKey) return { value, items };
    const images = await chartImagesInline([value], ctx.jobs);
    return {
      value: asChild(
        job,
        value,
        [...items, ...images.items],
        images.failedPayloads.length ? { images: images.failedPayloads } : undefined,
      ),
      items: [...items, ...images.items],
    };
  },
  // The worker checked the data against the step's payload: the step reads it typed.
  [JOB.sync]: (job, _p, ctx) => syncRunStep(job as Job<SyncRunPayload>, ctx.flow),
  [JOB.publishAddons]: (job, _p, ctx) => publishAddonsStep(job as Job<PublishAddonsPayload>, ctx.flow),
  [JOB.registerPlugin]: async (job, _p, ctx) => {
    // Loaded on the first registration: the gRPC client stays out of a worker that registers nothing.
    const { registerPluginStep } = await import('./steps/register-plugin.js');
    return registerPluginStep(job as Job<RegisterPluginPayload>, {
      ...ctx.flow,
      repositoryClient: ctx.repositoryClient,
    });
  },
};

/** The kind of a job name with how the worker runs it; undefined for a name this version does not know. */
export function workerKind(name: string): WorkerJobKind | undefined {
  const kind = jobKind(name);
  const run = Object.hasOwn(RUNS, name) ? (RUNS[name as JobName] as WorkerJobKind['run']) : undefined;
  return kind && run ? { ...kind, run } : undefined;
}

/** A plain kind's run with the bytes it moves reported as the job's progress. */
function runWithBytes<P, R>(job: Job, kind: JobKind<P, R>, payload: P, ctx: JobContext): Promise<R> {
  const moved = byteProgress(job);
  return kind
    .run(payload, { ...ctx, progress: { planned: () => undefined, moved: moved.add, skipped: () => undefined } })
    .finally(moved.stop);
}

/**
 * The bytes a copy has written so far, as the job's progress (`{bytes}`), at most once a second:
 * what `sync --queue` shows while a large image is still on its way. A progress that cannot be
 * written (Redis away) is skipped; the job does not wait for it.
 */
function byteProgress(job: Job): { add: (n: number) => void; stop: () => void } {
  let bytes = 0;
  let sent = 0;
  const timer = setInterval(() => {
    if (bytes === sent) return;
    sent = bytes;
    void job.updateProgress({ bytes }).catch(() => undefined);
  }, 1000);
  timer.unref();
  return {
    add: (n) => {
      bytes += n;
    },
    stop: () => clearInterval(timer),
  };
}
