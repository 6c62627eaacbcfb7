import { Command, CommanderError } from 'commander';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { printErrorLines } from './print-errors.js';

type CommandFactory = () => Command;

/**
 * Every subcommand, loaded only when asked for: a one-shot `image copy` should not pay for
 * compiling the chart, plugin, queue and server code at start-up.
 */
const COMMANDS: ReadonlyArray<[name: string, load: () => Promise<CommandFactory>]> = [
  ['image', async () => (await import('./image-command.js')).imageCommand],
  ['sync', async () => (await import('./sync-command.js')).syncCommand],
  ['chart', async () => (await import('./chart-command.js')).chartCommand],
  ['addons', async () => (await import('./addons-command.js')).addonsCommand],
  ['files', async () => (await import('./files-command.js')).filesCommand],
  ['botkube', async () => (await import('./files-command.js')).botkubeCommand],
  ['plugins', async () => (await import('./plugins-command.js')).pluginsCommand],
  ['config', async () => (await import('./config-command.js')).configCommand],
  ['worker', async () => (await import('./worker-command.js')).workerCommand],
  ['scheduler', async () => (await import('./schedule-command.js')).schedulerCommand],
  ['schedules', async () => (await import('./schedule-command.js')).schedulesCommand],
  ['runs', async () => (await import('./schedule-command.js')).runsCommand],
  ['serve', async () => (await import('./serve-command.js')).serveCommand],
];

/**
 * The program with the subcommand named in `argv` only, none for `--version`, or all of them
 * when none is named (help, a typo that commander should answer with its suggestions).
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('airlock')
    .description('Mirror what an air-gapped KubeVela / SpaceONE platform needs into private registries')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const named = COMMANDS.find(([name]) => name === argv[2]);
  // The version needs no subcommand, and scripts ask for it: it should not load all of them.
  const versionOnly = argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V');
  const wanted = named ? [named] : versionOnly ? [] : COMMANDS;
  const factories = await Promise.all(wanted.map(([, load]) => load()));
  for (const make of factories) program.addCommand(make());
  return program;
}

/** How long a failed command may take to wind down (log lines, closing connections) before it is ended. */
const FAILED_EXIT_GRACE_MS = 2000;

/** Every error ends here: one line on stderr, secrets redacted, the code's exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help, the version or its own usage message.
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = e instanceof AirlockError ? e : toAirlockError(e);
    printErrorLines([err]);
    return err.exitCode;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // A command that failed has said why: whatever it left open (a connection, a timer) must not
    // keep it running. Unref'd, so a process with nothing left open exits at once, as before.
    if (code !== 0) setTimeout(() => process.exit(code), FAILED_EXIT_GRACE_MS).unref();
  },
  (e: unknown) => {
    process.stderr.write(`airlock: internal error: ${redact(String(e))}\n`);
    process.exitCode = 1;
  },
);
