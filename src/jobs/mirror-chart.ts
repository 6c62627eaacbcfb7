import { z } from 'zod';
import { openChartArchive } from '../charts/chart-archive.js';
import { chartImages, type ChartImage } from '../charts/chart-images.js';
import { chartTag } from '../charts/helm-oci.js';
import type { Engine } from '../engine.js';
import { AirlockError, toAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import { fetchOciChart, parseOciChartUrl } from '../sources/oci-chart.js';
import { parseChartTarget } from '../targets/parse-chart-target.js';
import type { ChartPackage } from '../targets/chart-target.js';

export const mirrorChartPayload = z.strictObject({
  /** Classic repository URL or `oci://HOST/PATH`. */
  source: z.string().min(1),
  chart: z.string().min(1),
  version: z.string().min(1),
  /** `oci://…`, `cm+http(s)://…` or a directory. */
  target: z.string().min(1),
  baseUrl: z.string().optional(),
  contextPath: z.string().optional(),
  force: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  /** Also report the images the chart needs (from annotations, .relok8s-images.yaml, values). */
  images: z.boolean().optional(),
  /** Values overrides for finding images (the addon catalog passes its own). */
  values: z.record(z.string(), z.unknown()).optional(),
});

export type MirrorChartPayload = z.infer<typeof mirrorChartPayload>;

export interface ChartJobContext {
  engine: Engine;
  logger: Logger;
  /** One reader per run: each index is fetched once. */
  repos: HelmRepoReader;
  /** Per-run cache: each chart version is downloaded once, whatever the number of targets. */
  packages?: Map<string, Promise<ChartPackage>>;
}

export interface ChartResult {
  source: string;
  target: string;
  status: 'copied' | 'unchanged' | 'planned';
  digest: string;
  /** Bytes written to the target (0 when unchanged). */
  bytes: number;
  /** The images the chart needs, when asked for (`images: true`). */
  images?: ChartImage[];
}

/** Fetches a chart package once per run, however many targets it goes to. */
function loadPackage(p: MirrorChartPayload, ctx: ChartJobContext, source: string): Promise<ChartPackage> {
  const key = `${p.source} ${p.chart}@${p.version}`;
  const cached = ctx.packages?.get(key);
  if (cached) return cached;
  const load = async (): Promise<ChartPackage> => {
    if (p.source.startsWith('oci://')) {
      const fetched = await fetchOciChart(ctx.engine, p.source, p.chart, p.version);
      const archive = openChartArchive(fetched.tgz, source);
      return { name: archive.metadata.name, version: archive.metadata.version, tgz: fetched.tgz, ...(fetched.prov ? { prov: fetched.prov } : {}), metadata: archive.metadata };
    }
    const fetched = await ctx.repos.fetchChart(p.source, p.chart, p.version);
    const archive = openChartArchive(fetched.tgz, source);
    return { name: fetched.name, version: fetched.version, tgz: fetched.tgz, ...(fetched.prov ? { prov: fetched.prov } : {}), metadata: archive.metadata, entry: fetched.entry };
  };
  const promise = load();
  ctx.packages?.set(key, promise);
  return promise;
}

/** Copies one chart version unchanged, with its provenance, from a classic or OCI repository to a chart target. */
export async function mirrorChart(payload: unknown, ctx: ChartJobContext): Promise<ChartResult> {
  const parsed = mirrorChartPayload.safeParse(payload);
  if (!parsed.success) throw new AirlockError('E_USAGE', `mirror-chart payload invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  const p = parsed.data;
  const source = `${p.source} ${p.chart}@${p.version}`;
  try {
    const target = parseChartTarget(ctx.engine, p.target, p);
    const needPackage = !(p.source.startsWith('oci://') && p.target.startsWith('oci://')) || p.images;
    const pkg = needPackage ? await loadPackage(p, ctx, source) : undefined;
    if (pkg && pkg.metadata.name !== p.chart) {
      throw new AirlockError('E_UNSUPPORTED', `archive holds chart ${pkg.metadata.name}, not ${p.chart}`, { artifact: source });
    }
    const images = p.images && pkg ? chartImages(openChartArchive(pkg.tgz, source), (p.values ?? {}) as Record<string, unknown>, source) : undefined;
    const withImages = images ? { images } : {};
    if (p.source.startsWith('oci://') && p.target.startsWith('oci://')) {
      // OCI to OCI: the artifact itself is copied, so its digest (and any signature) stays valid.
      const from = parseOciChartUrl(p.source);
      const to = parseOciChartUrl(p.target);
      const tag = chartTag(p.version);
      const fromRepo = from.path ? `${from.path}/${p.chart}` : p.chart;
      const toRepo = to.path ? `${to.path}/${p.chart}` : p.chart;
      const r = await ctx.engine.copy({
        source: ctx.engine.endpoint({ transport: 'docker', registry: from.registry, repository: fromRepo }),
        sourceRef: tag,
        target: ctx.engine.endpoint({ transport: 'docker', registry: to.registry, repository: toRepo }),
        targetTag: tag,
        dryRun: p.dryRun ?? false,
      });
      return { source, target: `oci://${to.registry}/${toRepo}:${tag}`, status: r.status, digest: r.targetDigest, bytes: r.stats.bytes, ...withImages };
    }
    if (!pkg) throw new AirlockError('E_UNSUPPORTED', 'no chart package', { artifact: source });
    if (p.dryRun) return { source, target: target.label, status: 'planned', digest: '', bytes: 0, ...withImages };
    const r = await target.push(pkg);
    ctx.logger.info({ source, target: r.location, status: r.status }, `chart ${r.status}`);
    return { source, target: r.location, status: r.status, digest: r.digest, bytes: r.status === 'copied' ? pkg.tgz.length + (pkg.prov?.length ?? 0) : 0, ...withImages };
  } catch (e) {
    throw toAirlockError(e, source);
  }
}
