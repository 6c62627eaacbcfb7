import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * TEST DOUBLE of the SpaceONE / Cloudforet Repository service (2.x), which needs MongoDB, the
 * identity service and PyPI packages this machine cannot install.
 *
 * Wire: its own schema, spaceone-repository.schema.json beside this file, a protobufjs JSON
 * descriptor written by hand from cloudforet-io/api proto/spaceone/api/repository/v1/plugin.proto
 * at 2b8b375e8b3ca19b2ac760f1e59e976eb8d3946f, repository/v1/repository.proto at
 * 728c915e22d6d627bebb731d36b1436d8e3d2d7f and core/v2/query.proto at
 * 629d775139dbc5f8078a51565c4c0c6f527f7461. It shares no schema, loader or Struct conversion with
 * airlock: nothing here reads proto/ or imports src/, so a wrong field number in airlock's protos
 * shows up as a decoding error or a wrong value in the tests instead of being mirrored here.
 *
 * Behaviour, from cloudforet-io/repository src/spaceone/repository/service/plugin_service.py
 * (3d829b1), manager/plugin_manager/{local,managed}_plugin_manager.py (3d829b1, e67fab0) and
 * shared/docs/spaceone-repository.md: Plugin.register/update/deregister/enable/disable/get/
 * get_versions/list and Repository.list over real gRPC on loopback; `token` metadata (JWT payload
 * read, not verified: `did`, `rol`, `typ`), roles, SYSTEM_TOKEN + x_domain_id; the validation order
 * and error codes with details "ERROR_X: message"; uniqueness per (plugin_id, domain_id) →
 * ALREADY_EXISTS; rollback of a failed register; HARBOR tag lookup against a real registry's
 * /v2/<image>/tags/list with the PEP 440 descending sort that fails on `latest`; registry_url and
 * registry_config from REGISTRY_INFO; timestamps with milliseconds and Z; a managed catalog asked
 * before the local repository, shadowing local ids; `list` filtered by the PluginQuery fields and
 * paged by query.page {start (1-based), limit} with total_count the count before paging (per
 * repository when repository_id is given, else over the managed then local results together).
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
  /** Every call with its request as the double's own schema decoded it (snake_case, absent fields left out). */
  calls: Array<{ method: string; request: Record<string, unknown> }>;
  /** The local repository: key `${domain_id}|${plugin_id}`, values with plain JSON capability/labels/tags/docs. */
  plugins: Map<string, Record<string, unknown>>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** The double's schema, resolved once; see the file's `upstream` note for what it was written from. */
export function doubleSchema(): protobuf.Root {
  const root = protobuf.Root.fromJSON(require('./spaceone-repository.schema.json') as protobuf.INamespace);
  root.resolveAll();
  return root;
}

const DECODE: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  defaults: false,
  arrays: false,
  oneofs: false,
};

/** grpc-js method definitions for a service of the double's schema: bytes ↔ plain objects with its own codec. */
export function serviceDefinition(service: protobuf.Service): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${service.fullName.replace(/^\./, '')}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (o: object) => Buffer.from(req.encode(req.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), DECODE),
      responseSerialize: (o: object) => Buffer.from(res.encode(res.fromObject(o)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), DECODE),
    };
  }
  return definition;
}

