import { Readable } from 'node:stream';
import { AirlockError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { errorFromResponse, header, type HttpRequest, type HttpResponse } from '../../http/client.js';
import type { Repo, RegistryClientDeps } from './types.js';

/**
 * What every request of one registry client shares. The resource modules (manifests, blobs,
 * upload, tags, referrers) are plain functions over it, so each can be read without the others.
 */
export type RegistryContext = Readonly<RegistryClientDeps>;

/** A request as the resource modules write it: a path on the registry, or a URL it handed out. */
export type RegistryRequest = Omit<HttpRequest, 'url'> & { path?: string; url?: string };

export function refName(repo: Repo, reference?: string): string {
  const sep = reference?.includes(':') ? '@' : ':';
  return `docker://${repo.registry}/${repo.repository}${reference ? `${sep}${reference}` : ''}`;
}

/** A digest about to name a URL path: checked here too, whatever checked it where it entered. */
export function pathDigest(digest: string, artifact: string): string {
  return checkName('digest', digest, { field: 'digest', artifact });
}

/** A manifest reference about to name a URL path: a digest or a tag. */
export function pathReference(reference: string, artifact: string): string {
  return reference.includes(':')
    ? pathDigest(reference, artifact)
    : checkName('tag', reference, { field: 'tag', artifact, code: 'E_REFERENCE' });
}

export function pullScope(repo: Repo): string {
  return `repository:${repo.repository}:pull`;
}

export function pushScope(repo: Repo): string {
  return `repository:${repo.repository}:pull,push`;
}

/**
 * Sends with auth: pre-emptively when the registry's challenge is known, else after its 401.
 * A URL the registry handed out (an upload Location) on another origin gets no credentials: the
 * target's Authorization never leaves the target's origin, as with blob redirects.
 */
export async function call(
  ctx: RegistryContext,
  repo: Repo,
  scopes: string[],
  req: RegistryRequest,
): Promise<HttpResponse> {
  const { send, auth } = ctx;
  const ep = ctx.endpoint(repo.registry);
  const url = req.url ?? `${ep.baseUrl}${req.path ?? ''}`;
  const artifact = req.artifact ?? refName(repo);
  const target = new URL(url);
  if (target.origin !== new URL(ep.baseUrl).origin) return send(ctx.transportFor(target), { ...req, url, artifact });
  const withAuth = (authorization: string | undefined): HttpRequest => ({
    ...req,
    url,
    artifact,
    headers: { ...req.headers, ...(authorization ? { authorization } : {}) },
  });
  const first = await auth.authorization(repo.registry, scopes);
  const res = await send(ep.transport, withAuth(first));
  if (res.statusCode !== 401) return res;
  // A streamed body cannot be sent twice: the 401 goes back to the caller.
  const isStream = req.body instanceof Readable;
  if (isStream) return res;
  const challenge = header(res, 'www-authenticate');
  const answer = await auth.answer(repo.registry, challenge, scopes, artifact);
  if (!answer || answer === first) return res;
  await res.body.dump().catch(() => undefined);
  return send(ep.transport, withAuth(answer));
}

export async function fail(res: HttpResponse, what: string, artifact: string): Promise<never> {
  throw await errorFromResponse(res, what, artifact);
}

/** A Location the registry sent, made absolute against its base URL. */
export function resolveLocation(
  ctx: RegistryContext,
  repo: Repo,
  location: string | undefined,
  artifact: string,
): string {
  if (!location)
    throw new AirlockError('E_UPLOAD', 'registry opened an upload without a Location header', { artifact });
  return new URL(location, ctx.endpoint(repo.registry).baseUrl).toString();
}
