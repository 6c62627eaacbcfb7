import { Readable } from 'node:stream';
import { AirlockError } from '../../core/errors.js';
import { header } from '../../http/client.js';
import type { Descriptor } from '../manifest.js';
import {
  call,
  fail,
  pathDigest,
  pullScope,
  pushScope,
  refName,
  resolveLocation,
  type RegistryContext,
} from './request.js';
import type { Repo } from './types.js';

export async function hasBlob(ctx: RegistryContext, repo: Repo, digest: string): Promise<boolean> {
  const artifact = refName(repo, digest);
  const res = await call(ctx, repo, [pullScope(repo)], {
    method: 'HEAD',
    path: `/v2/${repo.repository}/blobs/${pathDigest(digest, artifact)}`,
    artifact,
  });
  await res.body.dump();
  if (res.statusCode === 200) return true;
  if (res.statusCode === 404) return false;
  // A blob we may not read yet (no pull grant before the repo exists) counts as absent.
  if (res.statusCode === 401 || res.statusCode === 403) return false;
  return fail(res, 'blob HEAD failed', artifact);
}

/** A blob's bytes from `offset` on, following redirects to object storage. */
export async function openBlob(ctx: RegistryContext, repo: Repo, desc: Descriptor, offset = 0): Promise<Readable> {
  const artifact = refName(repo, desc.digest);
  const ep = ctx.endpoint(repo.registry);
  const origin = new URL(ep.baseUrl).origin;
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let res = await call(ctx, repo, [pullScope(repo)], {
    method: 'GET',
    path: `/v2/${repo.repository}/blobs/${pathDigest(desc.digest, artifact)}`,
    headers,
    artifact,
    kind: 'blob',
  });
  // Redirects (to object storage) are followed by hand: credentials never go to another origin.
  for (let hops = 0; [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
    if (hops >= 5) throw new AirlockError('E_REGISTRY', 'too many redirects fetching blob', { artifact });
    const location = header(res, 'location');
    await res.body.dump();
    if (!location) throw new AirlockError('E_REGISTRY', 'redirect without Location fetching blob', { artifact });
    const next = new URL(location, ep.baseUrl);
    if (next.origin === origin) {
      res = await call(ctx, repo, [pullScope(repo)], {
        method: 'GET',
        url: next.toString(),
        headers,
        artifact,
        kind: 'blob',
      });
    } else {
      res = await ctx.send(ctx.transportFor(next), {
        method: 'GET',
        url: next.toString(),
        headers,
        artifact,
        kind: 'blob',
      });
    }
  }
  if (res.statusCode === 206 || (res.statusCode === 200 && offset === 0)) return res.body;
  if (res.statusCode === 200) return skipBytes(res.body, offset);
  return fail(res, `fetching blob ${desc.digest} failed`, artifact);
}

/**
 * Mount from another repository of the same registry. A registry that declines answers 202 with an
 * upload session, which the caller passes on to `uploadBlob` instead of opening another.
 */
export async function mountBlob(
  ctx: RegistryContext,
  repo: Repo,
  digest: string,
  from: string,
): Promise<{ mounted: true } | { mounted: false; location?: string }> {
  const artifact = refName(repo, digest);
  const scopes = [pushScope(repo), `repository:${from}:pull`];
  const q = new URLSearchParams({ mount: pathDigest(digest, artifact), from });
  const res = await call(ctx, repo, scopes, {
    method: 'POST',
    path: `/v2/${repo.repository}/blobs/uploads/?${q.toString()}`,
    headers: { 'content-length': '0' },
    artifact,
  });
  await res.body.dump();
  if (res.statusCode === 201) return { mounted: true };
  if (res.statusCode === 202)
    return { mounted: false, location: resolveLocation(ctx, repo, header(res, 'location'), artifact) };
  return { mounted: false };
}

async function* skipGen(src: Readable, n: number): AsyncGenerator<Buffer> {
  let toSkip = n;
  for await (const piece of src) {
    let b = piece as Buffer;
    if (toSkip > 0) {
      if (b.length <= toSkip) {
        toSkip -= b.length;
        continue;
      }
      b = b.subarray(toSkip);
      toSkip = 0;
    }
    yield b;
  }
}

/** For servers that ignore `Range`: drop the bytes we already have. */
function skipBytes(src: Readable, n: number): Readable {
  return Readable.from(skipGen(src, n), { objectMode: false });
}
