import { createHash } from 'node:crypto';
import { WaitingChildrenError, type FlowProducer, type Job, type Queue } from 'bullmq';
import type { AirlockConfig } from '../config/schema.js';
import type { JobEngine } from '../jobs/job-engine.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../model/file-payloads.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { addonItems, buildReport, failureItems, gitMirrorItems } from '../report/run-report.js';
import type { ReportItem, RunReport } from '../model/report.js';
import type { AddonChartGroup } from '../model/addon-chart-payload.js';
import type { SyncKind } from '../config/scope.js';
import type { CacheDirs } from '../config/cache-dirs.js';
import { planConfigCharts, planConfigFiles, planConfigImages, planConfigPlugins } from '../plan/config-plans.js';
import { runScope } from '../plan/retry-plan.js';
import { emptyRetryPlan, type RetryPlan } from '../model/retry-plan.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { JOB } from '../model/job-names.js';
import { addonNeedOf, failedChildItems } from './job-kinds.js';
import { failedChildKey } from './failure-text.js';
import type { AddonFlowPlan } from './step-payloads.js';

/**
 * A sync run as a BullMQ flow: the `sync` job plans and adds one child job per artifact, waits
 * for them (`moveToWaitingChildren`), then builds the run report from their results. Children
 * are added with `ignoreDependencyOnFailure`, so one failing artifact never blocks the run; the
 * addon registries are a `publish-addons` child that is itself a parent of the charts, images
 * and files its addons point at, and publishes only once those have settled.
 */

export interface FlowChild {
  name: string;
  data: unknown;
  /** Stable within the run, so a re-processed plan step never adds a child twice. */
  key: string;
}

/** What a child job returns inside a flow: its value and the report items it settled. */
export interface ChildResult {
  items: ReportItem[];
  /** Payloads to run again when something in the child failed. */
  retry?: Partial<RetryPlan>;
  value?: unknown;
}

export const CHILD_OPTIONS = {
  attempts: 4,
  backoff: { type: 'exponential' as const, delay: 2000 },
  ignoreDependencyOnFailure: true,
  removeOnComplete: { count: 5000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
};

export function keyOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 20);
}

export interface PlannedRun {
  children: FlowChild[];
  /** Items for what failed while planning (a tag list, an index, a config error). */
  planned: ReportItem[];
  retryEntries: { imageEntries: string[]; chartEntries: string[] };
}

/** Plans a run's artifacts without copying anything: the same plans the in-process run makes. */
export async function planRunChildren(options: {
  config: AirlockConfig;
  kinds: SyncKind[];
  engine: JobEngine;
  cacheDirs: CacheDirs;
  retry?: RetryPlan;
}): Promise<PlannedRun> {
  const again = options.retry;
  const { config, kinds } = runScope(options.config, options.kinds, again);
  const children: FlowChild[] = [];
  const planned: ReportItem[] = [];
  const retryEntries = { imageEntries: [] as string[], chartEntries: [] as string[] };
  const fail = (failures: PlanFailure[], kind: 'image' | 'chart' | 'file' | 'addon' | 'plugin') =>
    planned.push(...failureItems(failures, kind));
  const images: MirrorImagePayload[] = [...(again?.images ?? [])];
  const charts: MirrorChartPayload[] = [...(again?.charts ?? [])];
  const files: MirrorFilePayload[] = [...(again?.files ?? [])];
  const botkube: MirrorBotkubePayload[] = [...(again?.botkube ?? [])];

  if (kinds.includes('charts') && config.charts.length > 0) {
    const plan = await planConfigCharts(
      config,
      options.engine,
      await cachedRepos(options.engine, options.cacheDirs, config),
    );
    fail(plan.failures, 'chart');
    retryEntries.chartEntries.push(...plan.retryEntries);
    charts.push(...plan.payloads);
  }
  if (kinds.includes('images')) {
    const plan = await planConfigImages(config, options.engine);
    fail(plan.failures, 'image');
    retryEntries.imageEntries.push(...plan.retryEntries);
    images.push(...plan.payloads);
  }
  if (kinds.includes('files')) {
    const plan = planConfigFiles(config);
    fail(plan.failures, 'file');
    files.push(...plan.files);
    botkube.push(...plan.botkube);
  }
  // The child narrows its own config to the catalogs of this run's scope (addons:CATALOG runs one).
  if (kinds.includes('addons') && config.addons)
    children.push({
      name: JOB.publishAddons,
      data: { step: 'plan', catalogs: config.addons.catalogs.map((c) => c.name) },
      key: 'addons',
    });
  if (kinds.includes('plugins')) {
    // One registration job per plugin; its image copies become its own children.
    const plan = await planConfigPlugins(config);
    fail(plan.failures, 'plugin');
    for (const m of plan.manifests)
      children.push({ name: JOB.registerPlugin, data: { manifest: m }, key: keyOf('plugin', m.request.plugin_id) });
  }

  const seen = new Set<string>();
  const add = (name: string, data: unknown, key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    children.push({ name, data, key });
  };
  for (const c of charts) add(JOB.mirrorChart, c, keyOf('chart', c.source, c.chart, c.version, c.target));
  for (const i of images) add(JOB.mirrorImage, i, keyOf('image', i.source, i.target));
  for (const f of files) add(JOB.mirrorFile, f, keyOf('file', f.url));
  for (const b of botkube) add(JOB.mirrorBotkube, b, keyOf('botkube', b.url));
  return { children, planned, retryEntries };
}

