import { Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { AirlockError } from '../errors.js';
import { runSync, type SyncKind } from './run-sync.js';

const KINDS: SyncKind[] = ['images', 'charts', 'files', 'addons', 'plugins'];

export function syncCommand(): Command {
  return new Command('sync')
    .description('one-shot, in-process sync of the config: addon catalogs, charts (and the images they need), images, files and Botkube plugin repositories')
    .requiredOption('-c, --config <file>', 'config file')
    .option('--only <kinds>', `comma-separated subset of: ${KINDS.join(', ')}`)
    .option('--dry-run', 'resolve and compare; copy nothing')
    .option('--json', 'print the run report as JSON')
    .option('--queue [name]', 'enqueue the run for the workers (Redis) and follow it to the end')
    .option('--state <file>', 'mirror state file (default: Redis from config, else ~/.cache/airlock)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('warn'))
    .action(async (opts: { config: string; only?: string; dryRun?: boolean; json?: boolean; state?: string; queue?: string | boolean; logLevel: string }) => {
      const config = loadConfig(opts.config);
      const kinds = opts.only ? opts.only.split(',').map((k) => k.trim()) : KINDS;
      const unknown = kinds.filter((k) => !KINDS.includes(k as SyncKind));
      if (unknown.length) throw new AirlockError('E_USAGE', `--only: unknown kind "${unknown.join(', ')}" (use ${KINDS.join(', ')})`);
      if (opts.queue) {
        if (opts.dryRun) throw new AirlockError('E_USAGE', '--dry-run runs in-process only; drop --queue');
        const set = new Set(kinds);
        const single = set.size === 1 ? [...set][0] : undefined;
        // A queued run covers one scope; a mix of kinds runs everything.
        const scope = single ?? 'all';
        const { syncThroughQueue } = await import('./schedule-command.js');
        process.exitCode = await syncThroughQueue(config, opts.config, scope, { ...(typeof opts.queue === 'string' ? { queue: opts.queue } : {}), json: opts.json });
        return;
      }
      process.exitCode = await runSync({ config, kinds: kinds as SyncKind[], json: opts.json, dryRun: opts.dryRun, stateFile: opts.state, logLevel: opts.logLevel });
    });
}
