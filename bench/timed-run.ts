/**
 * Times one command and samples its peak RSS, from a process of its own: `node timed-run.js
 * REQUEST_JSON` prints the measurement as JSON. The bench does not time commands itself because
 * starting a process costs its parent time in proportion to the parent's memory (the page tables
 * fork copies): from the bench process, which holds the seeded images, 20-40 ms more than from a
 * small one, added to every tool's wall time alike and so weighing most on the shortest runs.
 *
 * Kept free of imports beyond Node's own, so that this process stays small.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface TimedRequest {
  cmd: string;
  args: string[];
  timeoutMs: number;
}

export interface Measured {
  seconds: number;
  peakRssMiB: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, timing it and sampling its peak RSS (VmHWM) from /proc until it exits. */
export function timeHere({ cmd, args, timeoutMs }: TimedRequest): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    // Decoded as streams, so a character split between chunks stays whole.
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited between samples
      }
    }, 50);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} timed out`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sample);
      clearTimeout(timer);
      resolve({
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakRssMiB: peak,
        code: code ?? -1,
        stdout,
        stderr,
      });
    });
  });
}

/** The bench's side: runs this file as a process of its own, with `env` for the command. */
export function timeInHelper(request: TimedRequest, env: NodeJS.ProcessEnv): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const helper = spawn(process.execPath, [import.meta.filename, JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    let out = '';
    helper.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    helper.on('error', reject);
    helper.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`helper exit ${code}`);
        resolve(JSON.parse(out) as Measured);
      } catch (e) {
        reject(new Error(`timing ${request.cmd} failed: ${(e as Error).message}`));
      }
    });
  });
}

if (process.argv[1] === import.meta.filename) {
  timeHere(JSON.parse(process.argv[2] ?? '{}') as TimedRequest).then(
    (m) => process.stdout.write(JSON.stringify(m)),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
