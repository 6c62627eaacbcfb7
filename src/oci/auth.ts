import { AirlockError } from '../core/errors.js';
import { redact, registerCredentials, registerSecret } from '../core/secrets.js';
import { describeErrorBody, readBuffer, type Send } from '../http/client.js';
import type { Transport } from '../http/transport.js';
import type { HttpClient } from '../http/client.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Finds credentials for a registry name (`docker.io`, `127.0.0.1:5000`), or none for anonymous. */
export type CredentialLookup = (registry: string) => Credentials | undefined;

export interface Challenge {
  scheme: 'bearer' | 'basic';
  realm?: string;
  service?: string;
}

export function parseChallenge(headerValue: string | undefined): Challenge | undefined {
  if (!headerValue) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(headerValue);
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) {
    params[(p[1] ?? '').toLowerCase()] = p[2] ?? p[3] ?? '';
  }
  return {
    scheme,
    ...(params.realm ? { realm: params.realm } : {}),
    ...(params.service ? { service: params.service } : {}),
  };
}

/** `Basic …` for credentials, registered for redaction first. */
export function basicAuthorization(creds: Credentials): string {
  registerCredentials(creds.username, creds.password);
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/**
 * The Authorization header for a host that is not spoken to as a registry (a chart repository, a
 * ChartMuseum, a file server): a bearer token from `AIRLOCK_TOKEN_<HOST>`, else basic credentials
 * as a registry's (`registries[]`, `AIRLOCK_AUTH_<HOST>`, docker config). Sent to that host only.
 */
/** A non-registry host's credentials: a bearer token (`AIRLOCK_TOKEN_<HOST>`), else basic credentials from the config or Docker's. */
export interface HostCredentials {
  token(host: string): string | undefined;
  credentials: CredentialLookup;
}

/** What a request to a non-registry host needs: the HTTP client and the host's credentials. */
export interface HostAccess extends HostCredentials {
  http: HttpClient;
}

export function hostAuthorization(source: HostCredentials, host: string): Record<string, string> {
  const token = source.token(host);
  if (token) return { authorization: `Bearer ${token}` };
  const creds = source.credentials(host);
  return creds ? { authorization: basicAuthorization(creds) } : {};
}

export interface Authenticator {
  /** Authorization header value for a request we are about to send, if we already know how. */
  authorization(registry: string, scopes: string[]): Promise<string | undefined>;
  /** After a 401: learn the challenge, obtain credentials for it, return the header to retry with. */
  answer(
    registry: string,
    wwwAuthenticate: string | undefined,
    scopes: string[],
    artifact: string,
  ): Promise<string | undefined>;
}

export interface AuthDeps {
  send: Send;
  transportFor: (url: URL) => Transport;
  credentials: CredentialLookup;
  now?: () => number;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/**
 * Challenge/response auth for registries: the distribution token flow (anonymous or with basic
 * credentials at the realm), and plain basic auth. Tokens are cached per registry and scope set
 * until shortly before they expire; the challenge is remembered per registry so later requests
 * fetch a token up front instead of paying a 401 round trip each time.
 */
export function createAuthenticator(deps: AuthDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const challenges = new Map<string, Challenge>();
  const tokens = new Map<string, CachedToken>();
  const inflight = new Map<string, Promise<CachedToken>>();

  const basicHeader = basicAuthorization;

  async function fetchToken(registry: string, ch: Challenge, scopes: string[], artifact: string): Promise<CachedToken> {
    if (!ch.realm)
      throw new AirlockError('E_UNAUTHORIZED', `registry ${registry} sent a Bearer challenge without a realm`, {
        artifact,
      });
    const url = new URL(ch.realm);
    if (ch.service) url.searchParams.set('service', ch.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const creds = deps.credentials(registry);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds) headers.authorization = basicHeader(creds);
    const res = await deps.send(deps.transportFor(url), { method: 'GET', url: url.toString(), headers, artifact });
    if (res.statusCode !== 200) {
      const detail = redact(await describeErrorBody(res));
      const code = res.statusCode === 401 ? 'E_UNAUTHORIZED' : res.statusCode === 403 ? 'E_DENIED' : 'E_REGISTRY';
      throw new AirlockError(
        code,
        `token request to ${url.origin}${url.pathname} failed: HTTP ${res.statusCode} ${detail}${creds ? '' : ' (no credentials configured)'}`,
        { artifact, status: res.statusCode },
      );
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse((await readBuffer(res, 1024 * 1024, artifact)).toString('utf8')) as typeof body;
    } catch {
      throw new AirlockError('E_REGISTRY', `token endpoint ${url.origin} returned a non-JSON body`, { artifact });
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new AirlockError('E_REGISTRY', `token endpoint ${url.origin} returned no token`, { artifact });
    registerSecret(token);
    // The spec's default lifetime is 60 s; renew 10 s early so a long copy never sends a stale token.
    const lifetime = Math.max(10, (body.expires_in ?? 60) - 10) * 1000;
    return { header: `Bearer ${token}`, expiresAt: now() + lifetime };
  }

  async function tokenFor(registry: string, ch: Challenge, scopes: string[], artifact: string): Promise<string> {
    const key = `${registry}|${[...scopes].sort().join(' ')}`;
    const cached = tokens.get(key);
    if (cached && cached.expiresAt > now()) return cached.header;
    let pending = inflight.get(key);
    if (!pending) {
      pending = fetchToken(registry, ch, scopes, artifact).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    const fresh = await pending;
    tokens.set(key, fresh);
    return fresh.header;
  }

  return {
    async authorization(registry, scopes) {
      const ch = challenges.get(registry);
      if (!ch) return undefined;
      if (ch.scheme === 'basic') {
        const creds = deps.credentials(registry);
        return creds ? basicHeader(creds) : undefined;
      }
      return tokenFor(registry, ch, scopes, registry);
    },
    async answer(registry, wwwAuthenticate, scopes, artifact) {
      const ch = parseChallenge(wwwAuthenticate);
      if (!ch) return undefined;
      challenges.set(registry, ch);
      if (ch.scheme === 'basic') {
        const creds = deps.credentials(registry);
        return creds ? basicHeader(creds) : undefined;
      }
      // A 401 with a token we thought valid means the token no longer covers this request.
      tokens.delete(`${registry}|${[...scopes].sort().join(' ')}`);
      return tokenFor(registry, ch, scopes, artifact);
    },
  };
}
