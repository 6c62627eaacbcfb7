import { Command, Option } from 'commander';
import { AirlockError, formatErrorLine } from '../errors.js';
import { MANAGED_PLUGIN_IDS } from '../plugins/managed-catalog.js';
import { readPluginManifests, type RegisterPluginRequest } from '../plugins/plugin-manifest.js';
import { redact } from '../secrets.js';

export function pluginsCommand(): Command {
  const plugins = new Command('plugins').description('register mirrored plugins with the SpaceONE / Cloudforet Repository service');
  plugins
    .command('sync')
    .description('validate plugin manifests and show the Repository service requests (registration itself: --dry-run only so far)')
    .requiredOption('--manifests <path>', 'a plugin manifest file or a directory of them (managed-plugin or spacectl register YAML)')
    .option('--image-prefix <path>', 'path below the registry host the images are mirrored to, e.g. cloudforet')
    .addOption(new Option('--registry-type <type>', 'registry_type for the requests').choices(['HARBOR', 'DOCKER_HUB', 'AWS_PRIVATE_ECR', 'GITHUB', 'GCP_PRIVATE_GCR']).default('HARBOR'))
    .option('--dry-run', 'call nothing; print the requests that would be sent')
    .option('--json', 'print one JSON array of {method, request}')
    .action((opts: { manifests: string; imagePrefix?: string; registryType: RegisterPluginRequest['registry_type']; dryRun?: boolean; json?: boolean }) => {
      if (!opts.dryRun) {
        throw new AirlockError('E_UNSUPPORTED', 'registration against a live Repository service is not implemented yet; use --dry-run to validate and preview the requests');
      }
      const { manifests, problems } = readPluginManifests(opts.manifests, { ...(opts.imagePrefix ? { imagePrefix: opts.imagePrefix } : {}), registryType: opts.registryType });
      for (const m of manifests) {
        if (MANAGED_PLUGIN_IDS.has(m.request.plugin_id)) {
          m.warnings.push(`plugin_id ${m.request.plugin_id} is also in the managed catalog, which shadows it for callers that do not pass repository_id`);
        }
      }
      // Without a reachable service every valid plugin is a register (spaceone-repository.md 5).
      const calls = manifests.map((m) => ({ method: 'register' as const, request: m.request }));
      if (opts.json) process.stdout.write(`${JSON.stringify(calls, null, 2)}\n`);
      else {
        for (const m of manifests) {
          process.stdout.write(`register  ${m.request.plugin_id}  image=${m.request.image}  resource_type=${m.request.resource_type}\n`);
          for (const w of m.warnings) process.stdout.write(`          warning: ${w}\n`);
        }
        process.stdout.write(`${manifests.length} plugins valid, ${problems.length} invalid\n`);
      }
      for (const p of problems) process.stderr.write(`airlock: ${redact(formatErrorLine(p.error))}\n`);
      if (problems.length > 0) process.exitCode = 2;
    });
  return plugins;
}
