import { Command } from 'commander';
import { mirrorBotkubeRepository, type BotkubeMirrorResult } from '../botkube/mirror-plugin-index.js';
import { defaultConfig } from '../config/defaults.js';
import { loadRunConfig } from '../plan/config-check.js';
import { runSync } from './run-sync.js';
import { resolveSecret } from '../config/secret-ref.js';
import { createEngine } from '../app/engine.js';
import { AirlockError, exitCodeForErrors } from '../core/errors.js';
import { printErrorLines } from './print-errors.js';
import { createLogger } from '../core/log.js';
import { redact } from '../core/secrets.js';
import { checkName } from '../core/names.js';
import { refuseUrlCredentials } from '../core/url-credentials.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function printBotkube(r: BotkubeMirrorResult, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...r, failures: r.failures.map((f) => ({ code: f.code, artifact: f.artifact, message: redact(f.message) })) }, null, 2)}\n`,
    );
    return;
  }
  for (const f of r.files) process.stdout.write(`${f.status.padEnd(9)} ${f.source} -> ${f.url}\n`);
  if (r.indexUrl) process.stdout.write(`index     ${r.indexUrl}\n\n# Botkube values.yaml\n${r.values}`);
  else
    process.stdout.write(
      `index not written: ${r.failures.length} file(s) failed; the previous mirrored index stays in place\n`,
    );
}

export function botkubeCommand(): Command {
  const botkube = new Command('botkube').description('mirror Botkube plugin repositories to a static host');
  botkube
    .command('mirror')
    .description('mirror one plugin index with its binaries, dependencies and schemas')
    .argument('<index-url>', 'URL of plugins-index.yaml')
    .requiredOption('--to <dir>', 'static target directory')
    .requiredOption('--base-url <url>', 'public URL of that directory')
    .option('--name <name>', 'repository name in plugins.repositories', 'botkube')
    .option('--plugin <name>', 'only this plugin (name or type/name; repeatable)', collect)
    .option('--version <version>', 'versions to keep besides the newest (repeatable)', collect)
    .option(
      '--header-env <name=VAR>',
      'request header for the index, value from an environment variable (repeatable)',
      collect,
    )
    .option('--json', 'print the result as JSON')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (
        indexUrl: string,
        opts: {
          to: string;
          baseUrl: string;
          name: string;
          plugin?: string[];
          version?: string[];
          headerEnv?: string[];
          json?: boolean;
          logLevel: string;
        },
      ) => {
        // The name is a directory under --to: one path segment, and the config's rule for botkube[].name.
        checkName('path-segment', opts.name, { field: '--name', code: 'E_USAGE' });
        if (!/^[A-Za-z0-9_-]+$/.test(opts.name))
          throw new AirlockError(
            'E_USAGE',
            `--name "${opts.name}" may hold letters, digits, - and _ only (as botkube[].name)`,
          );
        refuseUrlCredentials(indexUrl, 'INDEX_URL');
        refuseUrlCredentials(opts.baseUrl, '--base-url');
        const headers: Record<string, string> = {};
        for (const h of opts.headerEnv ?? []) {
          const [name, variable] = h.split('=');
          if (!name || !variable) throw new AirlockError('E_USAGE', `--header-env expects Name=ENV_VAR, got "${h}"`);
          headers[name] = resolveSecret({ env: variable }, `header ${name} (--header-env)`);
        }
        const engine = createEngine({ config: defaultConfig(), logger: createLogger({ level: opts.logLevel }) });
        try {
          const r = await mirrorBotkubeRepository(
            engine,
            { dir: opts.to, baseUrl: opts.baseUrl },
            {
              name: opts.name,
              indexUrl,
              headers,
              ...(opts.plugin ? { plugins: opts.plugin } : {}),
              ...(opts.version ? { versions: opts.version } : {}),
            },
          );
          printBotkube(r, opts.json);
          printErrorLines(r.failures);
          process.exitCode = exitCodeForErrors(r.failures);
        } finally {
          await engine.close();
        }
      },
    );
  return botkube;
}

export function filesCommand(): Command {
  const files = new Command('files').description('mirror plugin binaries and files to a static host');
  files
    .command('sync')
    .description(
      "mirror the config's files: and botkube: sections to targets.files (the same as airlock sync --only files)",
    )
    .requiredOption('-c, --config <file>', 'config file')
    .option('--json', 'print the run report as JSON')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (opts: { config: string; json?: boolean; logLevel: string }) => {
      const config = await loadRunConfig(opts.config);
      if (config.files.length === 0 && config.botkube.length === 0)
        throw new AirlockError('E_CONFIG', `${opts.config}: files: and botkube: are empty, nothing to sync`);
      process.exitCode = await runSync({ config, kinds: ['files'], json: opts.json, logLevel: opts.logLevel });
    });
  return files;
}
