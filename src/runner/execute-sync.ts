import pLimit from 'p-limit';
import type { AirlockConfig } from '../config/schema.js';
import type { CacheDirs } from '../config/cache-dirs.js';
import type { JobEngine } from '../jobs/job-engine.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import type { Logger } from '../core/log.js';
import {
  addonItems,
  buildReport,
  chartItems,
  failureItems,
  fileItem,
  gitMirrorItems,
  imageItems,
  pluginItems,
  botkubeItems,
} from '../report/run-report.js';
import type { ChartOutcome } from '../jobs/mirror-chart.js';
import type { ReportItem, RunReport } from '../model/report.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../model/file-payloads.js';
import { planConfigCharts, planConfigFiles, planConfigImages, planConfigPlugins } from '../plan/config-plans.js';
import { runImageJobs } from './run-image-jobs.js';
import type { ImageOutcome } from '../jobs/mirror-image.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { chartImagePayloads } from '../plan/image-payloads.js';
import type { AddonArtifacts, AddonMirrorStatus } from '../addons/artifacts.js';
import type { ChartPackage, ChartTarget } from '../targets/chart-target.js';
import type { ArtifactProgress, RunProgress } from '../model/progress.js';

import type { SyncKind } from '../config/scope.js';

export interface ExecuteSyncOptions {
  config: AirlockConfig;
  /** What the config sections contribute; nothing when only direct payloads are given. */
  kinds: SyncKind[];
  engine: JobEngine;
  logger: Logger;
  /** Where chart index validators and chart image lists are cached between runs. */
  cacheDirs: CacheDirs;
  /** Image copies given directly (image copy, --from-file). */
  images?: MirrorImagePayload[];
  failures?: PlanFailure[];
  dryRun?: boolean;
  /** Told of the charts, files and images as they are queued, start, move bytes and settle. */
  progress?: RunProgress;
}

export interface SyncResult {
  report: RunReport;
  errors: AirlockError[];
}

/**
 * One sync run over the config, in the calling process: charts first (they name more images),
 * then images, then files and plugin repositories. One failing artifact never stops the others.
 * The one-shot CLI runs this; the queue runs the same plans as a flow of jobs (queue/sync-flow.ts).
 */
