import { AirlockError } from '../../core/errors.js';
import { header, readBuffer, type HttpResponse } from '../../http/client.js';
import { checkDescriptor, MAX_MANIFEST_BYTES, type Descriptor } from '../manifest.js';
import { MT } from '../media-types.js';
import { call, fail, pathDigest, pullScope, refName, type RegistryContext } from './request.js';
import { nextLink } from './tags.js';
import type { Repo } from './types.js';

/** Referrers of a digest (OCI 1.1 referrers API), or null when the registry has no such API. */
export async function referrers(ctx: RegistryContext, repo: Repo, digest: string): Promise<Descriptor[] | null> {
  const artifact = refName(repo, digest);
  const ep = ctx.endpoint(repo.registry);
  const out: Descriptor[] = [];
  let url: string | undefined = `${ep.baseUrl}/v2/${repo.repository}/referrers/${pathDigest(digest, artifact)}`;
  for (let page = 0; url && page < 100; page++) {
    const res: HttpResponse = await call(ctx, repo, [pullScope(repo)], {
      method: 'GET',
      url,
      headers: { accept: MT.ociIndex },
      artifact,
    });
    if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 400) {
      await res.body.dump();
      return page === 0 ? null : out;
    }
    if (res.statusCode !== 200) return fail(res, 'referrers query failed', artifact);
    const ct = header(res, 'content-type') ?? '';
    const text = (await readBuffer(res, MAX_MANIFEST_BYTES, artifact)).toString('utf8');
    if (!ct.includes('json')) return page === 0 ? null : out;
    const body = JSON.parse(text) as { manifests?: unknown };
    const found = body.manifests ?? [];
    if (!Array.isArray(found))
      throw new AirlockError('E_REGISTRY', 'referrers response has no manifests list', { artifact });
    for (const d of found) {
      if (
        !d ||
        typeof (d as Descriptor).digest !== 'string' ||
        typeof (d as Descriptor).mediaType !== 'string' ||
        typeof (d as Descriptor).size !== 'number'
      ) {
        throw new AirlockError('E_REGISTRY', 'referrers response has a malformed descriptor', { artifact });
      }
      out.push(checkDescriptor(d as Descriptor, 'referrer', artifact));
    }
    url = nextLink(header(res, 'link'), url);
  }
  return out;
}
