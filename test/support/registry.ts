import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
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
  /** Serve HTTPS with this certificate (see selfSignedCertificate). */
  tls?: { certFile: string; keyFile: string };
  /** A fixed loopback port (README examples name one); default a free one. */
  port?: number;
}

/** A self-signed certificate for 127.0.0.1 (openssl), for registries served over TLS. */
export function selfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'registry.crt');
  const keyFile = path.join(dir, 'registry.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    {
      stdio: 'ignore',
    },
  );
  return { certFile, keyFile };
}

export function registryBinary(): string | undefined {
  for (const candidate of [
    process.env.AIRLOCK_TEST_REGISTRY_BIN,
    '/usr/bin/docker-registry',
    '/usr/local/bin/registry',
  ]) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  try {
    return (
      execFileSync('sh', ['-c', 'command -v docker-registry || command -v registry'], { encoding: 'utf8' }).trim() ||
      undefined
    );
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
  if (opts.tls) lines.push('  tls:', `    certificate: ${opts.tls.certFile}`, `    key: ${opts.tls.keyFile}`);
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
  const port = opts.port ?? (await freePort());
  const configFile = path.join(work, 'config.yml');
  fs.writeFileSync(configFile, configYaml(storage, `127.0.0.1:${port}`, opts, work));
  const child: ChildProcess = spawn(bin, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
      const status = opts.tls ? await tlsStatus(`${url}/v2/`) : (await fetch(`${url}/v2/`)).status;
      return status === 200 || status === 401;
    }, `registry on ${url}`);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${stderr}`, { cause: e });
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

/** GET status of a URL served with a self-signed certificate (fetch would refuse it). */
function tlsStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
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
  if (opts.token)
    container = container
      .withBindMounts([{ source: opts.token.certFile, target: opts.token.certFile }])
      .withNetworkMode('host');
  if (opts.tls)
    container = container.withBindMounts([opts.tls.certFile, opts.tls.keyFile].map((f) => ({ source: f, target: f })));
  const started = await container.start();
  const host = `127.0.0.1:${started.getMappedPort(5000)}`;
  return {
    host,
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
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
