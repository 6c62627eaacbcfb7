import { AirlockError } from '../core/errors.js';
import { registerSecret } from '../core/secrets.js';
import { FileTooLargeError, readTextBounded, SECRET_FILE_LIMIT } from '../core/bounded-read.js';

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
