import * as grpc from '@grpc/grpc-js';
import { repositoryProtos } from '../../src/spaceone/protos.js';
import { fromListValue, fromStruct, toListValue, toStruct, type ProtoListValue, type ProtoStruct } from '../../src/spaceone/struct.js';

/**
 * TEST DOUBLE of the SpaceONE / Cloudforet Repository service (2.x), which needs MongoDB, the
 * identity service and PyPI packages this machine cannot install. Written from
 * shared/docs/spaceone-repository.md: Plugin.register/update/deregister/enable/disable/get/
 * get_versions/list and Repository.list over real gRPC on loopback; `token` metadata (JWT payload
 * read, not verified: `did`, `rol`, `typ`), roles, SYSTEM_TOKEN + x_domain_id; the validation order
 * and error codes with details "ERROR_X: message"; uniqueness per (plugin_id, domain_id) →
 * ALREADY_EXISTS; rollback of a failed register; HARBOR tag lookup against a real registry's
 * /v2/<image>/tags/list with the PEP 440 descending sort that fails on `latest`; registry_url and
 * registry_config from REGISTRY_INFO; timestamps with milliseconds and Z; a managed catalog asked
 * before the local repository, shadowing local ids.
 */
export interface DoubleOptions {
  /** REGISTRY_INFO: per registry type, { url, image_pull_secrets? }. */
  registryInfo: Record<string, Record<string, unknown>>;
  /** CONNECTORS.HarborConnector.base_url (with scheme) and token (base64 user:pass, may be empty). */
  harbor: { baseUrl: string; token?: string };
  /** Managed catalog entries (plugin_id → fields); asked first, as the default REPOSITORIES order. */
  managed?: Record<string, Record<string, unknown>>;
}

export interface RepositoryDouble {
  address: string;
  calls: Array<{ method: string; request: Record<string, unknown> }>;
  plugins: Map<string, Record<string, unknown>>;
  stop(): Promise<void>;
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

class ServiceError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const WRITE_ROLES = ['DOMAIN_ADMIN'];
const VERSION_ROLES = ['DOMAIN_ADMIN', 'WORKSPACE_OWNER', 'WORKSPACE_MEMBER'];
const READ_ROLES = [...VERSION_ROLES, 'USER'];

/** A JWT as the service's tests would issue it (unsigned: the double reads the payload only). */
export function makeToken(payload: { did?: string; rol?: string; typ?: string }): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none', typ: 'JWT' })}.${b({ ver: '2.0', typ: 'ACCESS_TOKEN', ...payload })}.sig`;
}

function authenticate(call: Call, roles: string[]): { domainId?: string } {
  const token = call.metadata.get('token')[0];
  let payload: { did?: string; rol?: string; typ?: string } | undefined;
  try {
    payload = JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString('utf8')) as typeof payload;
  } catch {
    payload = undefined;
  }
  if (!token || !payload) throw new ServiceError(grpc.status.UNAUTHENTICATED, 'ERROR_AUTHENTICATE_FAILURE', 'Authenticate failure. (message = token is invalid)');
  if (payload.typ === 'SYSTEM_TOKEN') {
    const d = call.metadata.get('x_domain_id')[0];
    return d ? { domainId: String(d) } : {};
  }
  if (!payload.rol || !roles.includes(payload.rol)) throw new ServiceError(grpc.status.PERMISSION_DENIED, 'ERROR_PERMISSION_DENIED', 'Permission denied.');
  return payload.did ? { domainId: payload.did } : {};
}

function iso(d = new Date()): string {
  return d.toISOString();
}

/** packaging.version.parse order for the tags the tests use: release numbers, then pre < final < post. */
function pep440Key(tag: string): number[] {
  const m = /^v?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta)[-_.]?(\d*))?(?:[-_.]?(post|dev)[-_.]?(\d*))?$/i.exec(tag);
  if (!m) throw new ServiceError(grpc.status.INTERNAL, 'ERROR_UNKNOWN', `Invalid version: '${tag}'`);
  const release = (m[1] ?? '0').split('.').map(Number);
  while (release.length < 4) release.push(0);
  const phase = m[2] ? { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2 }[m[2].toLowerCase()] ?? 0 : m[4]?.toLowerCase() === 'dev' ? -1 : 3;
  return [...release, phase, Number(m[3] || m[5] || 0)];
}

