import { configError, keyPath, loadConfig, type LoadOptions } from '../config/load.js';
import type { AirlockConfig } from '../config/schema.js';
import { secretProblems } from '../config/secret-ref.js';
import { parseImageRef, parseRegistryRef, type RegistryImageRef } from '../oci/reference.js';
import { parseOciChartUrl } from '../sources/oci-chart.js';
import { parseChartTargetSpec } from '../targets/chart-target-spec.js';
import { pathRuleProblem, targetRepository } from '../targets/image-target.js';

export interface RunConfigOptions extends LoadOptions {
  /**
   * Also read every secret the config names, as the commands that use them would (`config
   * check`). Off for the other commands: each resolves the secrets it needs as it starts, and a
   * worker does not hold the webhook server's tokens.
   */
  checkSecrets?: boolean;
}

/**
 * The config a command runs: the schema's checks (config/load.ts), then what a run would refuse in
 * the config itself — image references and where they land, chart targets, semver ranges — so a
 * bad config exits 2 at start naming its key path, whatever the command, and `config check` says
 * what every run would.
 */
export async function loadRunConfig(file: string, options: RunConfigOptions = {}): Promise<AirlockConfig> {
  const config = loadConfig(file, options);
  const problems = [...(await runConfigProblems(config)), ...(options.checkSecrets ? secretProblems(config) : [])];
  if (problems.length > 0) throw configError(file, problems);
  return config;
}

type KeyPath = (string | number)[];

/**
 * What a run would refuse in `config`, each problem beginning with its key path. The checks are
 * the run's own functions (reference grammar, the path rule, chart target specs, the semver
 * range reader), called on the config before anything is contacted; none asks an upstream.
 */
export async function runConfigProblems(config: AirlockConfig): Promise<string[]> {
  const problems: string[] = [];
  const add = (path: KeyPath, message: string) => problems.push(`${keyPath(path)}: ${message}`);
  const attempt = <T>(path: KeyPath, check: () => T): T | undefined => {
    try {
      return check();
    } catch (e) {
      add(path, (e as Error).message);
      return undefined;
    }
  };

  // Where `targets.images` sends an image: the rule alone (registry with a plain path), then per
  // entry, since the rendered path can break the repository grammar where the rule's parts do not.
  const rule = config.targets.images;
  let ruleOk = false;
  if (rule) {
    const pathProblem = pathRuleProblem(rule.path);
    if (pathProblem) add(['targets', 'images', 'path'], pathProblem);
    const sample: RegistryImageRef = { transport: 'docker', registry: 'docker.io', repository: 'library/x' };
    const registryOk = attempt(['targets', 'images', 'registry'], () =>
      parseImageRef(targetRepository(sample, { registry: rule.registry, path: 'x' }), { defaultTag: false }),
    );
    ruleOk = !pathProblem && registryOk !== undefined;
  }
  config.images.forEach((entry, i) => {
    const source = attempt(['images', i, 'source'], () => parseRegistryRef(entry.source, { defaultTag: false }));
    if (entry.target) attempt(['images', i, 'target'], () => parseImageRef(entry.target!, { defaultTag: false }));
    else if (!rule) add(['images', i], `no target: set images[${i}].target or targets.images.registry`);
    else if (source && ruleOk) {
      try {
        parseImageRef(targetRepository(source, rule), { defaultTag: false });
      } catch (e) {
        add(['targets', 'images', 'path'], `for images[${i}] (${entry.source}): ${(e as Error).message}`);
      }
    }
  });

  if (config.charts.length > 0 && config.targets.charts.length === 0)
    add(['charts'], 'is set but targets.charts is empty (every chart version goes to each targets.charts entry)');
  config.charts.forEach((entry, i) => {
    if (entry.repo.startsWith('oci://')) attempt(['charts', i, 'repo'], () => parseOciChartUrl(entry.repo));
  });
  config.targets.charts.forEach((t, i) =>
    typeof t === 'string'
      ? attempt(['targets', 'charts', i], () => parseChartTargetSpec(t))
      : attempt(['targets', 'charts', i, 'url'], () => parseChartTargetSpec(t.url)),
  );

  if (config.addons) {
    // Only a config with addons loads the addons module, for its `{registry}` substitution.
    const { addonRegistryTargetSpec } = await import('../addons/publish-addon-registry.js');
    config.addons.publish.registries.forEach((t, i) => {
      const path: KeyPath = ['addons', 'publish', 'registries', i, ...(typeof t === 'string' ? [] : ['url'])];
      attempt(path, () => parseChartTargetSpec(addonRegistryTargetSpec(typeof t === 'string' ? t : t.url, 'official')));
    });
  }

  // A plugin's image is `<source>/<image>`, mirrored to `docker://<target.registry>/<path>/<image>`:
  // both parts read with a stand-in image name, as the run joins them.
  const plugins = config.plugins;
  if (plugins) {
    attempt(['plugins', 'source'], () =>
      parseRegistryRef(`${plugins.source.replace(/\/+$/, '')}/x`, { defaultTag: false }),
    );
    attempt(['plugins', 'target', 'registry'], () =>
      parseRegistryRef(`docker://${plugins.target.registry}/x`, { defaultTag: false }),
    );
  }

  const ranges: [KeyPath, string][] = [];
  config.images.forEach((e, i) => e.semver !== undefined && ranges.push([['images', i, 'semver'], e.semver]));
  config.charts.forEach((c, i) => c.semver !== undefined && ranges.push([['charts', i, 'semver'], c.semver]));
  if (config.plugins?.semver !== undefined) ranges.push([['plugins', 'semver'], config.plugins.semver]);
  if (ranges.length > 0) {
    // semver is a bundle file of its own: only a config that selects by range loads it here.
    const { semverRangeProblem } = await import('../sources/tag-selection.js');
    for (const [path, range] of ranges) {
      const problem = semverRangeProblem(range);
      if (problem) add(path, problem);
    }
  }
  return problems;
}
