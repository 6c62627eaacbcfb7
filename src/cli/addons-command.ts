import path from 'node:path';
import { Command } from 'commander';
import type { CatalogContents, CatalogRegistry } from '../addons/catalog-dir.js';
import { readCatalog } from '../addons/catalog-source.js';
import type { AddonPlan } from '../addons/discover.js';
import { planCatalog } from '../addons/plan-catalog.js';
import { AirlockError } from '../core/errors.js';
import { refuseUrlCredentials } from '../core/url-credentials.js';
import { cacheDirsIn, defaultStateFile } from '../config/cache-dirs.js';
import { STATE_OPTION_HELP } from './state-store.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function parseRegistryOption(values: string[] | undefined): CatalogRegistry[] | undefined {
  if (!values?.length) return undefined;
  return values.map((v) => {
    const [name, folder] = v.split('=');
    if (!name || !folder)
      throw new AirlockError('E_USAGE', `--registry expects NAME=FOLDER (e.g. official=addons), got "${v}"`);
    return { name, path: folder };
  });
}

/** The same place `addons sync` uses without a config: beside the default mirror state. */
function defaultCatalogCache(): string {
  return cacheDirsIn(path.dirname(defaultStateFile())).catalogs;
}

function printPlan(plans: AddonPlan[]): void {
  const out: string[] = [];
  for (const p of plans) {
    out.push(
      `${p.registry}/${p.addon} ${p.version}  images ${p.images.length}  charts ${p.charts.length}  urls ${p.urls.length}  definition images ${p.definitionImages.length}${p.dependencies.length ? `  depends on ${p.dependencies.join(', ')}` : ''}`,
    );
    for (const i of p.images) out.push(`  image            ${i}`);
    for (const c of p.charts)
      out.push(
        `  chart            ${c.chart}${c.version ? `@${c.version}` : ''} from ${c.repo}${c.repoType === 'helm' ? '' : ` (${c.repoType})`}`,
      );
    for (const u of p.urls) out.push(`  url              ${u}`);
    for (const i of p.definitionImages) out.push(`  definition image ${i}`);
    for (const w of p.warnings) out.push(`  warning          ${w}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

export function addonsCommand(): Command {
  const addons = new Command('addons').description('mirror the KubeVela addon catalog: plan, rewrite, publish');

  addons
    .command('plan')
    .description('discover what every addon needs: images, Helm charts, remote URLs, definition images')
    .option('--catalog <dir|git-url>', 'catalog checkout directory or git URL')
    .option('--helm <url>', 'a helm-type addon registry (index.yaml + addon .tgz) instead of a catalog')
    .option('--helm-name <name>', 'addon registry name for --helm', 'official')
    .option('--ref <ref>', 'git branch, tag or commit (git catalogs)')
    .option('--addon <name>', 'only this addon and its dependencies (repeatable)', collect)
    .option(
      '--registry <name=folder>',
      'catalog folder served as an addon registry (repeatable; default official=addons, experimental=experimental/addons)',
      collect,
    )
    .option(
      '--cache-dir <dir>',
      'where git catalogs are cloned (default $XDG_CACHE_HOME/airlock/catalogs, else ~/.cache/airlock/catalogs)',
    )
    .option('--json', 'print one JSON array, one object per addon')
    .action(
      async (opts: {
        catalog?: string;
        helm?: string;
        helmName: string;
        ref?: string;
        addon?: string[];
        registry?: string[];
        cacheDir?: string;
        json?: boolean;
      }) => {
        if (!opts.catalog === !opts.helm)
          throw new AirlockError('E_USAGE', 'give one of --catalog DIR|GIT_URL and --helm URL');
        if (opts.helm) refuseUrlCredentials(opts.helm, '--helm');
        if (opts.catalog) refuseUrlCredentials(opts.catalog, '--catalog', 'git');
        const registries = parseRegistryOption(opts.registry);
        let catalog: CatalogContents;
        if (opts.helm) {
          const { createEngine } = await import('../app/engine.js');
          const { defaultConfig } = await import('../config/defaults.js');
          const { silentLogger } = await import('../core/log.js');
          const { readHelmAddonRegistry } = await import('../addons/helm-addon-registry.js');
          const engine = createEngine({ config: defaultConfig(), logger: silentLogger() });
          try {
            catalog = await readHelmAddonRegistry(engine, opts.helm, opts.helmName, {
              ...(opts.addon ? { addons: opts.addon } : {}),
            });
          } finally {
            await engine.close();
          }
        } else {
          catalog = await readCatalog(
            { catalog: opts.catalog!, ...(opts.ref ? { ref: opts.ref } : {}), ...(registries ? { registries } : {}) },
            { cacheDir: opts.cacheDir ?? defaultCatalogCache() },
          );
        }
        const plan = planCatalog(catalog, { ...(opts.addon ? { addons: opts.addon } : {}) });
        for (const w of plan.warnings)
          process.stderr.write(
            `airlock: warning: ${w.registry}/${w.addon}${w.file ? ` (${w.file})` : ''}: ${w.message}\n`,
          );
        if (opts.json) process.stdout.write(`${JSON.stringify(plan.plans, null, 2)}\n`);
        else printPlan(plan.plans);
        if (opts.addon?.length && plan.warnings.some((w) => w.registry === '*')) process.exitCode = 5;
      },
    );

  addons
    .command('sync')
    .description(
      'mirror the configured catalogs: charts, images and files the addons need, then rewrite and publish the addons',
    )
    .requiredOption('-c, --config <file>', 'config file with an addons: section')
    .option('--dry-run', 'resolve and compare; copy and publish nothing')
    .option('--json', 'print the run report as JSON')
    .option('--state <file>', STATE_OPTION_HELP)
    .option('--verify-targets', 'check every image at its target, even where the mirror state vouches for it')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (opts: {
        config: string;
        dryRun?: boolean;
        json?: boolean;
        state?: string;
        verifyTargets?: boolean;
        logLevel: string;
      }) => {
        const { loadRunConfig } = await import('../plan/config-check.js');
        const { runSync } = await import('./run-sync.js');
        const config = await loadRunConfig(opts.config);
        if (!config.addons)
          throw new AirlockError('E_CONFIG', 'the config has no addons: section', { artifact: opts.config });
        process.exitCode = await runSync({
          config,
          kinds: ['addons'],
          json: opts.json,
          dryRun: opts.dryRun,
          stateFile: opts.state,
          verifyTargets: opts.verifyTargets,
          logLevel: opts.logLevel,
        });
      },
    );

  return addons;
}