/**
 * Adds the children under a running parent job with a FlowProducer, in one Redis transaction
 * (all of them or none); ids derive from the parent's, so a repeated add is a no-op.
 */
export async function addChildren(
  flow: FlowProducer,
  parent: Job,
  children: FlowChild[],
  options: { failParentOnFailure?: boolean; skipExistingIn?: Queue } = {},
): Promise<void> {
  if (options.skipExistingIn) {
    // Recovering a step cut off while adding: adding a child that already failed again would put it
    // back among the parent's dependencies, and the parent would wait for it forever.
    const queue = options.skipExistingIn;
    const exists = await Promise.all(
      children.map(async (c) => (await queue.getJob(`${parent.id}-${c.key}`)) !== undefined),
    );
    children = children.filter((_c, i) => !exists[i]);
  }
  if (children.length === 0) return;
  // A child either lets the parent go on without it (a run's artifacts) or fails it (a plugin's image).
  const dependency = options.failParentOnFailure ? { failParentOnFailure: true, ignoreDependencyOnFailure: false } : {};
  await flow.addBulk(
    children.map((c) => ({
      name: c.name,
      queueName: parent.queueName,
      data: c.data,
      opts: {
        ...CHILD_OPTIONS,
        ...dependency,
        jobId: `${parent.id}-${c.key}`,
        parent: { id: parent.id!, queue: parent.queueQualifiedName },
      },
    })),
  );
}

/** The children of a flow parent as they settled: results of those that completed, jobs of those that failed for good. */
export async function settledChildren(
  queue: Queue,
  parent: Job,
): Promise<{
  results: ChildResult[];
  failed: Array<{ name: string; data: unknown; reason: string; byChild?: boolean }>;
}> {
  const values = (await parent.getChildrenValues()) as Record<string, ChildResult | null>;
  const results = Object.values(values).filter((v): v is ChildResult => !!v && Array.isArray(v.items));
  const ignored = await parent.getIgnoredChildrenFailures();
  const failed: Array<{ name: string; data: unknown; reason: string; byChild?: boolean }> = [];
  // Keys are `<prefix>:<queue>:<id>`; ids may hold colons themselves (a scheduler's `repeat:NAME:MILLIS-…`).
  const idOf = (key: string) =>
    key.startsWith(`${queue.qualifiedName}:`)
      ? key.slice(queue.qualifiedName.length + 1)
      : key.slice(key.lastIndexOf(':') + 1);
  for (const [key, reason] of Object.entries(ignored)) {
    const job = await queue.getJob(idOf(key));
    // A parent failed by its child (a plugin by its image copy): the child's own reason says why.
    const childKey = failedChildKey(reason);
    const child = childKey ? await queue.getJob(idOf(childKey)) : undefined;
    failed.push({
      name: job?.name ?? 'unknown',
      data: job?.data ?? {},
      reason: child?.failedReason ? child.failedReason : reason,
      ...(child ? { byChild: true } : {}),
    });
  }
  return { results, failed };
}

const OUTCOME_RANK = { copied: 0, unchanged: 1, planned: 2, failed: 3 } as const;

/**
 * One item per artifact: an image two charts need is copied by one child and found unchanged by
 * the other (the artifact lock serialises them); the run reports it once, with its best outcome.
 */
export function onePerArtifact(items: ReportItem[]): ReportItem[] {
  const best = new Map<string, ReportItem>();
  const order: string[] = [];
  for (const i of items) {
    const key = `${i.kind} ${i.source} ${i.target}`;
    const seen = best.get(key);
    if (!seen) order.push(key);
    if (!seen || OUTCOME_RANK[i.status] < OUTCOME_RANK[seen.status]) best.set(key, i);
  }
  return order.map((k) => best.get(k)!);
}

