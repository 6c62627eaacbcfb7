import type { AddonPublishOutcome, GitMirrorOutcome } from '../report/run-report.js';
import path from 'node:path';
import { DEFAULT_CATALOG_REGISTRIES, type CatalogContents } from '../addons/catalog-dir.js';
import { readCatalog, type ResolvedCatalog } from '../addons/catalog-source.js';
import type { AddonPlan, AddonScan, PlannedChart } from '../addons/discover.js';
import { planCatalog, type CatalogPlan } from '../addons/plan-catalog.js';
import { rewriteAddon, type AddonRewrite, type ImageTarget, type RewriteChange, type RewriteTargets } from '../addons/rewrite.js';
import { packageAddon, type PackagedAddon } from '../addons/package-addon.js';
import { addonRegistryTarget, addonRegistryTargetSpec, publishAddonRegistry, type AddonPublishEntry } from '../addons/publish-addon-registry.js';
import { isSemverVersion, type Addon } from '../addons/addon.js';
import { createHash } from 'node:crypto';
import { jsonFileCache } from '../core/fs-atomic.js';
import { withGitCredentials } from '../addons/git-credentials.js';
import type { AddonCatalogConfig, AirlockConfig, ChartEntry } from '../config/schema.js';
import type { Engine } from '../app/engine.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { mirrorChart, type ChartJobContext } from '../jobs/mirror-chart.js';
import type { ChartOutcome } from '../report/run-report.js';
import type { ChartTarget } from '../targets/chart-target.js';
import { planCharts } from '../sources/chart-plan.js';
import pLimit from 'p-limit';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import type { Logger } from '../core/log.js';
import { redact } from '../core/secrets.js';
import type { PlanFailure } from '../sources/image-plan.js';
import { imageNeedPayloads } from '../plan/image-payloads.js';
import { parseRegistryRef } from '../oci/reference.js';
import { targetParts } from '../targets/image-target.js';
import { parseOciChartUrl } from '../sources/oci-chart.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import { chartMuseumRepoUrl } from '../targets/chartmuseum.js';

/** A catalog as this run saw it. */
export interface PlannedCatalog {
  config: AddonCatalogConfig;
  catalog?: ResolvedCatalog;
  plan?: CatalogPlan;
  error?: AirlockError;
}

/** One chart version an addon needs, with the sources it may come from (crane: a mirror or upstream). */
export interface AddonChartGroup {
  key: string;
  alternatives: PlannedChart[];
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
function addonChartGroups(plan: Pick<AddonPlan, 'charts'>): AddonChartGroup[] {
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
    return { key: `${k} ${alternatives.map((a) => a.repo).sort().join(' ')}`, alternatives };
  });
}

