import { AirlockError } from '../core/errors.js';
import { envVarForRegistry } from '../oci/credentials.js';
import { registerCredentials } from '../core/secrets.js';

/** `AIRLOCK_GIT_AUTH_GIT_INTERNAL=user:token` → credentials for https://git.internal/… (named like the registry variables). */
function gitAuthEnvVar(host: string): string {
  return envVarForRegistry(host, 'GIT_AUTH');
}

/**
 * Adds credentials from the environment to an http(s) git URL that carries none, so tokens live
 * in env vars, never in the config; they are registered for redaction.
 */
export function withGitCredentials(url: string, env: NodeJS.ProcessEnv = process.env): string {
  let u: URL;
  try {
    if (!/^https?:\/\//.test(url)) return url;
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.username) return url;
  const value = env[gitAuthEnvVar(u.host)];
  if (!value) return url;
  const i = value.indexOf(':');
  if (i <= 0) throw new AirlockError('E_CONFIG', `${gitAuthEnvVar(u.host)} must be "username:token"`);
  registerCredentials(value.slice(0, i), value.slice(i + 1));
  u.username = encodeURIComponent(value.slice(0, i));
  u.password = encodeURIComponent(value.slice(i + 1));
  return u.toString();
}