/** The run report of a finished flow: planning failures, then every child's items. */
export function flowReport(
  planned: ReportItem[],
  settled: Awaited<ReturnType<typeof settledChildren>>,
  startedAt: Date,
  retryEntries: PlannedRun['retryEntries'],
): { report: RunReport; retry: RetryPlan } {
  const retry = emptyRetryPlan();
  retry.imageEntries.push(...retryEntries.imageEntries);
  retry.chartEntries.push(...retryEntries.chartEntries);
  const items = [...planned];
  for (const r of settled.results) {
    items.push(...r.items);
    for (const [k, v] of Object.entries(r.retry ?? {})) {
      if (k === 'addons') retry.addons ||= Boolean(v);
      else if (Array.isArray(v)) (retry[k as 'images'] as unknown[]).push(...v);
    }
  }
  for (const f of settled.failed) items.push(...failedChildItems(f, retry));
  return { report: buildReport(onePerArtifact(items), startedAt, new Date()), retry };
}

/** Children of the publish-addons job: the charts (with their alternative sources), images and files its addons need. */
export function addonChildren(
  artifacts: { images: MirrorImagePayload[]; charts: AddonChartGroup[]; urls: string[] },
  fileTarget: AirlockConfig['targets']['files'],
): FlowChild[] {
  const children: FlowChild[] = [];
  for (const g of artifacts.charts)
    children.push({ name: JOB.mirrorAddonChart, data: g, key: keyOf('addon-chart', g.key) });
  for (const i of artifacts.images)
    children.push({ name: JOB.mirrorImage, data: i, key: keyOf('image', i.source, i.target) });
  if (fileTarget)
    for (const u of artifacts.urls)
      children.push({ name: JOB.mirrorFile, data: { url: u, target: fileTarget }, key: keyOf('file', u) });
  return children;
}

/** The addons section narrowed to some catalogs (a scope, or the ones read at plan time), git ones pinned. */
export function withCatalogs(config: AirlockConfig, catalogs: Array<{ name: string; commit?: string }>): AirlockConfig {
  const addons = config.addons!;
  const wanted = new Map(catalogs.map((c) => [c.name, c.commit]));
  return {
    ...config,
    addons: {
      ...addons,
      catalogs: addons.catalogs
        .filter((c) => wanted.has(c.name))
        .map((c) => (wanted.get(c.name) ? { ...c, ref: wanted.get(c.name) } : c)),
    },
  };
}

/** A chart repository reader whose index validators outlive the step (conditional GETs next time). */
async function cachedRepos(engine: JobEngine, cacheDirs: CacheDirs, config: AirlockConfig) {
  const { createHelmRepoReader, fileIndexCache } = await import('../sources/helm-repo.js');
  return createHelmRepoReader(engine, {
    cache: fileIndexCache(cacheDirs.chartIndexes),
    maxIndexBytes: config.limits.chartIndexBytes,
  });
}

/** The publish-addons plan step: read the catalogs of the run's scope, and the children their addons need. */
export async function planAddonChildren(
  config: AirlockConfig,
  engine: JobEngine,
  cacheDirs: CacheDirs,
): Promise<{ children: FlowChild[]; plan: AddonFlowPlan }> {
  const [{ planAddonArtifacts }, { payloadImage }] = await Promise.all([
    import('../plan/addon-plan.js'),
    import('../addons/artifacts.js'),
  ]);
  const artifacts = await planAddonArtifacts(config, engine, cacheDirs, {
    repos: await cachedRepos(engine, cacheDirs, config),
  });
  const plan: AddonFlowPlan = {
    catalogs: artifacts.catalogs
      .filter((c) => !c.error)
      .map((c) => ({ name: c.config.name, ...(c.catalog?.commit ? { commit: c.catalog.commit } : {}) })),
    failures: failureItems(artifacts.failures, 'addon'),
    images: artifacts.images.map((i) => payloadImage(i.source)),
    charts: artifacts.charts.map((g) => g.key),
    urls: config.targets.files ? artifacts.urls : [],
  };
  return { children: addonChildren(artifacts, config.targets.files), plan };
}