export async function executeSync(options: ExecuteSyncOptions): Promise<SyncResult> {
  const { config, kinds, engine, logger } = options;
  const started = new Date();
  const items: ReportItem[] = [];
  const errors: AirlockError[] = [];
  const fail = (failures: PlanFailure[], kind: 'image' | 'chart' | 'file' | 'addon' | 'plugin') => {
    items.push(...failureItems(failures, kind));
    errors.push(...failures.map((f) => f.error));
  };
  fail(options.failures ?? [], 'image');
  const imagePayloads = [...(options.images ?? [])];
  // Chart, file, addon and plan code is loaded only when a run has such work: a one-shot image
  // copy starts without compiling it. One reader and per-run caches serve every chart.
  let chartKit: ReturnType<typeof loadChartKit> | undefined;
  const loadChartKit = async () => {
    const [{ mirrorChart, chartImageCache, chartSource }, { createHelmRepoReader, fileIndexCache }] = await Promise.all(
      [import('../jobs/mirror-chart.js'), import('../sources/helm-repo.js')],
    );
    return {
      mirrorChart,
      chartSource,
      repos: createHelmRepoReader(engine, {
        cache: fileIndexCache(options.cacheDirs.chartIndexes),
        maxIndexBytes: config.limits.chartIndexBytes,
      }),
      packages: new Map<string, Promise<ChartPackage>>(),
      targets: new Map<string, ChartTarget>(),
      imageCache: chartImageCache(options.cacheDirs.chartImages),
    };
  };
  const chartKitOnce = () => (chartKit ??= loadChartKit());
  const filePayloads: MirrorFilePayload[] = [];
  // Addons first: they name charts, images and files for the mirrors below.
  let addons: AddonArtifacts | undefined;
  const addonStatus: AddonMirrorStatus = {
    failedImages: new Set(),
    failedCharts: new Set(),
    files: new Map(),
    failedUrls: new Set(),
    filesUnmirrored: !config.targets.files,
  };
  if (kinds.includes('addons') && config.addons) {
    const [{ mirrorAddonCharts, addonChartName }, { planAddonArtifacts }, { payloadImage }] = await Promise.all([
      import('../jobs/mirror-addon-chart.js'),
      import('../plan/addon-plan.js'),
      import('../addons/artifacts.js'),
    ]);
    const { repos, packages, targets, imageCache } = await chartKitOnce();
    addons = await planAddonArtifacts(config, engine, options.cacheDirs, { dryRun: options.dryRun, repos });
    fail(addons.failures, 'addon');
    const { progress } = options;
    progress?.queued(addons.charts.map(addonChartName));
    const charts = await mirrorAddonCharts(addons.charts, {
      config,
      engine,
      logger,
      repos,
      packages,
      targets,
      imageCache,
      dryRun: options.dryRun,
      // Each addon chart's line as it settles (one per target; the display shows the first, the report all).
      ...(progress
        ? {
            track: (name: string) => {
              const watched = progress.start(name);
              return {
                progress: watched,
                settled: (outcomes: ChartOutcome[]) => {
                  const [first] = chartItems(outcomes);
                  if (first) watched.done(first);
                },
              };
            },
          }
        : {}),
    });
    items.push(...chartItems(charts.outcomes));
    errors.push(...charts.errors);
    addonStatus.failedCharts = charts.failed;
    const known = new Set(addons.images.map((p) => payloadImage(p.source)));
    const fromCharts = chartImagePayloads(
      charts.outcomes.flatMap((o) => (o.result ? [o.result] : [])),
      config,
      known,
    );
    fail(fromCharts.failures, 'image');
    imagePayloads.push(
      ...addons.images,
      ...fromCharts.payloads.map((p) => ({ ...p, ...(options.dryRun ? { dryRun: true } : {}) })),
    );
    // The files addons fetch at run time go with the files: section below; their mirrored URLs feed the rewrite.
    const fileTarget = config.targets.files;
    if (fileTarget) filePayloads.push(...addons.urls.map((url) => ({ url, target: fileTarget })));
  }

  if (kinds.includes('charts') && config.charts.length > 0) {
    const { mirrorChart, chartSource, repos, packages, targets, imageCache } = await chartKitOnce();
    const plan = await planConfigCharts(config, engine, repos, options.dryRun);
    fail(plan.failures, 'chart');
    const limit = pLimit(config.concurrency.images);
    options.progress?.queued(plan.payloads.map(chartSource));
    const outcomes: ChartOutcome[] = await Promise.all(
      plan.payloads.map((p: MirrorChartPayload) =>
        limit(async () => {
          const t0 = Date.now();
          const source = chartSource(p);
          const track = options.progress?.start(source);
          let outcome: ChartOutcome;
          try {
            outcome = {
              source,
              target: p.target,
              result: await mirrorChart(p, {
                engine,
                logger,
                repos,
                packages,
                imageCache,
                targets,
                ...(track ? { progress: track } : {}),
              }),
              durationMs: Date.now() - t0,
            };
          } catch (e) {
            const error = toAirlockError(e, source);
            errors.push(error);
            outcome = { source, target: p.target, error, durationMs: Date.now() - t0 };
          }
          track?.done(chartItems([outcome])[0]!);
          return outcome;
        }),
      ),
    );
    items.push(...chartItems(outcomes));
    // The images a chart needs follow the chart, whatever the scope (charts[].images switches it off).
    {
      const known = new Set(config.images.map((i) => i.source));
      const fromCharts = chartImagePayloads(
        outcomes.flatMap((o) => (o.result ? [o.result] : [])),
        config,
        known,
      );
      fail(fromCharts.failures, 'image');
      imagePayloads.push(...fromCharts.payloads.map((p) => ({ ...p, ...(options.dryRun ? { dryRun: true } : {}) })));
    }
  }

  if (kinds.includes('images')) {
    const plan = await planConfigImages(config, engine, options.dryRun);
    fail(plan.failures, 'image');
    imagePayloads.push(...plan.payloads);
  }

  const botkubePayloads: MirrorBotkubePayload[] = [];
  if (kinds.includes('files')) {
    const plan = planConfigFiles(config);
    fail(plan.failures, 'file');
    filePayloads.push(...plan.files);
    botkubePayloads.push(...plan.botkube);
  }
  const uniqueFiles = [...new Map(filePayloads.map((f) => [f.url, f])).values()];
  if (options.dryRun) {
    // A dry run downloads nothing: files and plugin repositories are only planned.
    items.push(
      ...uniqueFiles.map((f) => fileItem('file', f.url, '', 'planned', 0)),
      ...botkubePayloads.map((b) => fileItem('plugin-index', b.url, '', 'planned', 0)),
    );
  } else if (uniqueFiles.length > 0 || botkubePayloads.length > 0) {
    const { mirrorBotkubeJob, mirrorFileJob } = await import('../jobs/mirror-files.js');
    const ctx = { engine, logger };
    const limit = pLimit(config.concurrency.blobs);
    options.progress?.queued([...uniqueFiles.map((f) => f.url), ...botkubePayloads.map((b) => b.url)]);
    // Each file's and plugin index's line, also told to the progress display as it settles.
    const settle = (track: ArtifactProgress | undefined, item: ReportItem) => {
      items.push(item);
      track?.done(item);
    };
    await Promise.all(
      uniqueFiles.map((f) =>
        limit(async () => {
          const track = options.progress?.start(f.url);
          try {
            const r = await mirrorFileJob(f, track ? { ...ctx, progress: track } : ctx);
            addonStatus.files.set(f.url, r.url);
            settle(track, fileItem('file', f.url, r.url, r.status, r.bytes, r.sha256));
          } catch (e) {
            const error = toAirlockError(e, f.url);
            errors.push(error);
            addonStatus.failedUrls.add(f.url);
            settle(track, fileItem('file', f.url, '', 'failed', 0, undefined, error));
          }
        }),
      ),
    );
    for (const repo of botkubePayloads) {
      const track = options.progress?.start(repo.url);
      try {
        const r = await mirrorBotkubeJob(repo, track ? { ...ctx, progress: track } : ctx);
        items.push(...botkubeItems(r));
        errors.push(...r.failures);
        const indexError = r.failures.length
          ? new AirlockError(
              'E_UPLOAD',
              `index not replaced: ${r.failures.length} file(s) failed; the previous mirrored index stays served`,
              { artifact: repo.url },
            )
          : undefined;
        settle(track, fileItem('plugin-index', repo.url, r.indexUrl ?? '', r.indexStatus, 0, undefined, indexError));
      } catch (e) {
        const error = toAirlockError(e, repo.url);
        errors.push(error);
        settle(track, fileItem('plugin-index', repo.url, '', 'failed', 0, undefined, error));
      }
    }
  }

  // The same copy can come from several places (an addon and images:, two charts): once.
  const seen = new Set<string>();
  const uniquePayloads = imagePayloads.filter((p) => {
    const key = `${p.source} ${p.target}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const { progress } = options;
  progress?.queued(uniquePayloads.map((p) => p.source));
  const tracks = new Map<MirrorImagePayload, ArtifactProgress>();
  const outcomes = await runImageJobs(
    uniquePayloads,
    { engine, logger },
    {
      concurrency: config.concurrency.images,
      // The run's report shows each failure: logged at the default level too, a terminal would show it twice.
      failureLevel: 'info',
      ...(progress
        ? {
            onStart: (p: MirrorImagePayload) => {
              const track = progress.start(p.source);
              tracks.set(p, track);
              return track;
            },
            onSettled: (o: ImageOutcome) => tracks.get(o.payload)?.done(imageItems([o])[0]!),
          }
        : {}),
    },
  );
  items.push(...imageItems(outcomes));
  errors.push(...outcomes.flatMap((o) => (o.error ? [o.error] : [])));

  if (addons) {
    const [{ publishAddons }, { payloadImage }] = await Promise.all([
      import('../jobs/publish-addons.js'),
      import('../addons/artifacts.js'),
    ]);
    for (const o of outcomes) if (o.error) addonStatus.failedImages.add(payloadImage(o.payload.source));
    const published = await publishAddons(addons, addonStatus, {
      config,
      engine,
      logger,
      dryRun: options.dryRun,
      cacheDirs: options.cacheDirs,
    });
    items.push(...addonItems(published.addons), ...gitMirrorItems(published.git));
    errors.push(...published.errors);
  }

  if (kinds.includes('plugins') && config.plugins) {
    // Each plugin's image tags first, then its registration: nothing is registered whose image is not there.
    const [{ repositoryClientFor }, { mirrorAndRegisterPlugins }] = await Promise.all([
      import('../plugins/plugin-sources.js'),
      import('../jobs/register-plugins.js'),
    ]);
    const section = config.plugins;
    const { manifests, failures } = await planConfigPlugins(config);
    fail(failures, 'plugin');
    try {
      if (options.dryRun)
        items.push(
          ...manifests.map((m) => ({
            ...pluginItems([
              { plugin_id: m.request.plugin_id, image: m.request.image, mirrored: [], warnings: m.warnings },
            ])[0]!,
            status: 'planned' as const,
          })),
        );
      else {
        const client = await repositoryClientFor(config, 'plugins');
        try {
          const outcomes = await mirrorAndRegisterPlugins(manifests, section, {
            engine,
            logger,
            client,
            concurrency: config.concurrency.images,
          });
          items.push(...pluginItems(outcomes));
          errors.push(...outcomes.flatMap((o) => (o.error ? [o.error] : [])));
        } finally {
          client.close();
        }
      }
    } catch (e) {
      fail([{ artifact: 'plugins', error: toAirlockError(e, 'plugins') }], 'plugin');
    }
  }

  return { report: buildReport(items, started, new Date()), errors };
}
