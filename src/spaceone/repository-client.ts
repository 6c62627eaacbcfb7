import * as grpc from '@grpc/grpc-js';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { registerSecret } from '../core/secrets.js';
import { repositoryProtos } from './protos.js';
import { fromListValue, fromStruct, toListValue, toStruct, type ProtoListValue, type ProtoStruct } from './struct.js';

/** RepositoryInfo (repository.proto); `endpoint` is filled for REMOTE repositories only. */
export interface RepositoryInfo {
  repository_id: string;
  name: string;
  repository_type: string;
  endpoint?: string;
}

/** A plugin as the service returns it, with Struct/ListValue fields back to plain JSON. */
export interface PluginInfo {
  plugin_id: string;
  name: string;
  state: string;
  resource_type: string;
  image: string;
  provider?: string;
  registry_type: string;
  registry_url?: string;
  registry_config: Record<string, unknown>;
  capability: Record<string, unknown>;
  labels: unknown[];
  tags: Record<string, unknown>;
  docs: Record<string, unknown>;
  domain_id?: string;
  repository_info?: RepositoryInfo;
  created_at?: string;
  updated_at?: string;
}

export interface RepositoryEndpoint {
  /** `grpc://host:port` or `grpc+ssl://host:port`, as spacectl accepts. */
  endpoint: string;
  /** A DOMAIN_ADMIN client secret, or a system token together with domainId. */
  token: string;
  domainId?: string;
  deadlineMs?: number;
  /** Attempts for UNAVAILABLE / DEADLINE_EXCEEDED (the service may be restarting). */
  attempts?: number;
  /** Plugins asked for per `list` call (query.page.limit); `list` pages until it has them all. */
  pageSize?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The service's errors: gRPC status plus details `"ERROR_X: message"`. */
export class RepositoryCallError extends AirlockError {
  constructor(
    readonly grpcCode: number,
    readonly grpcStatus: string,
    readonly serviceCode: string,
    method: string,
    details: string,
    artifact?: string,
  ) {
    super(mapCode(grpcCode), `Repository ${method}: ${grpcStatus} ${details}`, artifact ? { artifact } : {});
  }
}

function mapCode(code: number): ErrorCode {
  switch (code) {
    case grpc.status.UNAUTHENTICATED:
      return 'E_UNAUTHORIZED';
    case grpc.status.PERMISSION_DENIED:
      return 'E_DENIED';
    case grpc.status.NOT_FOUND:
      return 'E_NOT_FOUND';
    case grpc.status.ALREADY_EXISTS:
      return 'E_CONFLICT';
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return 'E_UNREACHABLE';
    case grpc.status.INVALID_ARGUMENT:
      return 'E_USAGE';
    default:
      return 'E_REGISTRY';
  }
}

type Unary = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r: unknown) => void,
) => void;

function toPluginInfo(r: Record<string, unknown>): PluginInfo {
  return {
    ...(r as unknown as PluginInfo),
    registry_config: fromStruct(r.registry_config as ProtoStruct),
    capability: fromStruct(r.capability as ProtoStruct),
    labels: fromListValue(r.labels as ProtoListValue),
    tags: fromStruct(r.tags as ProtoStruct),
    docs: fromStruct(r.docs as ProtoStruct),
  };
}

/** Converts plain JSON fields of a request into Struct/ListValue where the proto says so. */
function encodeRequest(req: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...req };
  for (const k of ['registry_config', 'capability', 'tags', 'docs'])
    if (out[k] !== undefined) out[k] = toStruct(out[k] as Record<string, unknown>);
  if (out.labels !== undefined) out.labels = toListValue(out.labels as unknown[]);
  return out;
}

/** PluginQuery's filter fields (core.v2.Query in field 1 is the client's: it pages with it). */
export interface PluginFilter {
  plugin_id?: string;
  name?: string;
  state?: 'ENABLED' | 'DISABLED';
  resource_type?: string;
  provider?: string;
  registry_type?: string;
  repository_id?: string;
}

const DEFAULT_PAGE_SIZE = 100;
/** A service that keeps answering full pages is not believed past this many plugins. */
const MAX_LISTED = 100_000;

export interface RepositoryClient {
  register(req: Record<string, unknown>): Promise<PluginInfo>;
  update(req: Record<string, unknown>): Promise<PluginInfo>;
  deregister(pluginId: string): Promise<void>;
  get(pluginId: string, repositoryId?: string): Promise<PluginInfo>;
  getVersions(pluginId: string, repositoryId?: string): Promise<string[]>;
  /** Every plugin matching, page by page (PluginQuery.query.page), in the service's order. */
  list(filter: PluginFilter): Promise<PluginInfo[]>;
  listRepositories(): Promise<RepositoryInfo[]>;
  close(): void;
}