/** The publish-addons finish step: what arrived decides which addons are rewritten and published. */
export async function finishAddons(
  config: AirlockConfig,
  ctx: { engine: JobEngine; logger: import('../core/log.js').Logger; cacheDirs: CacheDirs },
  plan: AddonFlowPlan,
  settled: Awaited<ReturnType<typeof settledChildren>>,
): Promise<{ result: ChildResult; own: ReportItem[] }> {
  const [{ planAddonArtifacts }, { publishAddons }, { payloadImage }] = await Promise.all([
    import('../plan/addon-plan.js'),
    import('../jobs/publish-addons.js'),
    import('../addons/artifacts.js'),
  ]);
  // Only the catalogs read at plan time, at the same commits, even if upstream moved meanwhile.
  const same = withCatalogs(config, plan.catalogs);
  const artifacts = await planAddonArtifacts(same, ctx.engine, ctx.cacheDirs, {
    repos: await cachedRepos(ctx.engine, ctx.cacheDirs, same),
  });
  const status = {
    failedImages: new Set<string>(),
    failedCharts: new Set<string>(),
    files: new Map<string, string>(),
    failedUrls: new Set<string>(),
    filesUnmirrored: !config.targets.files,
  };
  // Whatever the catalogs name now but the children were not asked to mirror did not arrive.
  const planned = { images: new Set(plan.images), charts: new Set(plan.charts), urls: new Set(plan.urls) };
  for (const i of artifacts.images) {
    const name = payloadImage(i.source);
    if (!planned.images.has(name)) status.failedImages.add(name);
  }
  for (const g of artifacts.charts) if (!planned.charts.has(g.key)) status.failedCharts.add(g.key);
  if (config.targets.files) for (const u of artifacts.urls) if (!planned.urls.has(u)) status.failedUrls.add(u);
  const retry = emptyRetryPlan();
  const items: ReportItem[] = [];
  for (const r of settled.results) {
    items.push(...r.items);
    const v = r.value as { key?: string; failed?: boolean; source?: string; url?: string } | undefined;
    if (v?.key && v.failed) status.failedCharts.add(v.key);
    if (v?.source && v.url) status.files.set(v.source, v.url);
  }
  for (const f of settled.failed) {
    items.push(...failedChildItems(f, retry));
    const need = addonNeedOf(f.name, f.data);
    if (need)
      ({ image: status.failedImages, chart: status.failedCharts, url: status.failedUrls })[need.kind].add(need.name);
  }
  const published = await publishAddons(artifacts, status, {
    config: same,
    engine: ctx.engine,
    logger: ctx.logger,
    cacheDirs: ctx.cacheDirs,
  });
  // The re-plan at the same commits finds the plan step's addon failures again: each counts once.
  const own = onePerArtifact([
    ...plan.failures,
    ...failureItems(artifacts.failures, 'addon'),
    ...addonItems(published.addons),
    ...gitMirrorItems(published.git),
  ]);
  // Anything that failed in the addon scope (a chart's image included) makes a retry run the scope again.
  const failed = [...items, ...own].some((i) => i.status === 'failed');
  return { result: { items: [...items, ...own], ...(failed ? { retry: { addons: true } } : {}) }, own };
}

/** What a flow step needs besides its job: the worker's config, engine and queue handles. */
export interface FlowContext {
  config: AirlockConfig;
  engine: JobEngine;
  logger: import('../core/log.js').Logger;
  cacheDirs: CacheDirs;
  queue: Queue;
  flow: FlowProducer;
  /** The job's lock token (the processor's second argument). */
  token?: string;
  /** The digest of the worker's config (src/queue/worker-config.ts): a run queued for another config is refused. */
  configDigest?: string;
}

/** A flow step's result: the job's return value, and the items it counts in the metrics itself. */
export interface StepResult {
  value: unknown;
  items: ReportItem[];
}

/**
 * Runs a parent's plan step once: marked `adding` first, so a worker that dies while adding the
 * children leaves a mark the next attempt sees (and then adds only the missing ones).
 */
export async function planStep<D extends { step?: string }>(
  job: Job<D>,
  add: (recovering: boolean) => Promise<Partial<D>>,
  first: Partial<D> = {},
): Promise<void> {
  const data = job.data;
  if (data.step === 'wait') return;
  const recovering = data.step === 'adding';
  if (!recovering) await job.updateData({ ...data, ...first, step: 'adding' });
  const extra = await add(recovering);
  await job.updateData({ ...job.data, ...extra, step: 'wait' });
}

/** Parks the parent until its children settled (no worker slot held); returns once they have. */
export async function waitForChildren(job: Job, token: string | undefined): Promise<void> {
  if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
}
