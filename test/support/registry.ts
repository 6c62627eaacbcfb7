import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort, waitFor } from './ports.js';
import type { TokenIssuer } from './token-issuer.js';

/**
 * Docker's distribution registry for tests: the Debian `docker-registry` binary on a free loopback
 * port with a temporary storage directory, or, where the binary is missing and a Docker engine
 * exists, the `registry:2` image through testcontainers.
 */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  url: string;
  storage: string;
  /** Path of a blob's data file in the registry's storage (to corrupt it in tests). */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  htpasswd?: { username: string; password: string };
  token?: TokenIssuer;
}

export function registryBinary(): string | undefined {
  for (const candidate of [process.env.AIRLOCK_TEST_REGISTRY_BIN, '/usr/bin/docker-registry', '/usr/local/bin/registry']) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v docker-registry || command -v registry'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function configYaml(storage: string, addr: string, opts: RegistryOptions, authDir: string): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${addr}`,
    `  secret: ${Math.random().toString(36).slice(2)}`,
  ];
  if (opts.htpasswd) {
    const file = path.join(authDir, 'htpasswd');
    fs.writeFileSync(file, `${opts.htpasswd.username}:${bcrypt.hashSync(opts.htpasswd.password, 5)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: airlock-test', `    path: ${file}`);
  } else if (opts.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${opts.token.realm}`,
      `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`,
      `    rootcertbundle: ${opts.token.certFile}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function blobFileIn(storage: string) {
  return (digest: string) => {
    const hex = digest.split(':')[1] ?? '';
    return path.join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  };
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const bin = registryBinary();
  if (!bin) return startRegistryContainer(opts);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-registry-'));
  const storage = path.join(work, 'storage');
  fs.mkdirSync(storage);
  const port = await freePort();
  const configFile = path.join(work, 'config.yml');
  fs.writeFileSync(configFile, configYaml(storage, `127.0.0.1:${port}`, opts, work));
  const child: ChildProcess = spawn(bin, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
      const res = await fetch(`${url}/v2/`);
      return res.status === 200 || res.status === 401;
    }, `registry on ${url}`);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    storage,
    blobFile: blobFileIn(storage),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Fallback for machines without the binary: needs a Docker engine. */
async function startRegistryContainer(opts: RegistryOptions): Promise<TestRegistry> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-registry-'));
  const config = configYaml('/var/lib/registry', '0.0.0.0:5000', opts, work).replaceAll(work, '/auth');
  fs.writeFileSync(path.join(work, 'config.yml'), config);
  let container = new GenericContainer('registry:2')
    .withExposedPorts(5000)
    .withBindMounts([{ source: work, target: '/auth' }])
    .withCommand(['/auth/config.yml'])
    .withWaitStrategy(Wait.forListeningPorts());
  if (opts.token) container = container.withBindMounts([{ source: opts.token.certFile, target: opts.token.certFile }]).withNetworkMode('host');
  const started = await container.start();
  const host = `127.0.0.1:${started.getMappedPort(5000)}`;
  return {
    host,
    url: `http://${host}`,
    storage: '/var/lib/registry',
    blobFile: () => {
      throw new Error('blob files are not reachable inside a container');
    },
    async stop() {
      await started.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
