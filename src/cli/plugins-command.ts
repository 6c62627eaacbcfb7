import { Command, Option } from 'commander';
import { loadRunConfig } from '../plan/config-check.js';
import { AirlockError, exitCodeForErrors } from '../core/errors.js';
import { printErrorLines } from './print-errors.js';
import type { PluginOutcome } from '../jobs/register-plugins.js';
import { loadPluginManifests, repositoryClientFor, type ManifestSource } from '../plugins/plugin-sources.js';
import { redact } from '../core/secrets.js';
import { withSyncEngine } from './run-sync.js';
import { STATE_OPTION_HELP } from './state-store.js';

type ManifestOpts = ManifestSource & { config?: string };

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function pluginsCommand(): Command {
  const plugins = new Command('plugins').description(
    'mirror plugin images and register them with the SpaceONE / Cloudforet Repository service',
  );
  plugins
    .command('sync')
    .description('mirror each plugin image to the target registry, then register or update the plugin (idempotent)')
    .option('-c, --config <file>', 'config file (plugins: section; needed unless --dry-run)')
    .option('--manifests <path>', 'a manifest file or directory, instead of plugins.manifests')
    .option('--image-prefix <path>', 'path below the registry host (default plugins.target.path)')
    .addOption(
      new Option('--registry-type <type>', 'registry_type for the requests').choices([
        'HARBOR',
        'DOCKER_HUB',
        'AWS_PRIVATE_ECR',
        'GITHUB',
        'GCP_PRIVATE_GCR',
      ]),
    )
    .option('--dry-run', 'call nothing; print the requests that would be sent (every valid plugin as a register)')
    .option('--json', 'print JSON')
    .option('--state <file>', STATE_OPTION_HELP)
    .option(
      '--plain-http <host>',
      'speak plain HTTP to this registry (repeatable; loopback is plain by default)',
      collect,
    )
    .option('--tls-skip-verify <host>', 'do not verify TLS certificates of this registry (repeatable)', collect)
    .option('--verify-targets', 'check every image at its target, even where the mirror state vouches for it')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (
        opts: ManifestOpts & {
          dryRun?: boolean;
          json?: boolean;
          state?: string;
          plainHttp?: string[];
          tlsSkipVerify?: string[];
          verifyTargets?: boolean;
          logLevel: string;
        },
      ) => {
        const config = opts.config ? await loadRunConfig(opts.config) : undefined;
        const { manifests, problems } = loadPluginManifests(opts, config?.plugins);
        const problemErrors = problems.map((p) => p.error);
        if (opts.dryRun) {
          const calls = manifests.map((m) => ({ method: 'register' as const, request: m.request }));
          if (opts.json) process.stdout.write(`${JSON.stringify(calls, null, 2)}\n`);
          else {
            for (const m of manifests) {
              process.stdout.write(
                `register  ${m.request.plugin_id}  image=${m.request.image}  resource_type=${m.request.resource_type}\n`,
              );
              for (const w of m.warnings) process.stdout.write(`          warning: ${w}\n`);
            }
            process.stdout.write(`${manifests.length} plugins valid, ${problems.length} invalid\n`);
          }
          printErrorLines(problemErrors);
          if (problems.length > 0) process.exitCode = 2;
          return;
        }
        if (!config || !opts.config)
          throw new AirlockError(
            'E_USAGE',
            'plugins sync needs --config (plugins.target, plugins.service) unless --dry-run',
          );
        const section = config.plugins;
        if (!section) throw new AirlockError('E_CONFIG', `${opts.config}: plugins: section is missing`);
        // The client first: a config problem there must not leave Redis or files open.
        const client = await repositoryClientFor(config, opts.config);
        const { mirrorAndRegisterPlugins } = await import('../jobs/register-plugins.js');
        try {
          const engineSetup = {
            config,
            stateFile: opts.state,
            plainHttp: opts.plainHttp,
            tlsSkipVerify: opts.tlsSkipVerify,
            verifyTargets: opts.verifyTargets,
            logLevel: opts.logLevel,
          };
          const outcomes: PluginOutcome[] = await withSyncEngine(engineSetup, (engine, logger) =>
            mirrorAndRegisterPlugins(manifests, section, {
              engine,
              logger,
              client,
              concurrency: config.concurrency.images,
            }),
          );
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify(
                outcomes.map((o) => ({
                  ...o,
                  error: o.error ? { code: o.error.code, message: redact(o.error.message) } : undefined,
                })),
                null,
                2,
              )}\n`,
            );
          } else {
            for (const o of outcomes) {
              process.stdout.write(
                `${(o.registration?.action ?? 'failed').padEnd(10)} ${o.plugin_id}  image=${o.image}  tags=${o.mirrored.join(',') || '-'}${o.registration ? `  versions=${o.registration.versions.join(',')}` : ''}\n`,
              );
              for (const w of o.warnings) process.stdout.write(`           warning: ${w}\n`);
            }
          }
          const errors = [...problemErrors, ...outcomes.flatMap((o) => (o.error ? [o.error] : []))];
          printErrorLines(errors);
          if (errors.length > 0) process.exitCode = exitCodeForErrors(errors);
        } finally {
          client.close();
        }
      },
    );

  plugins
    .command('list')
    .description('what the Repository service holds (local repository) against what the config wants')
    .requiredOption('-c, --config <file>', 'config file (plugins: section)')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = await loadRunConfig(opts.config);
      const { manifests } = loadPluginManifests({}, config.plugins);
      const client = await repositoryClientFor(config, opts.config);
      const { LOCAL_REPOSITORY } = await import('../spaceone/registrar.js');
      try {
        const held = await client.list({ repository_id: LOCAL_REPOSITORY });
        const byId = new Map(held.map((p) => [p.plugin_id, p]));
        const rows = [...new Set([...manifests.map((m) => m.request.plugin_id), ...held.map((p) => p.plugin_id)])]
          .sort()
          .map((id) => {
            const want = manifests.find((m) => m.request.plugin_id === id);
            const have = byId.get(id);
            const state = !have
              ? 'missing'
              : !want
                ? 'not in config'
                : have.image !== want.request.image
                  ? 'image differs'
                  : 'registered';
            return {
              plugin_id: id,
              state,
              wanted_image: want?.request.image ?? null,
              registered_image: have?.image ?? null,
            };
          });
        if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else
          for (const r of rows)
            process.stdout.write(
              `${r.state.padEnd(14)} ${r.plugin_id}  ${r.registered_image ?? r.wanted_image ?? ''}\n`,
            );
      } finally {
        client.close();
      }
    });
  return plugins;
}
