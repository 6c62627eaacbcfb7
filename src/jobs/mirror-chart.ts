import { createHash } from 'node:crypto';
import { openChartArchive } from '../charts/chart-archive.js';
import { chartImages, type ChartImage } from '../charts/chart-images.js';
import { chartTag, HELM } from '../charts/helm-oci.js';
import { parseManifest } from '../oci/manifest.js';
import type { MirrorState } from '../state/mirror-state.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import type { ImageJobEngine } from './mirror-image.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { mirrorChartJobId } from '../model/job-names.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import { fetchOciChart, parseOciChartUrl } from '../sources/oci-chart.js';
import { parseChartTarget, type ChartTargetAccess } from '../targets/parse-chart-target.js';
import type { ChartPackage, ChartTarget } from '../targets/chart-target.js';
import { jsonFileCache, type JsonCache } from '../core/fs-atomic.js';
import { checkName, printable } from '../core/names.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { CopyProgress } from '../model/progress.js';
import type { ItemStatus } from '../model/report.js';

/** What a chart copy needs of the engine: chart targets and sources, the image copier for OCI charts, the mirror state. */
export interface ChartJobEngine extends ImageJobEngine, ChartTargetAccess {
  state?: MirrorState;
}

export interface ChartJobContext {
  engine: ChartJobEngine;
  logger: Logger;
  /** One reader per run: each index is fetched once. */
  repos: HelmRepoReader;
  /** Per-run cache: each chart version is downloaded once, whatever the number of targets. */
  packages?: Map<string, Promise<ChartPackage>>;
  /** Per-run chart targets by spec, so a directory target parses its index.yaml once. */
  targets?: Map<string, ChartTarget>;
  /** Images found in a chart, by chart digest and values: a re-sync does not download the chart to know them. */
  imageCache?: JsonCache<ChartImage[]>;
  /** The bytes this chart puts at its target, for a progress display or a queued job's progress. */
  progress?: CopyProgress;
}

export interface ChartResult {
  source: string;
  target: string;
  status: Exclude<ItemStatus, 'failed'>;
  digest: string;
  /** Bytes written to the target (0 when unchanged). */
  bytes: number;
  /** The images the chart needs, when asked for (`images: true`). */
  images?: ChartImage[];
}

/** One chart version's copy to one target, as the run reports it. */
export interface ChartOutcome {
  source: string;
  target: string;
  result?: ChartResult;
  error?: AirlockError;
  durationMs: number;
}

/**
 * Chart image lists kept on disk between runs (keyed by chart digest and values): the one-shot
 * run and the queue worker share it, so neither downloads an unchanged chart to list its images.
 */
export function chartImageCache(dir: string): JsonCache<ChartImage[]> {
  return jsonFileCache<ChartImage[]>(dir);
}

