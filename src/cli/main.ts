#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { AirlockError, formatErrorLine, toAirlockError } from '../errors.js';
import { redact } from '../secrets.js';
import { addonsCommand } from './addons-command.js';
import { chartCommand } from './chart-command.js';
import { configCommand } from './config-command.js';
import { pluginsCommand } from './plugins-command.js';
import { botkubeCommand, filesCommand } from './files-command.js';
import { imageCommand } from './image-command.js';
import { runsCommand, schedulerCommand, schedulesCommand } from './schedule-command.js';
import { serveCommand } from './serve-command.js';
import { syncCommand } from './sync-command.js';
import { workerCommand } from './worker-command.js';

export function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Mirror what an air-gapped KubeVela / SpaceONE platform needs into private registries')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(imageCommand());
  program.addCommand(syncCommand());
  program.addCommand(chartCommand());
  program.addCommand(addonsCommand());
  program.addCommand(filesCommand());
  program.addCommand(botkubeCommand());
  program.addCommand(pluginsCommand());
  program.addCommand(configCommand());
  program.addCommand(workerCommand());
  program.addCommand(schedulerCommand());
  program.addCommand(schedulesCommand());
  program.addCommand(runsCommand());
  program.addCommand(serveCommand());
  return program;
}

/** Every error ends here: one line on stderr, secrets redacted, the code's exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help, the version or its own usage message.
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = e instanceof AirlockError ? e : toAirlockError(e);
    process.stderr.write(`airlock: ${redact(formatErrorLine(err))}\n`);
    return err.exitCode;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`airlock: internal error: ${redact(String(e))}\n`);
    process.exitCode = 1;
  },
);