// google.protobuf.Struct / Value / ListValue in the schema's field names (google's struct.proto).
type WireValue = Record<string, unknown>;
function toWireValue(v: unknown): WireValue {
  if (v === null || v === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: toWireList(v) };
  return { struct_value: toWireStruct(v as Record<string, unknown>) };
}
export function toWireStruct(o: Record<string, unknown>): { fields: Record<string, WireValue> } {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toWireValue(v)])) };
}
export function toWireList(a: unknown[]): { values: WireValue[] } {
  return { values: a.map(toWireValue) };
}
function fromWireValue(v: WireValue | undefined): unknown {
  if (!v) return null;
  if ('number_value' in v) return v.number_value;
  if ('string_value' in v) return v.string_value;
  if ('bool_value' in v) return v.bool_value;
  if ('struct_value' in v) return fromWireStruct(v.struct_value as { fields?: Record<string, WireValue> });
  if ('list_value' in v) return fromWireList(v.list_value as { values?: WireValue[] });
  return null;
}
export function fromWireStruct(s: unknown): Record<string, unknown> {
  const fields = (s as { fields?: Record<string, WireValue> } | undefined)?.fields ?? {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fromWireValue(v)]));
}
export function fromWireList(l: unknown): unknown[] {
  return ((l as { values?: WireValue[] } | undefined)?.values ?? []).map(fromWireValue);
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
    payload = JSON.parse(
      Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as typeof payload;
  } catch {
    payload = undefined;
  }
  if (!token || !payload)
    throw new ServiceError(
      grpc.status.UNAUTHENTICATED,
      'ERROR_AUTHENTICATE_FAILURE',
      'Authenticate failure. (message = token is invalid)',
    );
  if (payload.typ === 'SYSTEM_TOKEN') {
    const d = call.metadata.get('x_domain_id')[0];
    return d ? { domainId: String(d) } : {};
  }
  if (!payload.rol || !roles.includes(payload.rol))
    throw new ServiceError(grpc.status.PERMISSION_DENIED, 'ERROR_PERMISSION_DENIED', 'Permission denied.');
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
  const phase = m[2]
    ? ({ a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2 }[m[2].toLowerCase()] ?? 0)
    : m[4]?.toLowerCase() === 'dev'
      ? -1
      : 3;
  return [...release, phase, Number(m[3] || m[5] || 0)];
}

function comparePep440(a: string, b: string): number {
  const ka = pep440Key(a);
  const kb = pep440Key(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++)
    if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (ka[i] ?? 0) - (kb[i] ?? 0);
  return 0;
}

/** query.page as the service applies it: `start` 1-based (default 1), no `limit` → everything. */
function page<T>(items: T[], query: Record<string, unknown> | undefined): T[] {
  const p = (query?.page ?? {}) as { start?: number; limit?: number };
  if (!p.limit) return items;
  const start = Math.max(p.start ?? 1, 1) - 1;
  return items.slice(start, start + p.limit);
}

const LOCAL_REPO = { repository_id: 'repo-local', name: 'Private', repository_type: 'LOCAL' };
const MANAGED_REPO = { repository_id: 'repo-managed', name: 'Cloudforet Official', repository_type: 'MANAGED' };

