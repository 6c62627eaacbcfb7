import { parseRegistryRef, type RegistryImageRef } from '../oci/reference.js';

/**
 * Pushed images named by registry notifications: distribution's `events[]` (action push,
 * target.repository/tag, request.host), Harbor's PUSH_ARTIFACT (`event_data.resources[].resource_url`),
 * Docker Hub's `push_data.tag` + `repository.repo_name`. Anything else yields nothing.
 */
export function pushedImages(body: unknown): RegistryImageRef[] {
  const out: RegistryImageRef[] = [];
  const b = body as Record<string, unknown>;
  const add = (ref: string) => {
    try {
      out.push(parseRegistryRef(ref));
    } catch {
      // A malformed reference in a notification is skipped, not fatal.
    }
  };
  if (Array.isArray(b?.events)) {
    for (const e of b.events as Array<{
      action?: string;
      target?: { repository?: string; tag?: string };
      request?: { host?: string };
    }>) {
      if (e.action !== 'push' || !e.target?.repository || !e.target.tag) continue;
      add(`${e.request?.host ? `${e.request.host}/` : ''}${e.target.repository}:${e.target.tag}`);
    }
  }
  const harbor = b?.event_data as { resources?: Array<{ resource_url?: string }> } | undefined;
  if (typeof b?.type === 'string' && b.type === 'PUSH_ARTIFACT')
    for (const r of harbor?.resources ?? []) if (r.resource_url) add(r.resource_url);
  const hub = b as { push_data?: { tag?: string }; repository?: { repo_name?: string } };
  if (hub?.push_data?.tag && hub.repository?.repo_name)
    add(`docker.io/${hub.repository.repo_name}:${hub.push_data.tag}`);
  return out;
}
