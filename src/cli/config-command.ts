import { Command } from 'commander';
import { loadConfig } from '../config/load.js';

export function configCommand(): Command {
  const config = new Command('config').description('work with airlock config files');
  config
    .command('check')
    .description(
      'validate a config file (schedules too, as the scheduler reads them); exits 2 naming the key path of the first problem',
    )
    .argument('<file>', 'config file')
    .action((file: string) => {
      const c = loadConfig(file, { checkSchedules: true });
      process.stdout.write(`${file}: ok (${c.images.length} image entries, ${c.registries.length} registries)\n`);
    });
  return config;
}