export async function startRepositoryDouble(options: DoubleOptions): Promise<RepositoryDouble> {
  const schema = doubleSchema();
  const calls: RepositoryDouble['calls'] = [];
  const plugins = new Map<string, Record<string, unknown>>(); // key `${domain}|${plugin_id}`

  async function harborTags(image: string): Promise<string[]> {
    const res = await fetch(`${options.harbor.baseUrl}/v2/${image}/tags/list`, {
      headers: { authorization: `Basic ${options.harbor.token ?? ''}` },
    }).catch(() => undefined);
    if (!res || res.status !== 200)
      throw new ServiceError(
        grpc.status.INTERNAL,
        'ERROR_NO_IMAGE_IN_REGISTRY',
        `Image does not found. (registry_type = HARBOR, image = ${image})`,
      );
    const body = (await res.json()) as { tags: string[] | null };
    if (body.tags === null)
      throw new ServiceError(grpc.status.INTERNAL, 'ERROR_UNKNOWN', "'NoneType' object is not iterable");
    // sorted(key=packaging.version.parse): every tag is parsed, even when there is only one.
    for (const t of body.tags) pep440Key(t);
    return [...body.tags].sort((x, y) => comparePep440(y, x));
  }

  /** PluginInfo as the service answers: REGISTRY_INFO's url and whole entry, the caller's domain. */
  function info(p: Record<string, unknown>, domainId: string, repo: 'local' | 'managed'): Record<string, unknown> {
    const reg = options.registryInfo[String(p.registry_type)] ?? {};
    return {
      ...p,
      registry_url: reg.url ?? '',
      registry_config: toWireStruct(reg),
      capability: toWireStruct((p.capability ?? {}) as Record<string, unknown>),
      labels: toWireList((p.labels ?? []) as unknown[]),
      tags: toWireStruct((p.tags ?? {}) as Record<string, unknown>),
      docs: toWireStruct((p.docs ?? {}) as Record<string, unknown>),
      domain_id: domainId,
      repository_info: repo === 'local' ? LOCAL_REPO : MANAGED_REPO,
    };
  }

  const managedPlugins = (): Array<Record<string, unknown>> =>
    Object.entries(options.managed ?? {}).map(([id, p]) => ({
      plugin_id: id,
      state: 'ENABLED',
      registry_type: 'DOCKER_HUB',
      ...p,
    }));

  function find(
    pluginId: string,
    domainId: string,
    repositoryId: string | undefined,
  ): { plugin: Record<string, unknown>; repo: 'local' | 'managed' } | undefined {
    const managed = managedPlugins().find((p) => p.plugin_id === pluginId);
    if (managed && (!repositoryId || repositoryId === 'repo-managed')) return { plugin: managed, repo: 'managed' };
    const local = plugins.get(`${domainId}|${pluginId}`);
    if (local && (!repositoryId || repositoryId === 'repo-local')) return { plugin: local, repo: 'local' };
    return undefined;
  }

  function handler(
    method: string,
    roles: string[],
    fn: (req: Record<string, unknown>, domainId: string | undefined) => Promise<unknown>,
  ) {
    return (call: Call, cb: Callback) => {
      calls.push({ method, request: call.request });
      (async () => {
        const { domainId } = authenticate(call, roles);
        return fn(call.request, domainId);
      })().then(
        (r) => cb(null, r),
        (e: unknown) => {
          if (e instanceof ServiceError)
            cb(
              {
                code: e.code,
                details: `${e.errorCode}: ${e.message}`,
                name: e.errorCode,
                message: e.message,
              } as grpc.ServiceError,
              null,
            );
          else
            cb(
              { code: grpc.status.INTERNAL, details: `ERROR_UNKNOWN: ${(e as Error).message}` } as grpc.ServiceError,
              null,
            );
        },
      );
    };
  }

  const required = (req: Record<string, unknown>, keys: string[]) => {
    for (const k of keys)
      if (req[k] === undefined || req[k] === '' || req[k] === null)
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          'ERROR_REQUIRED_PARAMETER',
          `Required parameter. (key = ${k})`,
        );
  };
  const localOrNotFound = (pluginId: string, domainId: string) => {
    const p = plugins.get(`${domainId}|${pluginId}`);
    if (!p)
      throw new ServiceError(
        grpc.status.NOT_FOUND,
        'ERROR_NOT_FOUND',
        `Resource cannot be found or access is denied. (plugin_id = ${pluginId})`,
      );
    return p;
  };
  // append_query_filter(["plugin_id", "name", "state", "resource_type", "provider", "registry_type"]).
  const matches = (req: Record<string, unknown>) => (p: Record<string, unknown>) =>
    (['plugin_id', 'name', 'state', 'resource_type', 'provider', 'registry_type'] as const).every(
      (k) => req[k] === undefined || p[k] === req[k],
    );

  const server = new grpc.Server();
  server.addService(serviceDefinition(schema.lookupService('spaceone.api.repository.v1.Plugin')), {
    register: handler('register', WRITE_ROLES, async (req, domainId) => {
      required({ ...req, domain_id: domainId }, ['name', 'resource_type', 'image', 'domain_id']);
      const image = String(req.image);
      const last = image.split('/').pop() ?? '';
      if (last.length > 48)
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          'ERROR_INVALID_IMAGE_LENGTH',
          `Image name length should be less than equal 48 in ${image}`,
        );
      // The service's regex lets one trailing invalid character through (doc 1.4).
      if (!/^[a-zA-Z0-9-]+[^a-zA-Z0-9-]?$/.test(last))
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          'ERROR_INVALID_IMAGE_NAME_FORMAT',
          `Image name format is [a-zA-Z0-9\\-]+ in ${image}`,
        );
      const registryType =
        req.registry_type && req.registry_type !== 'NONE_REGISTRY_TYPE' ? String(req.registry_type) : 'DOCKER_HUB';
      if (!String(options.registryInfo[registryType]?.url ?? '').trim())
        throw new ServiceError(
          grpc.status.INTERNAL,
          'ERROR_REGISTRY_SETTINGS',
          `Registry settings are not ready. (registry_type = ${registryType})`,
        );
      const pluginId = req.plugin_id ? String(req.plugin_id) : last;
      const key = `${domainId}|${pluginId}`;
      if (plugins.has(key))
        throw new ServiceError(
          grpc.status.ALREADY_EXISTS,
          'ERROR_SAVE_UNIQUE_VALUES',
          "Tried to save duplicate unique values. (keys = ['plugin_id', 'domain_id'])",
        );
      const now = iso();
      const plugin = {
        plugin_id: pluginId,
        name: req.name,
        state: 'ENABLED',
        resource_type: req.resource_type,
        image,
        provider: req.provider ?? '',
        registry_type: registryType,
        capability: fromWireStruct(req.capability),
        labels: fromWireList(req.labels),
        tags: fromWireStruct(req.tags),
        docs: fromWireStruct(req.docs),
        created_at: now,
        updated_at: now,
      };
      plugins.set(key, plugin);
      try {
        if (registryType === 'HARBOR') {
          const tags = await harborTags(image);
          if (tags.length === 0)
            throw new ServiceError(
              grpc.status.INTERNAL,
              'ERROR_NO_IMAGE_IN_REGISTRY',
              `Image does not found. (registry_type = HARBOR, image = ${image})`,
            );
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
      if (req.capability) p.capability = fromWireStruct(req.capability);
      if (req.labels) p.labels = fromWireList(req.labels);
      if (req.tags) p.tags = fromWireStruct(req.tags);
      if (req.docs) p.docs = fromWireStruct(req.docs);
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
      const hit = find(
        String(req.plugin_id),
        String(domainId),
        req.repository_id ? String(req.repository_id) : undefined,
      );
      if (!hit)
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          'ERROR_NO_PLUGIN',
          `Plugin does not exists. (plugin_id = ${req.plugin_id})`,
        );
      return info(hit.plugin, String(domainId), hit.repo);
    }),
    get_versions: handler('get_versions', VERSION_ROLES, async (req, domainId) => {
      required(req, ['plugin_id']);
      const hit = find(
        String(req.plugin_id),
        String(domainId),
        req.repository_id ? String(req.repository_id) : undefined,
      );
      if (!hit)
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          'ERROR_NO_PLUGIN',
          `Plugin does not exists. (plugin_id = ${req.plugin_id})`,
        );
      const tags =
        hit.repo === 'local' && hit.plugin.registry_type === 'HARBOR' ? await harborTags(String(hit.plugin.image)) : [];
      // VersionsInfo: `version` (1) is deprecated and left empty; total_count is 2, results 3.
      return { total_count: tags.length, results: tags };
    }),
    list: handler('list', READ_ROLES, async (req, domainId) => {
      const query = req.query as Record<string, unknown> | undefined;
      const local = [...plugins.entries()]
        .filter(([k]) => k.startsWith(`${domainId}|`))
        .map(([, p]) => p)
        .filter(matches(req));
      // The managed catalog filters on these four only (ManagedPluginManager.list_plugins).
      const managed = managedPlugins().filter((p) =>
        (['plugin_id', 'name', 'resource_type', 'provider'] as const).every(
          (k) => req[k] === undefined || p[k] === req[k],
        ),
      );
      const localInfo = () => local.map((p) => info(p, String(domainId), 'local'));
      const managedInfo = () => managed.map((p) => info(p, String(domainId), 'managed'));
      // With repository_id: that repository's query, paged there. Without: every repository's
      // results together, then one page of the whole; total_count is the sum before paging.
      const all =
        req.repository_id === 'repo-local'
          ? localInfo()
          : req.repository_id === 'repo-managed'
            ? managedInfo()
            : [...managedInfo(), ...localInfo()];
      return { results: page(all, query), total_count: all.length };
    }),
  });
  server.addService(serviceDefinition(schema.lookupService('spaceone.api.repository.v1.Repository')), {
    list: handler('repository.list', [...READ_ROLES, 'SYSTEM_ADMIN'], async (req) => {
      // The REPOSITORIES global filtered, then reversed (doc 2.x).
      const results = [LOCAL_REPO, MANAGED_REPO].filter(
        (r) =>
          (!req.repository_id || r.repository_id === req.repository_id) &&
          (!req.repository_type || r.repository_type === req.repository_type),
      );
      return { results, total_count: results.length };
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    address: `grpc://127.0.0.1:${port}`,
    calls,
    plugins,
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}
