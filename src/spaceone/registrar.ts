import { AirlockError } from '../core/errors.js';
import { RepositoryCallError, type PluginInfo, type RepositoryClient } from './repository-client.js';

/** The 2.x `RegisterPluginRequest` fields (spaceone-repository.md 1.3), as airlock sends them. */
export interface RegisterPluginRequest {
  name: string;
  resource_type: string;
  /** Repository path below the registry host, without tag or digest. */
  image: string;
  provider?: string;
  registry_type: 'DOCKER_HUB' | 'AWS_PRIVATE_ECR' | 'HARBOR' | 'GITHUB' | 'GCP_PRIVATE_GCR';
  capability?: Record<string, unknown>;
  labels?: string[];
  tags?: Record<string, unknown>;
  plugin_id: string;
  docs?: Record<string, unknown>;
}

export const LOCAL_REPOSITORY = 'repo-local';

export interface RegistrationResult {
  plugin_id: string;
  action: 'registered' | 'updated' | 'unchanged' | 'recreated';
  /** Every call made, in order, with its request (secrets never travel in requests). */
  calls: Array<{ method: string; request: Record<string, unknown> }>;
  versions: string[];
}

export interface RegistrarOptions {
  /** Deregister and register again when image, registry type, resource type or provider changed. */
  allowRecreate?: boolean;
  /** Tags that must be listed by get_versions afterwards (the ones just mirrored). */
  expectedTags?: string[];
  /** Nothing new was pushed: an unchanged registration needs no get_versions check. */
  nothingNew?: boolean;
}

/** Key-order-independent JSON, to compare what the service holds with what the manifest says. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

function isNoPlugin(e: unknown): boolean {
  return e instanceof RepositoryCallError && e.serviceCode === 'ERROR_NO_PLUGIN';
}

function isAlreadyExists(e: unknown): boolean {
  return e instanceof RepositoryCallError && e.grpcStatus === 'ALREADY_EXISTS';
}

const IMMUTABLE = ['image', 'registry_type', 'resource_type', 'provider'] as const;
const UPDATABLE = ['name', 'capability', 'labels', 'tags', 'docs'] as const;

/**
 * Brings one plugin's registration in line with its manifest, idempotently: `get` in the local
 * repository; absent → `register` (ALREADY_EXISTS counts as present); present → `update` with only
 * the changed updatable fields; a changed image, registry type, resource type or provider →
 * deregister and register, only when allowed. Then `get_versions` must list the mirrored tags.
 */
export async function syncRegistration(
  client: RepositoryClient,
  request: RegisterPluginRequest,
  options: RegistrarOptions = {},
): Promise<RegistrationResult> {
  const id = request.plugin_id;
  const calls: RegistrationResult['calls'] = [];
  const get = async (): Promise<PluginInfo | undefined> => {
    calls.push({ method: 'get', request: { plugin_id: id, repository_id: LOCAL_REPOSITORY } });
    try {
      return await client.get(id, LOCAL_REPOSITORY);
    } catch (e) {
      if (isNoPlugin(e)) return undefined;
      throw e;
    }
  };
  const register = async () => {
    calls.push({ method: 'register', request: { ...request } });
    await client.register({ ...request });
  };

  let action: RegistrationResult['action'] = 'unchanged';
  let existing = await get();
  if (!existing) {
    try {
      await register();
      action = 'registered';
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      // Registered meanwhile (another worker): compare with what is there now.
      existing = await get();
      if (!existing) throw e;
    }
  }
  if (existing) {
    const changedImmutable = IMMUTABLE.filter((k) => (request[k] ?? '') !== (existing?.[k] ?? ''));
    if (changedImmutable.length > 0) {
      const what = changedImmutable
        .map((k) => `${k} ${JSON.stringify(existing?.[k] ?? '')} → ${JSON.stringify(request[k] ?? '')}`)
        .join(', ');
      if (!options.allowRecreate) {
        throw new AirlockError(
          'E_CONFLICT',
          `registered plugin differs in ${what}; the service cannot update these: allow recreate to deregister and register it again`,
          { artifact: id },
        );
      }
      calls.push({ method: 'deregister', request: { plugin_id: id } });
      try {
        await client.deregister(id);
      } catch (e) {
        // A retried deregister whose first attempt went through finds nothing: that is the goal.
        if (!(e instanceof RepositoryCallError && e.grpcStatus === 'NOT_FOUND')) throw e;
      }
      await register();
      action = 'recreated';
    } else {
      const changes: Record<string, unknown> = {};
      for (const k of UPDATABLE) {
        // A field the manifest leaves out is left as the service holds it (set in the console, say).
        if (request[k] === undefined) continue;
        const wanted = request[k];
        const held = existing[k] ?? (k === 'labels' ? [] : k === 'name' ? '' : {});
        if (canonical(wanted) !== canonical(held)) changes[k] = wanted;
      }
      if (Object.keys(changes).length > 0) {
        const update = { plugin_id: id, ...changes };
        calls.push({ method: 'update', request: update });
        await client.update(update);
        action = 'updated';
      }
    }
  }
  // A re-run that pushed nothing and changed nothing costs one get.
  if (action === 'unchanged' && options.nothingNew)
    return { plugin_id: id, action, calls, versions: options.expectedTags ?? [] };
  calls.push({ method: 'get_versions', request: { plugin_id: id, repository_id: LOCAL_REPOSITORY } });
  const versions = await client.getVersions(id, LOCAL_REPOSITORY);
  const missing = (options.expectedTags ?? []).filter((t) => !versions.includes(t));
  if (missing.length > 0) {
    throw new AirlockError(
      'E_REGISTRY',
      `get_versions lists ${versions.join(', ') || 'nothing'}, not the mirrored ${missing.join(', ')}: the service queries another registry than the one mirrored to`,
      { artifact: id },
    );
  }
  return { plugin_id: id, action, calls, versions };
}
