import path from 'node:path';
import pLimit from 'p-limit';
import type { ChartImage } from '../charts/chart-images.js';
import { jsonFileCache } from '../util/fs-atomic.js';
import type { AirlockConfig } from '../config/schema.js';
import type { Engine } from '../engine.js';
import { AirlockError, toAirlockError } from '../errors.js';
import type { ChartResult, MirrorChartPayload } from '../jobs/mirror-chart.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import type { Logger } from '../log.js';
import { parseRegistryRef } from '../oci/reference.js';
import { buildReport, chartItems, failureItems, fileItem, imageItems, type ChartOutcome, type ReportItem, type RunReport } from '../report/run-report.js';
import { runImageJobs, type ImageOutcome } from './run-image-jobs.js';
import type { PlanFailure } from '../sources/image-plan.js';
import { targetRepository } from '../targets/image-target.js';
import type { ChartPackage, ChartTarget } from '../targets/chart-target.js';

export type SyncKind = 'images' | 'charts' | 'files';

export interface ExecuteSyncOptions {
  config: AirlockConfig;
  /** What the config sections contribute; nothing when only direct payloads are given. */
  kinds: SyncKind[];
  engine: Engine;
  logger: Logger;
  /** Where chart index validators and chart image lists are cached between runs. */
  cacheDir: string;
  /** Image copies given directly (image copy, --from-file). */
  images?: MirrorImagePayload[];
  failures?: PlanFailure[];
  dryRun?: boolean;
  /** Told how many images are about to run, and of each one that settled. */
  onImages?: (total: number) => Promise<void> | void;
  onImageDone?: (o: ImageOutcome) => void;
}

export interface SyncResult {
  report: RunReport;
  errors: AirlockError[];
}

/** Images that charts need, as copies to `targets.images`; each image once. */
function chartImagePayloads(results: ChartResult[], config: AirlockConfig, known: Set<string>): { payloads: MirrorImagePayload[]; failures: PlanFailure[] } {
  const payloads: MirrorImagePayload[] = [];
  const failures: PlanFailure[] = [];
  const rule = config.targets.images;
  for (const r of results) {
    for (const img of r.images ?? []) {
      if (known.has(img.image)) continue;
      known.add(img.image);
      if (!rule) {
        failures.push({ artifact: img.image, error: new AirlockError('E_CONFIG', `chart ${r.source} needs this image but targets.images is not set`, { artifact: img.image }) });
        continue;
      }
      const ref = parseRegistryRef(img.image);
      payloads.push({ source: `docker://${img.image}`, target: targetRepository({ ...ref, tag: undefined, digest: undefined }, rule) });
    }
  }
  return { payloads, failures };
}

/**
 * One sync run over the config, in the calling process: charts first (they name more images),
 * then images, then files and plugin repositories. One failing artifact never stops the others.
 * The one-shot CLI and the queue worker's scheduled `sync` job both run this.
 */