export function createRepositoryClient(options: RepositoryEndpoint): RepositoryClient {
  const m = /^(grpc|grpc\+ssl):\/\/([^/]+)\/?$/.exec(options.endpoint);
  if (!m?.[2])
    throw new AirlockError(
      'E_CONFIG',
      `Repository endpoint must be grpc://HOST:PORT or grpc+ssl://HOST:PORT, got "${options.endpoint}"`,
    );
  const credentials = m[1] === 'grpc+ssl' ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  const protos = repositoryProtos();
  const plugin = new protos.Plugin(m[2], credentials) as unknown as Record<string, Unary> & grpc.Client;
  const repository = new protos.Repository(m[2], credentials) as unknown as Record<string, Unary> & grpc.Client;
  registerSecret(options.token);
  const attempts = options.attempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  function metadata(): grpc.Metadata {
    // The service reads `token` (no Bearer prefix) and, for a system token, `x_domain_id`.
    const md = new grpc.Metadata();
    md.set('token', options.token);
    if (options.domainId) md.set('x_domain_id', options.domainId);
    return md;
  }

  async function call(
    client: Record<string, Unary>,
    method: string,
    req: unknown,
    artifact?: string,
  ): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<Record<string, unknown>>((resolve, reject) => {
          const fn = client[method];
          if (!fn) return reject(new Error(`no method ${method}`));
          fn.call(client, req, metadata(), { deadline: Date.now() + (options.deadlineMs ?? 30_000) }, (e, r) =>
            e ? reject(e) : resolve((r ?? {}) as Record<string, unknown>),
          );
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        const transient = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED;
        if (transient && attempt < attempts) {
          await sleep(200 * 2 ** (attempt - 1));
          continue;
        }
        if (typeof err.code !== 'number') throw e;
        const details = err.details ?? err.message;
        const serviceCode = /^(ERROR_[A-Z_]+)/.exec(details)?.[1] ?? '';
        throw new RepositoryCallError(
          err.code,
          grpc.status[err.code] ?? String(err.code),
          serviceCode,
          method,
          details,
          artifact,
        );
      }
    }
  }

  return {
    async register(req) {
      return toPluginInfo(await call(plugin, 'register', encodeRequest(req), String(req.plugin_id)));
    },
    async update(req) {
      return toPluginInfo(await call(plugin, 'update', encodeRequest(req), String(req.plugin_id)));
    },
    async deregister(pluginId) {
      await call(plugin, 'deregister', { plugin_id: pluginId }, pluginId);
    },
    async get(pluginId, repositoryId) {
      return toPluginInfo(
        await call(
          plugin,
          'get',
          { plugin_id: pluginId, ...(repositoryId ? { repository_id: repositoryId } : {}) },
          pluginId,
        ),
      );
    },
    async getVersions(pluginId, repositoryId) {
      const r = await call(
        plugin,
        'get_versions',
        { plugin_id: pluginId, ...(repositoryId ? { repository_id: repositoryId } : {}) },
        pluginId,
      );
      return (r.results as string[] | undefined) ?? [];
    },
    async list(filter) {
      const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
      const all: PluginInfo[] = [];
      const seen = new Set<string>();
      for (let start = 1; ; start += limit) {
        const r = await call(plugin, 'list', { ...filter, query: { page: { start, limit } } });
        const results = ((r.results as Record<string, unknown>[] | undefined) ?? []).map(toPluginInfo);
        // The same id can be listed twice over all repositories (managed and local): key by both.
        const fresh = results.filter((p) => !seen.has(`${p.repository_info?.repository_id ?? ''}|${p.plugin_id}`));
        if (results.length > 0 && fresh.length === 0) {
          throw new AirlockError(
            'E_REGISTRY',
            `Repository list: page starting at ${start} repeats plugins already listed: the service does not page by query.page`,
          );
        }
        for (const p of fresh) seen.add(`${p.repository_info?.repository_id ?? ''}|${p.plugin_id}`);
        all.push(...fresh);
        const total = Number(r.total_count ?? 0);
        // A short page is the last; so is reaching total_count (0 when the service leaves it out).
        // A page longer than asked means the service ignored the limit and sent everything.
        if (results.length < limit || results.length > limit || (total > 0 && all.length >= total)) return all;
        if (all.length >= MAX_LISTED)
          throw new AirlockError('E_REGISTRY', `Repository list: more than ${MAX_LISTED} plugins, not reading further`);
      }
    },
    async listRepositories() {
      const r = await call(repository, 'list', {});
      return (r.results as RepositoryInfo[] | undefined) ?? [];
    },
    close() {
      plugin.close();
      repository.close();
    },
  };
}