/** The normalised image a copy payload is about (`docker://` off), as addon plans name images. */
export function payloadImage(source: string): string {
  return source.replace(/^docker:\/\//, '');
}

function addonCacheDir(config: AirlockConfig, cacheDir: string): string {
  return config.addons?.cacheDir ?? path.join(cacheDir, '..', 'catalogs');
}

async function readConfiguredCatalog(c: AddonCatalogConfig, engine: Engine, cacheDir: string, repos: HelmRepoReader | undefined): Promise<ResolvedCatalog> {
  if (c.helm) {
    const { readHelmAddonRegistry } = await import('../addons/helm-addon-registry.js');
    const name = c.registries?.[0]?.name ?? 'official';
    const contents: CatalogContents = await readHelmAddonRegistry(engine, c.helm, name, { ...(c.addons ? { addons: c.addons } : {}), ...(repos ? { repos } : {}) });
    return { root: c.helm, ...contents };
  }
  return readCatalog({ catalog: c.source!, ...(c.ref ? { ref: c.ref } : {}), ...(c.registries ? { registries: c.registries } : {}) }, { cacheDir });
}

/**
 * The mirrored image repository (no transport, no tag) for a normalised source image, in its two
 * parts — the target registry with its path prefix, and the path the rule renders — or undefined
 * when images go to an oci: store.
 */
function imageTargetFor(config: AirlockConfig): (normalised: string) => ImageTarget | undefined {
  const rule = config.targets.images;
  return (normalised) => {
    if (!rule) return undefined;
    const t = targetParts(parseRegistryRef(normalised), rule);
    return t.registry.startsWith('oci:') ? undefined : t;
  };
}

/** The chart repository rewritten addons point at: addons.chartRepository, else what targets.charts[0] serves. */
function addonChartRepository(config: AirlockConfig): { url: string; repoType: 'helm' | 'oci' } | undefined {
  const explicit = config.addons?.chartRepository;
  if (explicit) return { url: explicit.replace(/\/+$/, ''), repoType: explicit.startsWith('oci://') ? 'oci' : 'helm' };
  const first = config.targets.charts[0];
  if (!first) return undefined;
  const t = typeof first === 'string' ? { url: first } : first;
  if (t.url.startsWith('oci://')) {
    parseOciChartUrl(t.url);
    return { url: t.url.replace(/\/+$/, ''), repoType: 'oci' };
  }
  if (/^cm\+https?:\/\//.test(t.url)) return { url: chartMuseumRepoUrl(t.url, 'contextPath' in t ? t.contextPath : undefined), repoType: 'helm' };
  if ('baseUrl' in t && t.baseUrl) return { url: t.baseUrl.replace(/\/+$/, ''), repoType: 'helm' };
  return undefined;
}

/**
 * Reads every configured catalog and turns the addons' needs into artifacts for the image,
 * chart and file mirrors. A catalog that cannot be read fails alone.
 */
export async function planAddonArtifacts(
  config: AirlockConfig,
  engine: Engine,
  cacheDir: string,
  options: {
    dryRun?: boolean;
    /** The run's chart repository reader: its index cache makes a helm-type catalog's index a conditional GET. */
    repos?: HelmRepoReader;
  } = {},
): Promise<AddonArtifacts> {
  const out: AddonArtifacts = { catalogs: [], images: [], charts: [], urls: [], failures: [] };
  const section = config.addons;
  if (!section) return out;
  const seenImages = new Set<string>();
  const charts = new Map<string, AddonChartGroup>();
  const urls = new Set<string>();
  for (const c of section.catalogs) {
    const label = c.source ?? c.helm ?? c.name;
    try {
      const catalog = await readConfiguredCatalog(c, engine, addonCacheDir(config, cacheDir), options.repos);
      const plan = planCatalog(catalog, { ...(c.addons ? { addons: c.addons } : {}) });
      out.catalogs.push({ config: c, catalog, plan });
      for (const w of plan.warnings) if (w.registry === '*') out.failures.push({ artifact: `addon ${w.addon}`, error: new AirlockError('E_NOT_FOUND', w.message, { artifact: `${c.name}/${w.addon}` }) });
      for (const p of plan.plans) {
        const needs = [...p.images, ...(section.definitionImages ? p.definitionImages : [])].map((image) => ({ image, neededBy: `addon ${p.addon}` }));
        const copies = imageNeedPayloads(needs, config.targets.images, seenImages);
        out.failures.push(...copies.failures);
        out.images.push(...copies.payloads.map((c) => ({ ...c, ...(options.dryRun ? { dryRun: true } : {}) })));
        for (const g of addonChartGroups(p)) if (!charts.has(g.key)) charts.set(g.key, g);
        for (const u of p.urls) urls.add(u);
      }
    } catch (e) {
      const error = toAirlockError(e, label);
      out.catalogs.push({ config: c, error });
      out.failures.push({ artifact: `catalog ${c.name}`, error });
    }
  }
  out.charts = [...charts.values()];
  out.urls = [...urls].sort();
  return out;
}

/** The `charts:`-style entry for one alternative source of an addon chart. */
function chartEntryFor(ch: PlannedChart): ChartEntry {
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

function blockers(plan: AddonPlan, status: AddonMirrorStatus, definitionImages: boolean): string[] {
  const out: string[] = [];
  for (const i of [...plan.images, ...(definitionImages ? plan.definitionImages : [])]) if (status.failedImages.has(i)) out.push(`image ${i}`);
  for (const g of addonChartGroups(plan)) if (status.failedCharts.has(g.key)) out.push(`chart ${g.alternatives[0]!.chart}@${g.alternatives[0]!.version ?? '*'}`);
  for (const u of plan.urls) if (status.failedUrls.has(u)) out.push(`file ${u}`);
  return [...new Set(out)];
}

function rewriteTargets(config: AirlockConfig, status: AddonMirrorStatus): RewriteTargets {
  const repo = addonChartRepository(config);
  return {
    image: imageTargetFor(config),
    chart: () => repo,
    url: (u) => status.files.get(u),
  };
}

/**
 * The git mirror remote as reports show it. redact() alone is not enough: a token given as the URL
 * user name is registered as a secret only when the remote is parsed, which happens later (or never,
 * when publishing fails early).
 */
async function gitRemoteDisplay(remote: string): Promise<string> {
  // Loaded here, as git-mirror below: a run without publish.git never loads simple-git.
  const { parseGitRemote } = await import('../addons/git-exec.js');
  try {
    return parseGitRemote(withGitCredentials(remote)).display;
  } catch {
    // An unparseable remote still must not show what sits before an `@`.
    return redact(remote.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@'));
  }
}

/** An addon whose every artifact arrived, rewritten and ready to publish. */
interface ReadyAddon {
  scan: AddonScan;
  rewrite: AddonRewrite;
  warnings: string[];
}

/** What an archive is made of: the addon's name, version and rewritten files (and the packager's format). */
function contentKey(addon: Addon, files: Map<string, Buffer>): string {
  const h = createHash('sha256').update(`addon-archive-v1\0${addon.metadata.name}\0${addon.metadata.version}\0`);
  for (const name of [...files.keys()].sort()) h.update(`${name}\0`).update(createHash('sha256').update(files.get(name)!).digest());
  return h.digest('hex');
}

/**
 * Rewrites and publishes every addon whose images, charts and files all arrived — never an addon
 * that would point at something missing (the previous published version stays). Then the git
 * mirror, with the rewritten files of those addons.
 */
export async function publishAddons(
  artifacts: AddonArtifacts,
  status: AddonMirrorStatus,
  ctx: { config: AirlockConfig; engine: Engine; logger: Logger; dryRun?: boolean; cacheDir?: string },
): Promise<{ addons: AddonPublishOutcome[]; git: GitMirrorOutcome[]; errors: AirlockError[] }> {
  const { config, engine } = ctx;
  const archives = ctx.cacheDir ? jsonFileCache<string>(path.join(ctx.cacheDir, '..', 'addon-archives')) : undefined;
  const section = config.addons!;
  const addons: AddonPublishOutcome[] = [];
  const git: GitMirrorOutcome[] = [];
  const errors: AirlockError[] = [];
  const targets = rewriteTargets(config, status);
  if (!addonChartRepository(config) && artifacts.charts.length > 0) {
    errors.push(new AirlockError('E_CONFIG', 'addons install charts but no chart repository is known: set addons.chartRepository or a targets.charts entry with a baseUrl', { artifact: 'addons.chartRepository' }));
  }
  const specs = section.publish.registries.map((t) => (typeof t === 'string' ? { url: t } : t));
  // One target per spec and registry for the whole run, however many catalogs publish to it.
  const chartTargets = new Map<string, ChartTarget | AirlockError>();
  const reported = new Set<AirlockError>();
  const targetOf = (specIndex: number, spec: (typeof specs)[number], registry: string): ChartTarget | AirlockError => {
    const key = `${specIndex}\0${registry}`;
    let t = chartTargets.get(key);
    if (!t) {
      try {
        t = addonRegistryTarget(engine, spec.url, registry, { ...('baseUrl' in spec && spec.baseUrl ? { baseUrl: spec.baseUrl } : {}), ...('contextPath' in spec && spec.contextPath ? { contextPath: spec.contextPath } : {}), ...('force' in spec && spec.force ? { force: true } : {}) });
      } catch (e) {
        t = toAirlockError(e, addonRegistryTargetSpec(spec.url, registry));
      }
      chartTargets.set(key, t);
    }
    return t;
  };

  for (const pc of artifacts.catalogs) {
    if (!pc.plan || !pc.catalog) continue;
    const ready: ReadyAddon[] = [];
    for (const scan of pc.plan.scans) {
      const p = scan.plan;
      const base = { registry: p.registry, addon: p.addon, version: p.version, rewrites: [] as RewriteChange[] };
      const missing = blockers(p, status, section.definitionImages);
      if (missing.length) {
        const error = new AirlockError('E_NOT_FOUND', `not published: ${missing.length} artifact(s) it needs did not arrive (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`, { artifact: `addon ${p.registry}/${p.addon}@${p.version}` });
        addons.push({ ...base, target: '', status: 'failed', warnings: [], error });
        errors.push(error);
        continue;
      }
      const rewrite = rewriteAddon(scan, targets, { definitions: section.definitionImages });
      const warnings = [...rewrite.warnings, ...(status.filesUnmirrored && p.urls.length ? [`${p.urls.length} runtime URL(s) left upstream: targets.files is not set`] : [])];
      if (rewrite.errors.length) {
        // Published, it would pull from upstream in the air gap: it fails, the previous version stays.
        const [firstError] = rewrite.errors;
        const more = rewrite.errors.length > 1 ? ` (and ${rewrite.errors.length - 1} more)` : '';
        const error = new AirlockError('E_UNSUPPORTED', `not published: a reference it needs cannot point at the mirror: ${firstError}${more}`, { artifact: `addon ${p.registry}/${p.addon}@${p.version}` });
        addons.push({ ...base, target: '', status: 'failed', warnings: [...warnings, ...rewrite.errors.slice(1)], error });
        errors.push(error);
        continue;
      }
      ready.push({ scan, rewrite, warnings });
      if (specs.length === 0) addons.push({ ...base, target: '', status: ctx.dryRun ? 'planned' : 'unchanged', rewrites: rewrite.changes, warnings });
    }

    // Each addon is packaged at most once per run, whatever the number of targets — and not at all
    // when every target already holds the archive these same files made last time.
    const publishable = ready.filter(({ scan, rewrite, warnings }) => {
      const p = scan.plan;
      if (isSemverVersion(p.version)) return true;
      for (const spec of specs) addons.push({ registry: p.registry, addon: p.addon, version: p.version, target: spec.url, status: 'failed', rewrites: rewrite.changes, warnings, error: new AirlockError('E_UNSUPPORTED', `version "${p.version}" is not semver; a helm-type addon registry cannot serve it`, { artifact: `addon ${p.registry}/${p.addon}` }) });
      return false;
    });
    const packaged = new Map<Addon, PackagedAddon>();
    const keys = new Map<Addon, string>();
    const keyOf = (entry: ReadyAddon): string => {
      let key = keys.get(entry.scan.addon);
      if (!key) keys.set(entry.scan.addon, (key = contentKey(entry.scan.addon, entry.rewrite.files)));
      return key;
    };
    const packageOf = async (entry: ReadyAddon): Promise<PackagedAddon> => {
      let pkg = packaged.get(entry.scan.addon);
      if (!pkg) {
        pkg = { ...(await packageAddon(entry.scan.addon, entry.rewrite.files)), addon: entry.scan.addon };
        packaged.set(entry.scan.addon, pkg);
        await archives?.set(keyOf(entry), pkg.digest).catch(() => undefined);
      }
      return pkg;
    };
    const registries = [...new Set(publishable.map((e) => e.scan.plan.registry))];
    for (const [specIndex, spec] of specs.entries()) {
      for (const registry of registries) {
        const entries = publishable.filter((e) => e.scan.plan.registry === registry);
        const label = addonRegistryTargetSpec(spec.url, registry);
        const outcome = (e: ReadyAddon, status: AddonPublishOutcome['status'], location: string, digest?: string, error?: AirlockError): AddonPublishOutcome => ({
          registry,
          addon: e.scan.addon.metadata.name,
          version: e.scan.addon.metadata.version,
          target: location,
          status,
          ...(digest ? { digest } : {}),
          rewrites: e.rewrite.changes,
          warnings: e.warnings,
          ...(error ? { error } : {}),
        });
        const failed = (e: ReadyAddon, error: AirlockError) => {
          errors.push(error);
          addons.push(outcome(e, 'failed', label, undefined, error));
        };
        if (ctx.dryRun) {
          for (const e of entries) {
            try {
              addons.push(outcome(e, 'planned', label, (await packageOf(e)).digest));
            } catch (err) {
              failed(e, toAirlockError(err, `addon ${registry}/${e.scan.addon.metadata.name}`));
            }
          }
          continue;
        }
        const target = targetOf(specIndex, spec, registry);
        if (target instanceof AirlockError) {
          // The error once per target, each addon that could not go there failed with it.
          if (!reported.has(target)) errors.push(target);
          reported.add(target);
          for (const e of entries) addons.push(outcome(e, 'failed', label, undefined, target));
          continue;
        }
        const publishEntries: AddonPublishEntry[] = [];
        for (const e of entries) {
          const knownDigest = await archives?.get(keyOf(e)).catch(() => undefined);
          const { name, version } = e.scan.addon.metadata;
          publishEntries.push({ addon: e.scan.addon, name, version, ...(knownDigest ? { knownDigest } : {}), pack: () => packageOf(e) });
        }
        for (const r of await publishAddonRegistry(publishEntries, target)) {
          if (r.error) errors.push(r.error);
          addons.push(outcome(entries.find((x) => x.scan.addon === r.addon)!, r.status, r.location, r.digest, r.error));
        }
      }
    }

    const gitTarget = section.publish.git;
    if (gitTarget) {
      const base = { catalog: pc.config.name, remote: await gitRemoteDisplay(gitTarget.remote), branch: gitTarget.branch };
      if (!pc.catalog.repoDir || !pc.catalog.commit) {
        const error = new AirlockError('E_CONFIG', 'publish.git needs a git catalog source (source: a git URL)', { artifact: `catalog ${pc.config.name}` });
        errors.push(error);
        git.push({ ...base, status: 'failed', error });
        continue;
      }
      if (ctx.dryRun) {
        git.push({ ...base, status: 'planned' });
        continue;
      }
      const rewritten = new Map<string, Buffer>();
      const folders = new Map((pc.config.registries ?? DEFAULT_CATALOG_REGISTRIES).map((r) => [r.name, r.path]));
      for (const { scan, rewrite } of ready) {
        const folder = folders.get(scan.plan.registry);
        if (!folder) continue;
        for (const f of rewrite.changedFiles) rewritten.set(`${folder}/${scan.addon.dir}/${f}`, rewrite.files.get(f)!);
      }
      try {
        const { mirrorCatalogGit } = await import('../addons/git-mirror.js');
        const r = await mirrorCatalogGit({ repoDir: pc.catalog.repoDir, upstreamCommit: pc.catalog.commit, remote: withGitCredentials(gitTarget.remote), branch: gitTarget.branch, rewritten, logger: ctx.logger });
        git.push({ ...base, status: r.status === 'pushed' ? 'copied' : 'unchanged', commit: r.branchCommit });
      } catch (e) {
        const error = toAirlockError(e, `git ${base.remote}`);
        errors.push(error);
        git.push({ ...base, status: 'failed', error });
      }
    }
  }
  return { addons, git, errors };
}

/**
 * Mirrors each chart version the addons need to every chart target, trying its sources in order
 * until one delivers to all targets. Only when none does is the chart failed.
 */
export async function mirrorAddonCharts(
  groups: AddonChartGroup[],
  ctx: ChartJobContext & { config: AirlockConfig; dryRun?: boolean },
): Promise<{ outcomes: ChartOutcome[]; failed: Set<string>; errors: AirlockError[] }> {
  const outcomes: ChartOutcome[] = [];
  const failed = new Set<string>();
  const errors: AirlockError[] = [];
  const limit = pLimit(ctx.config.concurrency.images);
  await Promise.all(
    groups.map((g) =>
      limit(async () => {
        const attempts: ChartOutcome[] = [];
        for (const alt of g.alternatives) {
          const plan = await planCharts({ ...ctx.config, charts: [chartEntryFor(alt)] }, ctx.engine, ctx.repos, { dryRun: ctx.dryRun });
          const tried: ChartOutcome[] = plan.failures.map((f) => ({ source: `${alt.repo} ${alt.chart}@${alt.version ?? '*'}`, target: '', error: f.error, durationMs: 0 }));
          for (const p of plan.payloads) {
            const t0 = Date.now();
            const source = `${p.source} ${p.chart}@${p.version}`;
            try {
              tried.push({ source, target: p.target, result: await mirrorChart(p, ctx), durationMs: Date.now() - t0 });
            } catch (e) {
              tried.push({ source, target: p.target, error: toAirlockError(e, source), durationMs: Date.now() - t0 });
            }
          }
          if (tried.length > 0 && tried.every((o) => o.result)) {
            outcomes.push(...tried);
            return;
          }
          attempts.push(...tried);
        }
        failed.add(g.key);
        outcomes.push(...attempts);
        errors.push(...attempts.flatMap((o) => (o.error ? [o.error] : [])));
      }),
    ),
  );
  return { outcomes, failed, errors };
}

export type { AddonPublishOutcome, GitMirrorOutcome };
