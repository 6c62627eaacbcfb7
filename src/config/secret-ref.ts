import { AirlockError } from '../core/errors.js';
import { registerSecret } from '../core/secrets.js';
import { FileTooLargeError, readTextBounded, SECRET_FILE_LIMIT } from '../core/bounded-read.js';
import type { AirlockConfig } from './schema.js';

/** A secret is never written in the config: it names an environment variable or a file. */
export type SecretRef = { env: string } | { file: string };

// The messages keep "KEY reads …" rather than "KEY: …": the redactor takes the word after
// "password:" or "token:" for a secret, and the operator would read "*** variable … is not set".
export function resolveSecret(ref: SecretRef, keyPath: string, env: NodeJS.ProcessEnv = process.env): string {
  let value: string | undefined;
  if ('env' in ref) {
    value = env[ref.env];
    if (value === undefined || value === '')
      throw new AirlockError('E_CONFIG', `${keyPath} reads environment variable ${ref.env}, which is not set`);
  } else {
    try {
      value = readTextBounded(ref.file, SECRET_FILE_LIMIT).replace(/\r?\n$/, '');
    } catch (e) {
      if (e instanceof FileTooLargeError)
        throw new AirlockError(
          'E_CONFIG',
          `${keyPath} reads secret file ${ref.file}, which is ${e.message}, too large for a secret`,
        );
      throw new AirlockError(
        'E_CONFIG',
        `${keyPath} reads secret file ${ref.file}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    if (value === '') throw new AirlockError('E_CONFIG', `${keyPath} reads secret file ${ref.file}, which is empty`);
  }
  registerSecret(value);
  return value;
}

/** The Redis URL of a config: a plain `redis://` URL (no password) or a secret reference. */
export function redisUrlOf(
  config: { redis?: { url: string | SecretRef } },
  file = 'config',
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (!config.redis) throw new AirlockError('E_CONFIG', `${file}: redis.url is required for this command`);
  if (typeof config.redis.url === 'string') return config.redis.url;
  const url = resolveSecret(config.redis.url, 'redis.url', env);
  // The password alone may turn up in a message (a client echoing its AUTH): redact it too.
  try {
    registerSecret(decodeURIComponent(new URL(url).password));
  } catch {
    // Not a URL: the client will say so; the whole value is registered already.
  }
  return url;
}

/**
 * Every secret reference of a config with its key path: what the commands resolve when they need
 * it (registries as an engine starts, Redis as a command connects, the others by the job or
 * server that uses them).
 */
export function secretRefs(config: AirlockConfig): { keyPath: string; ref: SecretRef }[] {
  const refs: { keyPath: string; ref: SecretRef }[] = [];
  const add = (keyPath: string, ref: SecretRef | undefined) => {
    if (ref) refs.push({ keyPath, ref });
  };
  config.registries.forEach((r, i) => add(`registries[${i}].password`, r.password));
  if (config.redis && typeof config.redis.url !== 'string') add('redis.url', config.redis.url);
  config.botkube.forEach((b, i) =>
    Object.entries(b.headers ?? {}).forEach(([k, ref]) => add(`botkube[${i}].headers.${k}`, ref)),
  );
  add('plugins.service.token', config.plugins?.service?.token);
  add('serve.adminToken', config.serve?.adminToken);
  add('serve.github.secret', config.serve?.github?.secret);
  add('serve.registry.token', config.serve?.registry?.token);
  add('serve.generic.token', config.serve?.generic?.token);
  return refs;
}

/** Why each secret of a config cannot be read here (unset variable, missing or empty file), as `config check` reports them. */
export function secretProblems(config: AirlockConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  for (const { keyPath, ref } of secretRefs(config)) {
    try {
      resolveSecret(ref, keyPath, env);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}
