import type { AirlockConfig, ChartEntry } from '../config/schema.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { MirrorChartPayload } from '../model/chart-payload.js';
import type { HelmRepoReader } from './helm-repo.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { parseOciChartUrl } from './oci-chart.js';
import { needsTagList, selectTags } from './tag-selection.js';
import { isValidName } from '../core/names.js';

export interface ChartPlan {
  payloads: MirrorChartPayload[];
  failures: PlanFailure[];
}

async function availableVersions(entry: ChartEntry, engine: RegistryAccess, repos: HelmRepoReader): Promise<string[]> {
  if (entry.repo.startsWith('oci://')) {
    const { registry, path } = parseOciChartUrl(entry.repo);
    const tags = await engine.client.listTags({ registry, repository: path ? `${path}/${entry.name}` : entry.name });
    // A tag list is the registry's word: only what could be a version names anything here.
    return tags.map((t) => t.replace(/_/g, '+')).filter((v) => isValidName('version', v));
  }
  const index = await repos.index(entry.repo);
  return (index.entries[entry.name] ?? []).map((v) => v.version);
}

/** Expands `charts:` into one copy per version and target; a repository that cannot be read fails alone. */
export async function planCharts(
  config: AirlockConfig,
  engine: RegistryAccess,
  repos: HelmRepoReader,
  options: { dryRun?: boolean } = {},
): Promise<ChartPlan> {
  const payloads: MirrorChartPayload[] = [];
  const failures: PlanFailure[] = [];
  if (config.charts.length > 0 && config.targets.charts.length === 0) {
    return {
      payloads,
      failures: [
        { artifact: 'charts', error: new AirlockError('E_CONFIG', 'charts: is set but targets.charts is empty') },
      ],
    };
  }
  await Promise.all(
    config.charts.map(async (entry) => {
      const artifact = `${entry.repo} ${entry.name}`;
      try {
        const selection = { tags: entry.versions, semver: entry.semver, newest: entry.newest };
        let versions: string[];
        if (needsTagList(selection)) versions = selectTags(await availableVersions(entry, engine, repos), selection);
        else if (entry.versions?.length) versions = entry.versions;
        else versions = selectTags(await availableVersions(entry, engine, repos), { newest: 1 });
        if (versions.length === 0)
          throw new AirlockError('E_NOT_FOUND', 'no version matches the selection', { artifact });
        for (const version of versions) {
          for (const t of config.targets.charts) {
            const target = typeof t === 'string' ? { url: t } : t;
            payloads.push({
              source: entry.repo,
              chart: entry.name,
              version,
              target: target.url,
              ...(target.baseUrl ? { baseUrl: target.baseUrl } : {}),
              ...(target.contextPath ? { contextPath: target.contextPath } : {}),
              ...(target.force ? { force: true } : {}),
              ...(entry.images ? { images: true } : {}),
              ...(entry.values ? { values: entry.values } : {}),
              ...(options.dryRun ? { dryRun: true } : {}),
            });
          }
        }
      } catch (e) {
        failures.push({ artifact, error: toAirlockError(e, artifact) });
      }
    }),
  );
  return { payloads, failures };
}
