import { createHash } from 'node:crypto';
import { isSemverVersion, type Addon } from '../addons/addon.js';
import { blockers, type AddonArtifacts, type AddonMirrorStatus } from '../addons/artifacts.js';
import { DEFAULT_CATALOG_REGISTRIES } from '../addons/catalog-dir.js';
import type { AddonScan } from '../addons/discover.js';
import { withGitCredentials } from '../addons/git-credentials.js';
import { packageAddon, type PackagedAddon } from '../addons/package-addon.js';
import {
  addonRegistryTarget,
  addonRegistryTargetSpec,
  publishAddonRegistry,
  type AddonPublishEntry,
} from '../addons/publish-addon-registry.js';
import { rewriteAddon, type AddonRewrite, type RewriteChange } from '../addons/rewrite.js';
import { addonChartRepository, rewriteTargets } from '../addons/rewrite-targets.js';
import type { AirlockConfig } from '../config/schema.js';
import type { CacheDirs } from '../config/cache-dirs.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { jsonFileCache } from '../core/fs-atomic.js';
import type { Logger } from '../core/log.js';
import { redact } from '../core/secrets.js';

import type { ChartTarget } from '../targets/chart-target.js';
import type { ItemStatus } from '../model/report.js';
import type { ChartTargetAccess } from '../targets/parse-chart-target.js';

/** One addon published to one registry, as the report shows it. */
export interface AddonPublishOutcome {
  registry: string;
  addon: string;
  version: string;
  target: string;
  status: ItemStatus;
  digest?: string;
  /** Each reference rewritten to its mirror (old → new). */
  rewrites: RewriteChange[];
  warnings: string[];
  error?: AirlockError;
}

export interface GitMirrorOutcome {
  catalog: string;
  remote: string;
  branch: string;
  status: ItemStatus;
  commit?: string;
  error?: AirlockError;
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
  for (const name of [...files.keys()].sort())
    h.update(`${name}\0`).update(createHash('sha256').update(files.get(name)!).digest());
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
  ctx: {
    config: AirlockConfig;
    engine: ChartTargetAccess;
    logger: Logger;
    dryRun?: boolean;
    cacheDirs?: Pick<CacheDirs, 'addonArchives'>;
  },
): Promise<{ addons: AddonPublishOutcome[]; git: GitMirrorOutcome[]; errors: AirlockError[] }> {
  const { config, engine } = ctx;
  const archives = ctx.cacheDirs ? jsonFileCache<string>(ctx.cacheDirs.addonArchives) : undefined;
  const section = config.addons!;
  const addons: AddonPublishOutcome[] = [];
  const git: GitMirrorOutcome[] = [];
  const errors: AirlockError[] = [];
  const targets = rewriteTargets(config, status);
  if (!addonChartRepository(config) && artifacts.charts.length > 0) {
    errors.push(
      new AirlockError(
        'E_CONFIG',
        'addons install charts but no chart repository is known: set addons.chartRepository or a targets.charts entry with a baseUrl',
        { artifact: 'addons.chartRepository' },
      ),
    );
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
        t = addonRegistryTarget(engine, spec.url, registry, {
          ...('baseUrl' in spec && spec.baseUrl ? { baseUrl: spec.baseUrl } : {}),
          ...('contextPath' in spec && spec.contextPath ? { contextPath: spec.contextPath } : {}),
          ...('force' in spec && spec.force ? { force: true } : {}),
        });
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
        const error = new AirlockError(
          'E_NOT_FOUND',
          `not published: ${missing.length} artifact(s) it needs did not arrive (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`,
          { artifact: `addon ${p.registry}/${p.addon}@${p.version}` },
        );
        addons.push({ ...base, target: '', status: 'failed', warnings: [], error });
        errors.push(error);
        continue;
      }
      const rewrite = rewriteAddon(scan, targets, { definitions: section.definitionImages });
      const warnings = [
        ...rewrite.warnings,
        ...(status.filesUnmirrored && p.urls.length
          ? [`${p.urls.length} runtime URL(s) left upstream: targets.files is not set`]
          : []),
      ];
      if (rewrite.errors.length) {
        // Published, it would pull from upstream in the air gap: it fails, the previous version stays.
        const [firstError] = rewrite.errors;
        const more = rewrite.errors.length > 1 ? ` (and ${rewrite.errors.length - 1} more)` : '';
        const error = new AirlockError(
          'E_UNSUPPORTED',
          `not published: a reference it needs cannot point at the mirror: ${firstError}${more}`,
          { artifact: `addon ${p.registry}/${p.addon}@${p.version}` },
        );
        addons.push({
          ...base,
          target: '',
          status: 'failed',
          warnings: [...warnings, ...rewrite.errors.slice(1)],
          error,
        });
        errors.push(error);
        continue;
      }
      ready.push({ scan, rewrite, warnings });
      if (specs.length === 0)
        addons.push({
          ...base,
          target: '',
          status: ctx.dryRun ? 'planned' : 'unchanged',
          rewrites: rewrite.changes,
          warnings,
        });
    }

    // Each addon is packaged at most once per run, whatever the number of targets — and not at all
    // when every target already holds the archive these same files made last time.
    const publishable = ready.filter(({ scan, rewrite, warnings }) => {
      const p = scan.plan;
      if (isSemverVersion(p.version)) return true;
      for (const spec of specs)
        addons.push({
          registry: p.registry,
          addon: p.addon,
          version: p.version,
          target: spec.url,
          status: 'failed',
          rewrites: rewrite.changes,
          warnings,
          error: new AirlockError(
            'E_UNSUPPORTED',
            `version "${p.version}" is not semver; a helm-type addon registry cannot serve it`,
            { artifact: `addon ${p.registry}/${p.addon}` },
          ),
        });
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
        const outcome = (
          e: ReadyAddon,
          status: AddonPublishOutcome['status'],
          location: string,
          digest?: string,
          error?: AirlockError,
        ): AddonPublishOutcome => ({
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
          publishEntries.push({
            addon: e.scan.addon,
            name,
            version,
            ...(knownDigest ? { knownDigest } : {}),
            pack: () => packageOf(e),
          });
        }
        for (const r of await publishAddonRegistry(publishEntries, target)) {
          if (r.error) errors.push(r.error);
          addons.push(
            outcome(
              entries.find((x) => x.scan.addon === r.addon)!,
              r.status,
              r.location,
              r.digest,
              r.error,
            ),
          );
        }
      }
    }

    const gitTarget = section.publish.git;
    if (gitTarget) {
      const base = {
        catalog: pc.config.name,
        remote: await gitRemoteDisplay(gitTarget.remote),
        branch: gitTarget.branch,
      };
      if (!pc.catalog.repoDir || !pc.catalog.commit) {
        const error = new AirlockError('E_CONFIG', 'publish.git needs a git catalog source (source: a git URL)', {
          artifact: `catalog ${pc.config.name}`,
        });
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
        const r = await mirrorCatalogGit({
          repoDir: pc.catalog.repoDir,
          upstreamCommit: pc.catalog.commit,
          remote: withGitCredentials(gitTarget.remote),
          branch: gitTarget.branch,
          rewritten,
          logger: ctx.logger,
        });
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
