import os from 'node:os';
import path from 'node:path';
import { AirlockError } from '../core/errors.js';
import { registerCredentials } from '../core/secrets.js';
import { CONFIG_FILE_LIMIT, readTextBounded } from '../core/bounded-read.js';
import type { CredentialLookup, Credentials } from './auth.js';
import { DOCKER_HUB } from '../http/registry-host.js';

/** `AIRLOCK_AUTH_127_0_0_1_5000=user:password` (or `AIRLOCK_TOKEN_…`) → registry `127.0.0.1:5000`. */
export function envVarForRegistry(registry: string, kind: 'AUTH' | 'TOKEN' | 'GIT_AUTH' = 'AUTH'): string {
  return `AIRLOCK_${kind}_${registry.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function splitUserPass(value: string, where: string): Credentials {
  const i = value.indexOf(':');
  if (i <= 0) throw new AirlockError('E_CONFIG', `${where} must be "username:password"`);
  const creds = { username: value.slice(0, i), password: value.slice(i + 1) };
  registerCredentials(creds.username, creds.password);
  return creds;
}

/** Docker's config.json keys: `https://index.docker.io/v1/` for Hub, else host (sometimes with scheme). */
function dockerConfigKeys(registry: string): string[] {
  if (registry === DOCKER_HUB)
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

export function readDockerConfig(file: string): Map<string, Credentials> {
  const out = new Map<string, Credentials>();
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    parsed = JSON.parse(readTextBounded(file, CONFIG_FILE_LIMIT)) as typeof parsed;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw new AirlockError('E_CONFIG', `cannot read docker config ${file}: ${(e as Error).message}`);
  }
  for (const [key, entry] of Object.entries(parsed.auths ?? {})) {
    if (entry.auth) {
      out.set(key, splitUserPass(Buffer.from(entry.auth, 'base64').toString('utf8'), `auth for ${key} in ${file}`));
    } else if (entry.username && entry.password) {
      registerCredentials(entry.username, entry.password);
      out.set(key, { username: entry.username, password: entry.password });
    }
  }
  return out;
}

export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  const dir = env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/**
 * Credentials in order of precedence: the config file's `registries:` entries (whose secrets
 * come from env or files), `AIRLOCK_AUTH_<HOST>` variables, then a docker `config.json`.
 */
export function createCredentialLookup(options: {
  configured?: Map<string, Credentials>;
  env?: NodeJS.ProcessEnv;
  dockerConfigPath?: string | false;
}): CredentialLookup {
  const env = options.env ?? process.env;
  let docker: Map<string, Credentials> | undefined;
  return (registry) => {
    const configured = options.configured?.get(registry);
    if (configured) return configured;
    const fromEnv = env[envVarForRegistry(registry)];
    if (fromEnv) return splitUserPass(fromEnv, envVarForRegistry(registry));
    if (options.dockerConfigPath === false) return undefined;
    docker ??= readDockerConfig(options.dockerConfigPath ?? defaultDockerConfigPath(env));
    for (const key of dockerConfigKeys(registry)) {
      const c = docker.get(key);
      if (c) return c;
    }
    return undefined;
  };
}