/** How a chart version is named in reports, errors and per-run caches: `SOURCE CHART@VERSION`. */
export function chartSource(p: { source?: string; chart?: string; version?: string }): string {
  return `${p.source ?? ''} ${p.chart ?? ''}@${p.version ?? ''}`;
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The chart layer's digest of a Helm OCI manifest. */
async function chartLayerDigest(
  engine: RegistryAccess,
  repo: { registry: string; repository: string },
  digest: string,
  artifact: string,
): Promise<string | undefined> {
  const parsed = parseManifest(await engine.client.getManifest(repo, digest), artifact);
  return parsed.kind === 'manifest'
    ? (
        parsed.layers.find((l) => l.mediaType === HELM.chart) ??
        parsed.layers.find((l) => l.mediaType === HELM.legacyChart)
      )?.digest
    : undefined;
}

/**
 * OCI to OCI: a tag already at the target with another manifest is the same chart only when its
 * chart layer is the same archive (helm push adds a timestamp); otherwise it is a conflict.
 */
async function refuseDifferentChart(
  engine: RegistryAccess,
  from: { registry: string; repository: string },
  to: { registry: string; repository: string },
  tag: string,
  force: boolean,
  artifact: string,
): Promise<void> {
  const there = await engine.client.headManifest(to, tag);
  if (!there || force) return;
  const source = await engine.client.headManifest(from, tag);
  if (!source || source.digest === there.digest) return;
  const [a, b] = await Promise.all([
    chartLayerDigest(engine, from, source.digest, artifact),
    chartLayerDigest(engine, to, there.digest, artifact),
  ]);
  if (a && a === b) return;
  throw new AirlockError(
    'E_CONFLICT',
    `a different chart is already tagged ${tag} at ${to.registry}/${to.repository}; not overwriting (force to replace)`,
    { artifact },
  );
}

/** Fetches a chart package once per run, however many targets it goes to. */
function loadPackage(p: MirrorChartPayload, ctx: ChartJobContext, source: string): Promise<ChartPackage> {
  const key = chartSource(p);
  const cached = ctx.packages?.get(key);
  if (cached) return cached;
  const load = async (): Promise<ChartPackage> => {
    // Named by the chart asked for (checked with the payload); the archive must agree (below).
    if (p.source.startsWith('oci://')) {
      const fetched = await fetchOciChart(ctx.engine, p.source, p.chart, p.version);
      const archive = await openChartArchive(fetched.tgz, source);
      return {
        name: p.chart,
        version: archive.metadata.version,
        tgz: fetched.tgz,
        ...(fetched.prov ? { prov: fetched.prov } : {}),
        metadata: archive.metadata,
      };
    }
    const fetched = await ctx.repos.fetchChart(p.source, p.chart, p.version);
    const archive = await openChartArchive(fetched.tgz, source);
    return {
      name: p.chart,
      version: fetched.version,
      tgz: fetched.tgz,
      ...(fetched.prov ? { prov: fetched.prov } : {}),
      metadata: archive.metadata,
      entry: fetched.entry,
    };
  };
  const promise = load();
  ctx.packages?.set(key, promise);
  return promise;
}

/** Copies one chart version unchanged, with its provenance, from a classic or OCI repository to a chart target. */
export async function mirrorChart(p: MirrorChartPayload, ctx: ChartJobContext): Promise<ChartResult> {
  // The payload is checked already: built by the planners, or parsed where it left the queue (src/jobs/kinds.ts).
  // They name files, OCI repositories and tags, locks and state keys. The operator's are checked
  // where they are typed (CHART@VERSION, config); what is left comes from catalogs, upstream content.
  const artifact = printable(chartSource(p));
  checkName('chart-name', p.chart, { field: 'chart name', artifact });
  checkName('version', p.version, { field: 'chart version', artifact });
  // Another worker copying the same chart version to the same target: wait, then find it unchanged.
  const lock = ctx.engine.lock;
  if (lock && !p.dryRun)
    return lock.run(mirrorChartJobId(p.source, p.chart, p.version, p.target), () => copyChart(p, ctx));
  return copyChart(p, ctx);
}

async function copyChart(p: MirrorChartPayload, ctx: ChartJobContext): Promise<ChartResult> {
  const source = chartSource(p);
  try {
    const targetKey = JSON.stringify([p.target, p.baseUrl, p.contextPath, p.force]);
    let target = ctx.targets?.get(targetKey);
    if (!target) {
      target = parseChartTarget(ctx.engine, p.target, p);
      ctx.targets?.set(targetKey, target);
    }
    const stateKey = `chart ${source} -> ${targetKey}`;
    const imagesKey = (digest: string) => `${digest} ${JSON.stringify(p.values ?? {})}`;
    const findImages = async (pkg: ChartPackage): Promise<ChartImage[]> => {
      const images = chartImages(
        await openChartArchive(pkg.tgz, source),
        (p.values ?? {}) as Record<string, unknown>,
        source,
      );
      await ctx.imageCache?.set(imagesKey(sha256Hex(pkg.tgz)), images);
      return images;
    };

    // Re-sync fast path: the index digest says which archive the version is; the target says whether it has it.
    if (!p.source.startsWith('oci://')) {
      const entry = await ctx.repos.entry(p.source, p.chart, p.version);
      // Lowercase hex, checked by the index parser.
      const digest = entry.digest;
      if (digest) {
        // A chart version with a known digest does not change: a copy recorded in the state needs no request.
        const remembered = await ctx.engine.state?.get(stateKey);
        const known =
          remembered?.sourceDigest === digest && remembered.location
            ? { present: true, location: remembered.location }
            : await target.has(p.chart, entry.version, digest);
        const { present, location } = known;
        if (present) {
          if (!remembered && !p.dryRun)
            await ctx.engine.state?.set(stateKey, {
              sourceDigest: digest,
              targetDigest: digest,
              location,
              at: new Date().toISOString(),
            });
          const images = p.images
            ? ((await ctx.imageCache?.get(imagesKey(digest))) ?? (await findImages(await loadPackage(p, ctx, source))))
            : undefined;
          return { source, target: location, status: 'unchanged', digest, bytes: 0, ...(images ? { images } : {}) };
        }
      }
    }

    // A dry run downloads a chart only to tell its images.
    if (p.dryRun && !p.images && !p.target.startsWith('oci://'))
      return { source, target: target.label, status: 'planned', digest: '', bytes: 0 };
    const needPackage = !(p.source.startsWith('oci://') && p.target.startsWith('oci://')) || p.images;
    const pkg = needPackage ? await loadPackage(p, ctx, source) : undefined;
    if (pkg && pkg.metadata.name !== p.chart) {
      throw new AirlockError('E_UNSUPPORTED', `archive holds chart ${pkg.metadata.name}, not ${p.chart}`, {
        artifact: source,
      });
    }
    const images = p.images && pkg ? await findImages(pkg) : undefined;
    const withImages = images ? { images } : {};
    if (p.source.startsWith('oci://') && p.target.startsWith('oci://')) {
      // OCI to OCI: the artifact itself is copied, so its digest (and any signature) stays valid.
      const from = parseOciChartUrl(p.source);
      const to = parseOciChartUrl(p.target);
      const tag = chartTag(p.version);
      const fromRepo = from.path ? `${from.path}/${p.chart}` : p.chart;
      const toRepo = to.path ? `${to.path}/${p.chart}` : p.chart;
      await refuseDifferentChart(
        ctx.engine,
        { registry: from.registry, repository: fromRepo },
        { registry: to.registry, repository: toRepo },
        tag,
        p.force ?? false,
        source,
      );
      const r = await ctx.engine.copy({
        source: ctx.engine.endpoint({ transport: 'docker', registry: from.registry, repository: fromRepo }),
        sourceRef: tag,
        target: ctx.engine.endpoint({ transport: 'docker', registry: to.registry, repository: toRepo }),
        targetTag: tag,
        dryRun: p.dryRun ?? false,
        ...(ctx.progress ? { progress: ctx.progress } : {}),
      });
      return {
        source,
        target: `oci://${to.registry}/${toRepo}:${tag}`,
        status: r.status,
        digest: r.targetDigest,
        bytes: r.stats.bytes,
        ...withImages,
      };
    }
    if (!pkg) throw new AirlockError('E_UNSUPPORTED', 'no chart package', { artifact: source });
    if (p.dryRun) return { source, target: target.label, status: 'planned', digest: '', bytes: 0, ...withImages };
    // A classic chart goes to its target in one request: its bytes count when that request is done.
    const size = pkg.tgz.length + (pkg.prov?.length ?? 0);
    ctx.progress?.planned(size);
    const r = await target.push(pkg);
    if (r.status === 'copied') ctx.progress?.moved(size);
    else ctx.progress?.skipped(size);
    await ctx.engine.state?.set(stateKey, {
      sourceDigest: r.digest,
      targetDigest: r.digest,
      location: r.location,
      at: new Date().toISOString(),
    });
    ctx.logger.info({ source, target: r.location, status: r.status }, `chart ${r.status}`);
    return {
      source,
      target: r.location,
      status: r.status,
      digest: r.digest,
      bytes: r.status === 'copied' ? size : 0,
      ...withImages,
    };
  } catch (e) {
    throw toAirlockError(e, source);
  }
}
