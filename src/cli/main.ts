import { Command, CommanderError } from 'commander';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { errorReport } from '../report/run-report.js';
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
    .version('0.1.0');
  const named = COMMANDS.find(([name]) => name === argv[2]);
  // The version needs no subcommand, and scripts ask for it: it should not load all of them.
  const versionOnly = argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V');
  const wanted = named ? [named] : versionOnly ? [] : COMMANDS;
  const factories = await Promise.all(wanted.map(([, load]) => load()));
  for (const make of factories) program.addCommand(make());
  throwUsageErrors(program);
  return program;
}

/** How long a failed command may take to wind down (log lines, closing connections) before it is ended. */
const FAILED_EXIT_GRACE_MS = 2000;

/**
 * Commander's usage errors (a missing option or argument, an unknown option or command) become
 * exceptions for `main` to print as one `[E_USAGE]` line and exit 2, like every other error,
 * instead of commander's own `error: …` text and process.exit(1). Subcommands built on their own
 * and added with addCommand do not inherit these settings, hence the walk over the whole tree.
 */
function throwUsageErrors(cmd: Command): void {
  cmd.exitOverride().configureOutput({ outputError: () => undefined });
  for (const sub of cmd.commands) throwUsageErrors(sub);
}

/** Commander's codes for help and the version: output asked for, or help of a group named alone. */
const NOT_ERRORS: ReadonlySet<string> = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

/** Every error ends here: one line on stderr, secrets redacted, the code's exit status. */
export async function main(argv: string[]): Promise<number> {
  const startedAt = new Date();
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help or the version is already printed; a group named without its subcommand printed its
      // help on stderr (commander's exit 1), a usage error like any other: 2.
      if (e.exitCode === 0) return 0;
      if (!NOT_ERRORS.has(e.code)) failed(usageError(e), argv, startedAt);
      return 2;
    }
    const err = e instanceof AirlockError ? e : toAirlockError(e);
    failed(err, argv, startedAt);
    return err.exitCode;
  }
}

/**
 * The one line on stderr; with `--json`, also a report with the error on stdout, since the command
 * failed before it printed its own: a script parsing stdout always finds one JSON object.
 */
function failed(err: AirlockError, argv: string[], startedAt: Date): void {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).includes('--json'))
    process.stdout.write(`${JSON.stringify(errorReport(err, startedAt), null, 2)}\n`);
  printErrorLines([err]);
}

/** Commander's message without its `error: ` prefix; a suggestion on a line of its own joins it. */
function usageError(e: CommanderError): AirlockError {
  return new AirlockError('E_USAGE', e.message.replace(/^error: /, ''));
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
