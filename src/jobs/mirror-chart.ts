import { z } from 'zod';
import { openChartArchive } from '../charts/chart-archive.js';
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
});

export type MirrorChartPayload = z.infer<typeof mirrorChartPayload>;

export interface ChartJobContext {
  engine: Engine;
  logger: Logger;
  /** One reader per run: each index is fetched once. */
  repos: HelmRepoReader;
}

export interface ChartResult {
  source: string;
  target: string;
  status: 'copied' | 'unchanged' | 'planned';
  digest: string;
}

/** Copies one chart version unchanged, with its provenance, from a classic or OCI repository to a chart target. */
export async function mirrorChart(payload: unknown, ctx: ChartJobContext): Promise<ChartResult> {
  const parsed = mirrorChartPayload.safeParse(payload);
  if (!parsed.success) throw new AirlockError('E_USAGE', `mirror-chart payload invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  const p = parsed.data;
  const source = `${p.source} ${p.chart}@${p.version}`;
  try {
    const target = parseChartTarget(ctx.engine, p.target, p);
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
      return { source, target: `oci://${to.registry}/${toRepo}:${tag}`, status: r.status, digest: r.targetDigest };
    }
    let pkg: ChartPackage;
    if (p.source.startsWith('oci://')) {
      const fetched = await fetchOciChart(ctx.engine, p.source, p.chart, p.version);
      const archive = openChartArchive(fetched.tgz, source);
      pkg = { name: archive.metadata.name, version: archive.metadata.version, tgz: fetched.tgz, ...(fetched.prov ? { prov: fetched.prov } : {}), metadata: archive.metadata };
    } else {
      const fetched = await ctx.repos.fetchChart(p.source, p.chart, p.version);
      const archive = openChartArchive(fetched.tgz, source);
      pkg = { name: fetched.name, version: fetched.version, tgz: fetched.tgz, ...(fetched.prov ? { prov: fetched.prov } : {}), metadata: archive.metadata, entry: fetched.entry };
    }
    if (pkg.metadata.name !== p.chart) {
      throw new AirlockError('E_UNSUPPORTED', `archive holds chart ${pkg.metadata.name}, not ${p.chart}`, { artifact: source });
    }
    if (p.dryRun) return { source, target: target.label, status: 'planned', digest: '' };
    const r = await target.push(pkg);
    ctx.logger.info({ source, target: r.location, status: r.status }, `chart ${r.status}`);
    return { source, target: r.location, status: r.status, digest: r.digest };
  } catch (e) {
    throw toAirlockError(e, source);
  }
}