export async function executeSync(options: ExecuteSyncOptions): Promise<SyncResult> {
  const { config, engine, logger } = options;
  const started = new Date();
  const items: ReportItem[] = [];
  const errors: AirlockError[] = [];
  const fail = (failures: PlanFailure[], kind: 'image' | 'chart' | 'file') => {
    items.push(...failureItems(failures, kind));
    errors.push(...failures.map((f) => f.error));
  };
  try {
    fail(options.failures ?? [], 'image');
    const imagePayloads = [...(options.images ?? [])];

    if (options.kinds.includes('charts') && config.charts.length > 0) {
      // Chart, file and plan code is loaded only when a run has such work: a one-shot image copy
      // starts without compiling it.
      const [{ mirrorChart }, { planCharts }, { createHelmRepoReader, fileIndexCache }] = await Promise.all([
        import('../jobs/mirror-chart.js'),
        import('../sources/chart-plan.js'),
        import('../sources/helm-repo.js'),
      ]);
      const repos = createHelmRepoReader(engine, { cache: fileIndexCache(options.cacheDir) });
      const plan = await planCharts(config, engine, repos, { dryRun: options.dryRun });
      fail(plan.failures, 'chart');
      const packages = new Map<string, Promise<ChartPackage>>();
      const targets = new Map<string, ChartTarget>();
      const imageCache = jsonFileCache<ChartImage[]>(path.join(options.cacheDir, '..', 'chart-images'));
      const limit = pLimit(config.concurrency.images);
      const outcomes: ChartOutcome[] = await Promise.all(
        plan.payloads.map((p: MirrorChartPayload) =>
          limit(async () => {
            const t0 = Date.now();
            const source = `${p.source} ${p.chart}@${p.version}`;
            try {
              return { source, target: p.target, result: await mirrorChart(p, { engine, logger, repos, packages, imageCache, targets }), durationMs: Date.now() - t0 };
            } catch (e) {
              const error = toAirlockError(e, source);
              errors.push(error);
              return { source, target: p.target, error, durationMs: Date.now() - t0 };
            }
          }),
        ),
      );
      items.push(...chartItems(outcomes));
      // The images a chart needs follow the chart, whatever the scope (charts[].images switches it off).
      {
        const known = new Set(config.images.map((i) => i.source));
        const fromCharts = chartImagePayloads(outcomes.flatMap((o) => (o.result ? [o.result] : [])), config, known);
        fail(fromCharts.failures, 'image');
        imagePayloads.push(...fromCharts.payloads.map((p) => ({ ...p, ...(options.dryRun ? { dryRun: true } : {}) })));
      }
    }

    if (options.kinds.includes('images') && config.images.length > 0) {
      const { planImages } = await import('../sources/image-plan.js');
      const plan = await planImages(config, engine, { dryRun: options.dryRun });
      fail(plan.failures, 'image');
      imagePayloads.push(...plan.payloads);
    }

    if (options.kinds.includes('files') && (config.files.length > 0 || config.botkube.length > 0)) {
      const target = config.targets.files;
      if (!target) fail([{ artifact: 'files', error: new AirlockError('E_CONFIG', 'files: or botkube: is set but targets.files (dir, baseUrl) is not') }], 'file');
      else {
        const { mirrorBotkubeJob, mirrorFileJob } = await import('../jobs/mirror-files.js');
        const ctx = { engine, logger };
        const limit = pLimit(config.concurrency.blobs);
        await Promise.all(
          config.files.map((f) =>
            limit(async () => {
              try {
                const r = await mirrorFileJob({ url: f.url, ...(f.checksum ? { checksum: f.checksum } : {}), target }, ctx);
                items.push(fileItem('file', f.url, r.url, r.status, r.bytes, r.sha256));
              } catch (e) {
                const error = toAirlockError(e, f.url);
                errors.push(error);
                items.push(fileItem('file', f.url, '', 'failed', 0, undefined, error));
              }
            }),
          ),
        );
        for (const repo of config.botkube) {
          try {
            const r = await mirrorBotkubeJob({ name: repo.name, url: repo.url, ...(repo.headers ? { headers: repo.headers } : {}), ...(repo.plugins ? { plugins: repo.plugins } : {}), ...(repo.versions ? { versions: repo.versions } : {}), target }, ctx);
            for (const f of r.files) items.push(fileItem('file', f.source, f.url, f.status, f.bytes, f.sha256));
            for (const e of r.failures) items.push(fileItem('file', e.artifact ?? repo.url, '', 'failed', 0, undefined, e));
            errors.push(...r.failures);
            const indexError = r.failures.length ? new AirlockError('E_UPLOAD', `index not replaced: ${r.failures.length} file(s) failed; the previous mirrored index stays served`, { artifact: repo.url }) : undefined;
            items.push(fileItem('plugin-index', repo.url, r.indexUrl ?? '', r.indexStatus, 0, undefined, indexError));
          } catch (e) {
            const error = toAirlockError(e, repo.url);
            errors.push(error);
            items.push(fileItem('plugin-index', repo.url, '', 'failed', 0, undefined, error));
          }
        }
      }
    }

    await options.onImages?.(imagePayloads.length);
    const outcomes = await runImageJobs(imagePayloads, { engine, logger }, { concurrency: config.concurrency.images, ...(options.onImageDone ? { onSettled: options.onImageDone } : {}) });
    items.push(...imageItems(outcomes));
    errors.push(...outcomes.flatMap((o) => (o.error ? [o.error] : [])));

    return { report: buildReport(items, started, new Date()), errors };
  } finally {
    await engine.state?.flush();
  }
}
