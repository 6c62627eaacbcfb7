import { spawn } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'airlock.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as an operator would, with a bounded run time. */
export function airlock(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  return runProcess([process.execPath, CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeoutMs,
    name: `airlock ${args.join(' ')}`,
  });
}

/** Runs a command to its end with a bounded run time (killed and rejected past it). */
export function runProcess(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; name?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.name ?? argv.join(' ')} timed out\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
