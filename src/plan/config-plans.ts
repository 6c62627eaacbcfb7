import type { AirlockConfig } from '../config/schema.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../model/file-payloads.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import type { PluginManifest } from '../plugins/plugin-manifest.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { chartEntryKey } from './retry-plan.js';

/**
 * The config sections turned into payloads, the same way for the in-process run and for the plan
 * step of a queued run. Each returns the entries it could not plan, for `runs retry`.
 * Chart, image-plan and plugin code is imported only when a section has entries.
 */

export interface SectionPlan<P> {
  payloads: P[];
  failures: PlanFailure[];
  /** Config entries (their keys) whose planning failed: a retry plans them again. */
  retryEntries: string[];
}

const entriesThatFailed = (failures: PlanFailure[], keys: string[]) => {
  const entries = new Set(keys);
  return failures.map((f) => f.artifact).filter((a) => entries.has(a));
};

export async function planConfigCharts(
  config: AirlockConfig,
  engine: RegistryAccess,
  repos: HelmRepoReader,
  dryRun?: boolean,
): Promise<SectionPlan<MirrorChartPayload>> {
  if (config.charts.length === 0) return { payloads: [], failures: [], retryEntries: [] };
  const { planCharts } = await import('../sources/chart-plan.js');
  const plan = await planCharts(config, engine, repos, { dryRun });
  return { ...plan, retryEntries: entriesThatFailed(plan.failures, config.charts.map(chartEntryKey)) };
}

export async function planConfigImages(
  config: AirlockConfig,
  engine: RegistryAccess,
  dryRun?: boolean,
): Promise<SectionPlan<MirrorImagePayload>> {
  if (config.images.length === 0) return { payloads: [], failures: [], retryEntries: [] };
  const { planImages } = await import('../sources/image-plan.js');
  const plan = await planImages(config, engine, { dryRun });
  return {
    ...plan,
    retryEntries: entriesThatFailed(
      plan.failures,
      config.images.map((e) => e.source),
    ),
  };
}

/** `files:` and `botkube:` to `targets.files` (header values stay env/file references). */
export function planConfigFiles(config: AirlockConfig): {
  files: MirrorFilePayload[];
  botkube: MirrorBotkubePayload[];
  failures: PlanFailure[];
} {
  if (config.files.length === 0 && config.botkube.length === 0) return { files: [], botkube: [], failures: [] };
  const target = config.targets.files;
  if (!target)
    return {
      files: [],
      botkube: [],
      failures: [
        {
          artifact: 'files',
          error: new AirlockError('E_CONFIG', 'files: or botkube: is set but targets.files (dir, baseUrl) is not'),
        },
      ],
    };
  return {
    files: config.files.map((f) => ({ url: f.url, ...(f.checksum ? { checksum: f.checksum } : {}), target })),
    botkube: config.botkube.map((repo) => ({
      name: repo.name,
      url: repo.url,
      ...(repo.headers ? { headers: repo.headers } : {}),
      ...(repo.plugins ? { plugins: repo.plugins } : {}),
      ...(repo.versions ? { versions: repo.versions } : {}),
      target,
    })),
    failures: [],
  };
}

/** The plugin manifests of `plugins:`; an invalid one fails alone. */
export async function planConfigPlugins(
  config: AirlockConfig,
): Promise<{ manifests: PluginManifest[]; failures: PlanFailure[] }> {
  if (!config.plugins) return { manifests: [], failures: [] };
  const { loadPluginManifests } = await import('../plugins/plugin-sources.js');
  try {
    const { manifests, problems } = loadPluginManifests({}, config.plugins);
    return {
      manifests,
      failures: problems.map((p) => ({ artifact: p.error.artifact ?? 'plugins.manifests', error: p.error })),
    };
  } catch (e) {
    return { manifests: [], failures: [{ artifact: 'plugins', error: toAirlockError(e, 'plugins') }] };
  }
}