function comparePep440(a: string, b: string): number {
  const ka = pep440Key(a);
  const kb = pep440Key(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (ka[i] ?? 0) - (kb[i] ?? 0);
  return 0;
}

export async function startRepositoryDouble(options: DoubleOptions): Promise<RepositoryDouble> {
  const protos = repositoryProtos();
  const calls: RepositoryDouble['calls'] = [];
  const plugins = new Map<string, Record<string, unknown>>(); // key `${domain}|${plugin_id}`

  async function harborTags(image: string): Promise<string[]> {
    const res = await fetch(`${options.harbor.baseUrl}/v2/${image}/tags/list`, { headers: { authorization: `Basic ${options.harbor.token ?? ''}` } }).catch(() => undefined);
    if (!res || res.status !== 200) throw new ServiceError(grpc.status.INTERNAL, 'ERROR_NO_IMAGE_IN_REGISTRY', `Image does not found. (registry_type = HARBOR, image = ${image})`);
    const body = (await res.json()) as { tags: string[] | null };
    if (body.tags === null) throw new ServiceError(grpc.status.INTERNAL, 'ERROR_UNKNOWN', "'NoneType' object is not iterable");
    // sorted(key=packaging.version.parse): every tag is parsed, even when there is only one.
    for (const t of body.tags) pep440Key(t);
    return [...body.tags].sort((x, y) => comparePep440(y, x));
  }

  function info(p: Record<string, unknown>, domainId: string, repo: 'local' | 'managed'): Record<string, unknown> {
    const reg = options.registryInfo[String(p.registry_type)] ?? {};
    return {
      ...p,
      registry_url: reg.url ?? '',
      registry_config: toStruct(reg),
      capability: toStruct((p.capability ?? {}) as Record<string, unknown>),
      labels: toListValue((p.labels ?? []) as unknown[]),
      tags: toStruct((p.tags ?? {}) as Record<string, unknown>),
      docs: toStruct((p.docs ?? {}) as Record<string, unknown>),
      domain_id: domainId,
      repository_info: repo === 'local' ? { repository_id: 'repo-local', name: 'Private', repository_type: 'LOCAL' } : { repository_id: 'repo-managed', name: 'Cloudforet Official', repository_type: 'MANAGED' },
    };
  }

  function find(pluginId: string, domainId: string, repositoryId: string | undefined): { plugin: Record<string, unknown>; repo: 'local' | 'managed' } | undefined {
    const managed = options.managed?.[pluginId];
    if (managed && (!repositoryId || repositoryId === 'repo-managed')) return { plugin: { plugin_id: pluginId, state: 'ENABLED', registry_type: 'DOCKER_HUB', ...managed }, repo: 'managed' };
    const local = plugins.get(`${domainId}|${pluginId}`);
    if (local && (!repositoryId || repositoryId === 'repo-local')) return { plugin: local, repo: 'local' };
    return undefined;
  }

  function handler(method: string, roles: string[], fn: (req: Record<string, unknown>, domainId: string | undefined) => Promise<unknown>) {
    return (call: Call, cb: Callback) => {
      calls.push({ method, request: call.request });
      (async () => {
        const { domainId } = authenticate(call, roles);
        return fn(call.request, domainId);
      })().then(
        (r) => cb(null, r),
        (e: unknown) => {
          if (e instanceof ServiceError) cb({ code: e.code, details: `${e.errorCode}: ${e.message}`, name: e.errorCode, message: e.message } as grpc.ServiceError, null);
          else cb({ code: grpc.status.INTERNAL, details: `ERROR_UNKNOWN: ${(e as Error).message}` } as grpc.ServiceError, null);
        },
      );
    };
  }

  const required = (req: Record<string, unknown>, keys: string[]) => {
    for (const k of keys) if (req[k] === undefined || req[k] === '' || req[k] === null) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'ERROR_REQUIRED_PARAMETER', `Required parameter. (key = ${k})`);
  };
  const localOrNotFound = (pluginId: string, domainId: string) => {
    const p = plugins.get(`${domainId}|${pluginId}`);
    if (!p) throw new ServiceError(grpc.status.NOT_FOUND, 'ERROR_NOT_FOUND', `Resource cannot be found or access is denied. (plugin_id = ${pluginId})`);
    return p;
  };

  const server = new grpc.Server();
  server.addService(protos.Plugin.service, {
    register: handler('register', WRITE_ROLES, async (req, domainId) => {
      required({ ...req, domain_id: domainId }, ['name', 'resource_type', 'image', 'domain_id']);
      const image = String(req.image);
      const last = image.split('/').pop() ?? '';
      if (last.length > 48) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'ERROR_INVALID_IMAGE_LENGTH', `Image name length should be less than equal 48 in ${image}`);
      // The service's regex lets one trailing invalid character through (doc 1.4).
      if (!/^[a-zA-Z0-9-]+[^a-zA-Z0-9-]?$/.test(last)) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'ERROR_INVALID_IMAGE_NAME_FORMAT', `Image name format is [a-zA-Z0-9\\-]+ in ${image}`);
      const registryType = req.registry_type && req.registry_type !== 'NONE_REGISTRY_TYPE' ? String(req.registry_type) : 'DOCKER_HUB';
      if (!String(options.registryInfo[registryType]?.url ?? '').trim()) throw new ServiceError(grpc.status.INTERNAL, 'ERROR_REGISTRY_SETTINGS', `Registry settings are not ready. (registry_type = ${registryType})`);
      const pluginId = req.plugin_id ? String(req.plugin_id) : last;
      const key = `${domainId}|${pluginId}`;
      if (plugins.has(key)) throw new ServiceError(grpc.status.ALREADY_EXISTS, 'ERROR_SAVE_UNIQUE_VALUES', "Tried to save duplicate unique values. (keys = ['plugin_id', 'domain_id'])");
      const now = iso();
      const plugin = {
        plugin_id: pluginId,
        name: req.name,
        state: 'ENABLED',
        resource_type: req.resource_type,
        image,
        provider: req.provider ?? '',
        registry_type: registryType,
        capability: fromStruct(req.capability as ProtoStruct),
        labels: fromListValue(req.labels as ProtoListValue),
        tags: fromStruct(req.tags as ProtoStruct),
        docs: fromStruct(req.docs as ProtoStruct),
        created_at: now,
        updated_at: now,
      };
      plugins.set(key, plugin);
      try {
        if (registryType === 'HARBOR') {
          const tags = await harborTags(image);
          if (tags.length === 0) throw new ServiceError(grpc.status.INTERNAL, 'ERROR_NO_IMAGE_IN_REGISTRY', `Image does not found. (registry_type = HARBOR, image = ${image})`);
        }
      } catch (e) {
        plugins.delete(key); // transaction rollback
        throw e;
      }
      return info(plugin, String(domainId), 'local');
    }),
    update: handler('update', WRITE_ROLES, async (req, domainId) => {
      required(req, ['plugin_id']);
      const p = localOrNotFound(String(req.plugin_id), String(domainId));
      if (req.name) p.name = req.name;
      if (req.capability) p.capability = fromStruct(req.capability as ProtoStruct);
      if (req.labels) p.labels = fromListValue(req.labels as ProtoListValue);
      if (req.tags) p.tags = fromStruct(req.tags as ProtoStruct);
      if (req.docs) p.docs = fromStruct(req.docs as ProtoStruct);
      p.updated_at = iso();
      return info(p, String(domainId), 'local');
    }),
    deregister: handler('deregister', WRITE_ROLES, async (req, domainId) => {
      required(req, ['plugin_id']);
      localOrNotFound(String(req.plugin_id), String(domainId));
      plugins.delete(`${domainId}|${req.plugin_id}`);
      return {};
    }),
    enable: handler('enable', WRITE_ROLES, async (req, domainId) => {
      const p = localOrNotFound(String(req.plugin_id), String(domainId));
      p.state = 'ENABLED';
      return info(p, String(domainId), 'local');
    }),
    disable: handler('disable', WRITE_ROLES, async (req, domainId) => {
      const p = localOrNotFound(String(req.plugin_id), String(domainId));
      p.state = 'DISABLED';
      return info(p, String(domainId), 'local');
    }),
    get: handler('get', READ_ROLES, async (req, domainId) => {
      required(req, ['plugin_id']);
      const hit = find(String(req.plugin_id), String(domainId), req.repository_id ? String(req.repository_id) : undefined);
      if (!hit) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'ERROR_NO_PLUGIN', `Plugin does not exists. (plugin_id = ${req.plugin_id})`);
      return info(hit.plugin, String(domainId), hit.repo);
    }),
    get_versions: handler('get_versions', VERSION_ROLES, async (req, domainId) => {
      required(req, ['plugin_id']);
      const hit = find(String(req.plugin_id), String(domainId), req.repository_id ? String(req.repository_id) : undefined);
      if (!hit) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'ERROR_NO_PLUGIN', `Plugin does not exists. (plugin_id = ${req.plugin_id})`);
      const tags = hit.repo === 'local' && hit.plugin.registry_type === 'HARBOR' ? await harborTags(String(hit.plugin.image)) : [];
      return { results: tags, total_count: tags.length };
    }),
    list: handler('list', READ_ROLES, async (req, domainId) => {
      const local = [...plugins.entries()].filter(([k]) => k.startsWith(`${domainId}|`)).map(([, p]) => p);
      const managed = req.repository_id === 'repo-local' ? [] : Object.entries(options.managed ?? {}).map(([id, p]) => ({ plugin_id: id, state: 'ENABLED', registry_type: 'DOCKER_HUB', ...p }));
      const results = [
        ...managed.filter((p) => !req.plugin_id || p.plugin_id === req.plugin_id).map((p) => info(p, String(domainId), 'managed')),
        ...(req.repository_id === 'repo-managed' ? [] : local.filter((p) => !req.plugin_id || p.plugin_id === req.plugin_id).map((p) => info(p, String(domainId), 'local'))),
      ];
      return { results, total_count: results.length };
    }),
  });
  server.addService(protos.Repository.service, {
    list: handler('repository.list', [...READ_ROLES, 'SYSTEM_ADMIN'], async () => ({
      // The REPOSITORIES global filtered, then reversed (doc 2.x).
      results: [
        { repository_id: 'repo-local', name: 'Private', repository_type: 'LOCAL' },
        { repository_id: 'repo-managed', name: 'Cloudforet Official', repository_type: 'MANAGED' },
      ],
    })),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    address: `grpc://127.0.0.1:${port}`,
    calls,
    plugins,
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}
