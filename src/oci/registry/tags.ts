import { AirlockError } from '../../core/errors.js';
import { header, readBuffer, type HttpResponse } from '../../http/client.js';
import { call, fail, pullScope, refName, type RegistryContext } from './request.js';
import type { Repo } from './types.js';

/** Every tag of a repository, page after page as the registry links them. */
export async function listTags(ctx: RegistryContext, repo: Repo): Promise<string[]> {
  const artifact = refName(repo);
  const ep = ctx.endpoint(repo.registry);
  const tags: string[] = [];
  let url: string | undefined = `${ep.baseUrl}/v2/${repo.repository}/tags/list?n=1000`;
  for (let page = 0; url && page < 1000; page++) {
    const res: HttpResponse = await call(ctx, repo, [pullScope(repo)], { method: 'GET', url, artifact });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new AirlockError('E_NOT_FOUND', `repository ${repo.registry}/${repo.repository} not found`, {
        artifact,
        status: 404,
      });
    }
    if (res.statusCode !== 200) return fail(res, 'listing tags failed', artifact);
    const body = JSON.parse((await readBuffer(res, 16 * 1024 * 1024, artifact)).toString('utf8')) as {
      tags?: string[] | null;
    };
    tags.push(...(body.tags ?? []));
    url = nextLink(header(res, 'link'), url);
  }
  return tags;
}

/** `Link: <url>; rel="next"`, only when it stays on the same origin. */
export function nextLink(link: string | undefined, current: string): string | undefined {
  if (!link) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m?.[1]) return undefined;
  const next = new URL(m[1], current);
  return next.origin === new URL(current).origin ? next.toString() : undefined;
}
