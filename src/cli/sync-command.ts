import { Command, Option } from 'commander';
import { loadRunConfig } from '../plan/config-check.js';
import { AirlockError } from '../core/errors.js';
import { ALL_KINDS, resolveScope } from '../config/scope.js';
import { seconds } from './number-options.js';
import { runSync } from './run-sync.js';
import type { SyncKind } from '../config/scope.js';
import { STATE_OPTION_HELP } from './state-store.js';

export function syncCommand(): Command {
  return new Command('sync')
    .description(
      'one-shot, in-process sync of the config: addon catalogs, charts (and the images they need), images, files, Botkube plugin repositories and SpaceONE plugins',
    )
    .requiredOption('-c, --config <file>', 'config file')
    .option('--only <kinds>', `comma-separated subset of: ${ALL_KINDS.join(', ')}`)
    .option(
      '--source <kind:name>',
      'one named source only: addons:CATALOG, botkube:REPO, charts:CHART or images:SOURCE',
    )
    .option('--dry-run', 'resolve and compare; copy nothing')
    .option('--json', 'print the run report as JSON')
    .option(
      '--queue [name]',
      'enqueue the run for the workers (Redis) and follow it to the end; --config must be the config the workers run',
    )
    .option('--use-worker-config', "with --queue: run the workers' config even when it differs from --config")
    .option(
      '--unclaimed-after <seconds>',
      'with --queue: say when no worker has taken the run after this long',
      seconds('--unclaimed-after'),
      30,
    )
    .option('--state <file>', STATE_OPTION_HELP)
    .option('--verify-targets', 'check every image at its target, even where the mirror state vouches for it')
    .addOption(
      new Option('--log-level <level>', 'log level on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('warn'),
    )
    .action(
      async (opts: {
        config: string;
        only?: string;
        source?: string;
        dryRun?: boolean;
        json?: boolean;
        state?: string;
        queue?: string | boolean;
        useWorkerConfig?: boolean;
        unclaimedAfter: number;
        verifyTargets?: boolean;
        logLevel: string;
      }) => {
        // Usage first: a mistyped flag is named whatever the config holds.
        if (opts.source && opts.only) throw new AirlockError('E_USAGE', 'give --only or --source, not both');
        const only = opts.only?.split(',').map((k) => k.trim());
        const unknown = (only ?? []).filter((k) => !ALL_KINDS.includes(k as SyncKind));
        if (unknown.length)
          throw new AirlockError(
            'E_USAGE',
            `--only: unknown kind "${unknown.join(', ')}" (use ${ALL_KINDS.join(', ')})`,
          );
        const loaded = await loadRunConfig(opts.config);
        let config = loaded;
        let named: SyncKind[] | undefined;
        if (opts.source) {
          const resolved = opts.source.includes(':') ? resolveScope(config, opts.source) : undefined;
          if (!resolved)
            throw new AirlockError(
              'E_USAGE',
              `--source: "${opts.source}" names nothing in ${opts.config} (addons:CATALOG, botkube:REPO, charts:CHART, images:SOURCE)`,
            );
          config = resolved.config;
          named = resolved.kinds;
        }
        const kinds = named ?? only ?? ALL_KINDS;
        if (opts.queue) {
          if (opts.dryRun) throw new AirlockError('E_USAGE', '--dry-run runs in-process only; drop --queue');
          if (opts.verifyTargets)
            throw new AirlockError(
              'E_USAGE',
              '--verify-targets runs in-process only; for the workers set state.trustTargetSeconds: 0 in their config',
            );
          const set = new Set(kinds);
          const single = set.size === 1 ? [...set][0] : undefined;
          // A queued run covers one scope; a mix of kinds runs everything.
          const scope = opts.source ?? single ?? 'all';
          const { syncThroughQueue } = await import('./schedule-command.js');
          // The whole config, not the part --source picked: the workers compare it with their own.
          process.exitCode = await syncThroughQueue(loaded, opts.config, scope, {
            ...(typeof opts.queue === 'string' ? { queue: opts.queue } : {}),
            json: opts.json,
            useWorkerConfig: opts.useWorkerConfig,
            unclaimedAfterMs: opts.unclaimedAfter * 1000,
          });
          return;
        }
        process.exitCode = await runSync({
          config,
          kinds: kinds as SyncKind[],
          json: opts.json,
          dryRun: opts.dryRun,
          stateFile: opts.state,
          verifyTargets: opts.verifyTargets,
          logLevel: opts.logLevel,
        });
      },
    );
}
