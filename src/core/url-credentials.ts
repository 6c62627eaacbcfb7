import { AirlockError, type ErrorCode } from './errors.js';

/**
 * Credentials are never written inside a URL that airlock is given. A URL becomes a report line,
 * a state key, a job id and payload in Redis, a run's failure and a metrics label; a password in
 * it would be stored and shown in all of them, and a key holding it would change when the
 * password rotates. So such URLs are refused where they enter (config load, CLI arguments), with
 * a pointer to the places credentials do go: `registries[]` (secret from `{env}`/`{file}`) and the
 * `AIRLOCK_AUTH_<HOST>` / `AIRLOCK_TOKEN_<HOST>` / `AIRLOCK_GIT_AUTH_<HOST>` variables, which send
 * them as an Authorization header to that host only.
 */

/** What the URL is for, which decides where its credentials belong instead. */
export type UrlUse = 'http' | 'git' | 'image' | 'service';

// Query parameters that carry a credential: tokens, passwords, API keys, request signatures
// (S3/GCS presigned URLs, Azure SAS `sig`). Compared with `-` and `_` ignored, case-insensitive.
const SECRET_PARAM =
  /token|secret|passw|pwd|signature|credential|apikey|^(key|sig|auth|authorization|jwt|session|sessionid)$/i;

function envName(kind: 'AUTH' | 'TOKEN' | 'GIT_AUTH', host: string): string {
  return `AIRLOCK_${kind}_${(host || 'HOST').toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function hostOf(value: string): string {
  try {
    return new URL(value).host;
  } catch {
    return '';
  }
}

function instead(use: UrlUse, host: string): string {
  if (use === 'git') return `set ${envName('GIT_AUTH', host)}=user:token instead`;
  if (use === 'service') return 'the service credential goes in plugins.service.token ({ env } or { file })';
  const where = host ? `a registries[] entry for ${host}` : 'a registries[] entry';
  // Worded so the redactor's `password: value` pattern finds nothing to blank in it.
  const basic = `use ${where} (username, and a password from { env } or { file }) or ${envName('AUTH', host)}=user:password`;
  // Registries take tokens through their own token flow; other hosts take a bearer token as it is.
  return use === 'image' ? basic : `${basic}, or ${envName('TOKEN', host)}=TOKEN for a bearer token`;
}

/** The names of query parameters of `value` that carry a credential. */
export function secretQueryParams(value: string): string[] {
  const q = value.indexOf('?');
  if (q < 0) return [];
  const query = value.slice(q + 1).split('#')[0] ?? '';
  const names = new Set<string>();
  for (const pair of query.split('&')) {
    const raw = pair.split('=')[0] ?? '';
    let name: string;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      name = raw;
    }
    if (name && SECRET_PARAM.test(name.replace(/[-_]/g, ''))) names.add(name);
  }
  return [...names];
}

/**
 * Why `value` may not be given as it is (it carries a credential), or undefined. The message never
 * repeats the credential. Values without a scheme are paths (or, for images, references).
 */
export function urlCredentialProblem(value: string, use: UrlUse = 'http'): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (!scheme) {
    // An image reference's registry part: `user:pass@host/repo` is no reference but would be printed as one.
    if (use === 'image') {
      const registry = value.replace(/^docker:\/\//, '').split('/')[0] ?? '';
      if (registry.includes('@') && value.includes('/'))
        return `carries credentials before the registry (user:password@); ${instead('image', registry.split('@').pop() ?? '')}`;
    }
    return undefined;
  }
  const authority = value.slice(scheme[0].length).split(/[/?#]/)[0] ?? '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const host = authority.slice(at + 1);
    // ssh and git transports name the account in the URL (ssh://git@host/…); only a password is a secret there.
    const sshUser = use === 'git' && /^(ssh|git\+ssh|ssh\+git)$/i.test(scheme[1] ?? '') && !userinfo.includes(':');
    if (!sshUser) return `carries credentials in the URL (user:password@ or token@); ${instead(use, host)}`;
  }
  const params = secretQueryParams(value);
  if (params.length > 0) {
    return `carries a credential in its query string (parameter ${params.join(', ')}); ${instead(use, hostOf(value))}`;
  }
  return undefined;
}

/** Returns `value` when it carries no credential; else throws a one-line error naming `field`. */
export function refuseUrlCredentials(
  value: string,
  field: string,
  use: UrlUse = 'http',
  code: ErrorCode = 'E_USAGE',
): string {
  const problem = urlCredentialProblem(value, use);
  if (problem) throw new AirlockError(code, `${field} ${problem}`);
  return value;
}

/**
 * A URL as it may be shown or used as a label: no user information, and the values of credential
 * query parameters replaced by `***`. For URLs that did not come from the operator (an upstream's
 * index, a redirect) and so were never checked at the door.
 */
export function displayUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return value;
  }
  if (!u.username && !u.password && secretQueryParams(value).length === 0) return value;
  u.username = '';
  u.password = '';
  const secret = new Set(secretQueryParams(value));
  if (secret.size > 0) {
    const kept = [...u.searchParams].map(([k, v]) => [k, secret.has(k) ? '***' : v] as [string, string]);
    u.search = kept.length
      ? `?${kept.map(([k, v]) => `${encodeURIComponent(k)}=${v === '***' ? v : encodeURIComponent(v)}`).join('&')}`
      : '';
  }
  return u.toString();
}
