import { Command } from 'commander';
import { loadRunConfig } from '../plan/config-check.js';

export function configCommand(): Command {
  const config = new Command('config').description('work with airlock config files');
  config
    .command('check')
    .description(
      'validate a config file as every command would (schedules too, as the scheduler reads them, and every secret it names); exits 2 naming the key path of each problem',
    )
    .argument('<file>', 'config file')
    .option(
      '--no-secrets',
      'check the form of secret references but do not read them (a CI job without the production secrets)',
    )
    .action(async (file: string, opts: { secrets: boolean }) => {
      const c = await loadRunConfig(file, { checkSchedules: true, checkSecrets: opts.secrets });
      process.stdout.write(
        `${file}: ok (${c.images.length} image entries, ${c.registries.length} registries${opts.secrets ? '' : '; secrets not read'})\n`,
      );
    });
  return config;
}
