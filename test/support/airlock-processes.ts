import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli.js';
import { freePort, waitFor } from './ports.js';

/** A long-running `airlock` process (worker or serve), as deployed: its own process, its own Redis connections. */
export interface AirlockProcess {
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv): AirlockProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-500_000);
  });
  return {
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** `airlock worker`; resolves once it says it started. */
export async function startWorkerProcess(
  config: string,
  queue: string,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
): Promise<AirlockProcess> {
  const p = start(['worker', '--config', config, '--queue', queue, '--log-level', 'info', ...extra], env);
  await waitFor(
    async () => {
      if (p.child.exitCode !== null) throw new Error(`worker exited: ${p.stderr()}`);
      return p.stderr().includes('worker started');
    },
    'airlock worker',
    200,
  );
  return p;
}

/** `airlock serve` on a free loopback port; resolves once /healthz answers. */
export async function startServeProcess(
  config: string,
  queue: string,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
): Promise<AirlockProcess & { url: string }> {
  const port = await freePort();
  const p = start(
    [
      'serve',
      '--config',
      config,
      '--queue',
      queue,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--log-level',
      'warn',
      ...extra,
    ],
    env,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (p.child.exitCode !== null) throw new Error(`serve exited: ${p.stderr()}`);
      return (await fetch(`${url}/healthz`)).status === 200;
    },
    'airlock serve',
    200,
  );
  return { ...p, url };
}
