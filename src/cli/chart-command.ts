import fs from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { openChartArchive } from '../charts/chart-archive.js';
import { chartImages, mergeValues } from '../charts/chart-images.js';
import { defaultConfig } from '../config/defaults.js';
import { loadRunConfig } from '../plan/config-check.js';
import { createEngine, type Engine } from '../app/engine.js';
import { AirlockError } from '../core/errors.js';
import { mirrorChart } from '../jobs/mirror-chart.js';
import { createLogger } from '../core/log.js';
import { createHelmRepoReader, type HelmRepoReader } from '../sources/helm-repo.js';
import { fetchOciChart } from '../sources/oci-chart.js';
import { CONFIG_FILE_LIMIT, readTextBounded } from '../core/bounded-read.js';
import { refuseUrlCredentials } from '../core/url-credentials.js';
import { checkName } from '../core/names.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * `CHART@VERSION` → parts; the version may itself contain `@`-free build metadata (`1.0.0+abc`).
 * Both name files and OCI repositories and tags at the target, so they are checked here.
 */
export function parseChartSpec(spec: string): { chart: string; version: string } {
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) throw new AirlockError('E_USAGE', `expected CHART@VERSION, got "${spec}"`);
  const chart = checkName('chart-name', spec.slice(0, at), { field: 'chart name in CHART@VERSION', code: 'E_USAGE' });
  const version = checkName('version', spec.slice(at + 1), { field: 'version in CHART@VERSION', code: 'E_USAGE' });
  return { chart, version };
}

async function engineFor(
  configFile: string | undefined,
  logLevel: string,
): Promise<{ engine: Engine; repos: () => HelmRepoReader }> {
  const config = configFile ? await loadRunConfig(configFile) : defaultConfig();
  const engine = createEngine({ config, logger: createLogger({ level: logLevel }) });
  return { engine, repos: () => createHelmRepoReader(engine, { maxIndexBytes: config.limits.chartIndexBytes }) };
}

async function loadArchive(
  engine: Engine,
  repos: () => HelmRepoReader,
  args: string[],
): Promise<{ tgz: Buffer; artifact: string }> {
  const [first, second] = args;
  if (!first)
    throw new AirlockError(
      'E_USAGE',
      'chart images needs CHART.tgz, REPO_URL CHART@VERSION, or oci://HOST/PATH/CHART:VERSION',
    );
  refuseUrlCredentials(first, 'REPO_URL');
  if (first.startsWith('oci://')) {
    const m = /^(oci:\/\/.+)\/([^/:]+):([^/]+)$/.exec(first);
    if (!m?.[1] || !m[2] || !m[3])
      throw new AirlockError('E_USAGE', 'expected oci://HOST/PATH/CHART:VERSION', { artifact: first });
    const chart = checkName('chart-name', m[2], { field: 'chart name', artifact: first, code: 'E_USAGE' });
    const version = checkName('version', m[3].replace(/_/g, '+'), {
      field: 'version',
      artifact: first,
      code: 'E_USAGE',
    });
    const r = await fetchOciChart(engine, m[1], chart, version);
    return { tgz: r.tgz, artifact: first };
  }
  if (/^https?:\/\//.test(first)) {
    if (!second) throw new AirlockError('E_USAGE', 'REPO_URL needs CHART@VERSION');
    const { chart, version } = parseChartSpec(second);
    const r = await repos().fetchChart(first, chart, version);
    return { tgz: r.tgz, artifact: `${first} ${second}` };
  }
  try {
    return { tgz: fs.readFileSync(first), artifact: first };
  } catch (e) {
    throw new AirlockError(
      'E_USAGE',
      `cannot read ${first}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

export function chartCommand(): Command {
  const chart = new Command('chart').description('mirror Helm charts and list the images they need');

  chart
    .command('copy')
    .description('copy one chart version, unchanged, with its provenance')
    .argument('<source>', 'classic repository URL or oci://HOST[:PORT]/PATH')
    .argument('<chart@version>', 'chart name and version')
    .argument('<target>', 'oci://HOST[:PORT]/PATH, cm+http(s)://HOST[:PORT][/TENANT] (ChartMuseum) or a directory')
    .option('--base-url <url>', 'public URL of a directory target (default: relative URLs in index.yaml)')
    .option('--context-path <path>', 'ChartMuseum --context-path')
    .option('--force', 'let ChartMuseum overwrite a different chart of the same version')
    .option('--dry-run', 'fetch and check; write nothing')
    .option('-c, --config <file>', 'config file (registries, credentials)')
    .option('--json', 'print the result as JSON')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (
        source: string,
        spec: string,
        target: string,
        opts: {
          baseUrl?: string;
          contextPath?: string;
          force?: boolean;
          dryRun?: boolean;
          config?: string;
          json?: boolean;
          logLevel: string;
        },
      ) => {
        const { chart: name, version } = parseChartSpec(spec);
        refuseUrlCredentials(source, 'SOURCE');
        refuseUrlCredentials(target, 'TARGET');
        if (opts.baseUrl) refuseUrlCredentials(opts.baseUrl, '--base-url');
        const { engine, repos } = await engineFor(opts.config, opts.logLevel);
        try {
          const r = await mirrorChart(
            {
              source,
              chart: name,
              version,
              target,
              ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
              ...(opts.contextPath ? { contextPath: opts.contextPath } : {}),
              ...(opts.force ? { force: true } : {}),
              ...(opts.dryRun ? { dryRun: true } : {}),
            },
            { engine, logger: engine.logger, repos: repos() },
          );
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(r, null, 2)}\n`
              : `${r.status.padEnd(9)} ${r.source} -> ${r.target}${r.digest ? ` sha256:${r.digest.slice(0, 12)}` : ''}\n`,
          );
        } finally {
          await engine.close();
        }
      },
    );

  chart
    .command('images')
    .description('print the container images a chart needs, with where each was found')
    .argument('<chart...>', 'CHART.tgz | REPO_URL CHART@VERSION | oci://HOST/PATH/CHART:VERSION')
    .option('-f, --values <file>', 'values overrides (YAML), as helm -f (repeatable)', collect)
    .option('-c, --config <file>', 'config file (registries, credentials)')
    .option('--json', 'print a JSON array')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (args: string[], opts: { values?: string[]; config?: string; json?: boolean; logLevel: string }) => {
      const { engine, repos } = await engineFor(opts.config, opts.logLevel);
      try {
        let overrides: Record<string, unknown> = {};
        for (const f of opts.values ?? []) {
          let doc: unknown;
          try {
            doc = parseYaml(readTextBounded(f, CONFIG_FILE_LIMIT));
          } catch (e) {
            throw new AirlockError('E_USAGE', `values file ${f}: ${(e as Error).message.split('\n')[0]}`);
          }
          overrides = mergeValues(overrides, (doc ?? {}) as Record<string, unknown>);
        }
        const { tgz, artifact } = await loadArchive(engine, repos, args);
        const images = chartImages(await openChartArchive(tgz, artifact), overrides, artifact);
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(images, null, 2)}\n`
            : images.map((i) => `${i.image}\t${i.foundIn}`).join('\n') + (images.length ? '\n' : ''),
        );
      } catch (e) {
        if (e instanceof AirlockError) throw e.artifact ? e : e.about(args.join(' '));
        throw e;
      } finally {
        await engine.close();
      }
    });

  return chart;
}
