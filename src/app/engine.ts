import type { ArtifactLock, RegistrySlots } from '../http/ports.js';
import pLimit from 'p-limit';
import type { AirlockConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secret-ref.js';
import type { Logger } from '../core/log.js';
import { AirlockError } from '../core/errors.js';
import type { JobEngine } from '../jobs/job-engine.js';
import { createAuthenticator, type Credentials } from '../oci/auth.js';
import { createBlobLedger, type Limit } from '../oci/blob-copy.js';
import { copyImage } from '../oci/copy-image.js';
import { createCredentialLookup, envVarForRegistry } from '../oci/credentials.js';
import { registerSecret } from '../core/secrets.js';
import { createSend, header, httpClient, type Send } from '../http/client.js';
import { createTransport, type Transport } from '../http/transport.js';
import { registryImageEndpoint } from '../oci/image-endpoint.js';
import { memoryUpstreamBudget, type UpstreamBudget } from '../http/upstream-budget.js';
import { layoutImageEndpoint } from '../oci/layout.js';
import { isLoopbackRegistry } from '../oci/reference.js';
import { registryEndpointHost } from '../http/registry-host.js';
import { createRegistryClient } from '../oci/registry/client.js';
import type { RegistryEndpoint } from '../oci/registry/types.js';
import type { MirrorState } from '../state/mirror-state.js';

export interface EngineOptions {
  config: AirlockConfig;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Extra registries spoken to over plain HTTP / without TLS verification (CLI flags). */
  plainHttp?: string[];
  tlsSkipVerify?: string[];
  state?: MirrorState;
  dockerConfigPath?: string | false;
  /** Waits between retries (tests pass a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Serialises copies of one artifact across processes (workers on one Redis). */
  lock?: ArtifactLock;
  /** Request budgets and pauses per upstream host (default: this process's own, from the config). */
  budget?: UpstreamBudget;
  /** Makes `registries[].concurrency` hold across processes (workers on one Redis); default: per process. */
  slots?: RegistrySlots;
  /** Check every target even where the mirror state vouches for it (`--verify-targets`). */
  verifyTargets?: boolean;
}

/**
 * The image engine of one process: one connection pool, one token cache, one blob ledger. It is the
 * one object that provides every narrow port the layers below take (`JobEngine` and its parts).
 */
export interface Engine extends JobEngine {
  logger: Logger;
  /** Pauses and request budgets per upstream host, as every request of this engine sees them. */
  budget: UpstreamBudget;
  close(): Promise<void>;
}

export function createEngine(options: EngineOptions): Engine {
  const { config, logger } = options;
  const env = options.env ?? process.env;
  const transport = createTransport();
  let insecureTransport: Transport | undefined;
  const registries = new Map(config.registries.map((r) => [r.host, r]));
  const plain = new Set(options.plainHttp ?? []);
  const skipVerify = new Set(options.tlsSkipVerify ?? []);
  // Token realms and redirect targets of a registry configured insecure are usually on the same
  // self-signed host (Harbor, GitLab): they get the same TLS treatment, keyed by host.
  const transportFor = (url: { host: string }): Transport => {
    const insecure = (registries.get(url.host)?.insecure ?? false) || skipVerify.has(url.host);
    return insecure ? (insecureTransport ??= createTransport({ insecure: true })) : transport;
  };

  const configured = new Map<string, Credentials>();
  // Every unreadable password at once: an operator fixing one should not find the next on the next run.
  const unreadable: string[] = [];
  config.registries.forEach((r, i) => {
    if (!r.username || !r.password) return;
    try {
      configured.set(r.host, {
        username: r.username,
        password: resolveSecret(r.password, `registries[${i}].password`, env),
      });
    } catch (e) {
      unreadable.push((e as Error).message);
    }
  });
  if (unreadable.length > 0) throw new AirlockError('E_CONFIG', unreadable.join('; '));

  const warnedLow = new Set<string>();
  const budget = options.budget ?? memoryUpstreamBudget(config);
  const send: Send = createSend({
    logger,
    retry: config.retry,
    deadlines: {
      manifestMs: config.timeouts.manifest * 1000,
      indexMs: config.timeouts.index * 1000,
      blobMs: config.timeouts.blob * 1000,
      blobPerMiBMs: config.timeouts.blobPerMiB * 1000,
    },
    budget,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    onResponse(url, res) {
      // Docker Hub: `ratelimit-remaining: 76;w=21600`. Say so before the quota runs out, once per host.
      const remaining = header(res, 'ratelimit-remaining');
      const n = remaining ? Number.parseInt(remaining, 10) : NaN;
      if (!Number.isNaN(n) && n < 10 && !warnedLow.has(url.host)) {
        warnedLow.add(url.host);
        logger.warn({ host: url.host, remaining: n }, 'upstream pull quota nearly used up');
      }
    },
  });

  const endpoints = new Map<string, RegistryEndpoint>();
  function endpointFor(registry: string): RegistryEndpoint {
    let ep = endpoints.get(registry);
    if (!ep) {
      const cfg = registries.get(registry);
      const usePlain = cfg?.plainHttp ?? (plain.has(registry) || isLoopbackRegistry(registry));
      ep = {
        baseUrl: `${usePlain ? 'http' : 'https'}://${registryEndpointHost(registry)}`,
        transport: transportFor({ host: registry }),
        chunkSize: cfg?.chunkSize ?? 0,
      };
      endpoints.set(registry, ep);
    }
    return ep;
  }

  const credentials = createCredentialLookup({ configured, env, dockerConfigPath: options.dockerConfigPath });
  const auth = createAuthenticator({ send, transportFor, credentials });
  const client = createRegistryClient({ send, auth, endpoint: endpointFor, transportFor, logger });
  const ledger = createBlobLedger();
  const blobLimit = pLimit(config.concurrency.blobs);
  const perRegistry = new Map<string, Limit>();
  for (const r of config.registries) {
    const max = r.concurrency;
    if (!max) continue;
    // The process's own limit first, so only jobs with a local slot poll Redis for a shared one.
    const local = pLimit(max);
    const { slots } = options;
    perRegistry.set(r.host, slots ? (fn) => local(() => slots.run(r.host, max, fn)) : (fn) => local(fn));
  }
  const registryLimit = (registry: string) => perRegistry.get(registry);

  return {
    client,
    http: httpClient(send, transport, { fileBytes: config.limits.fileBytes }),
    credentials,
    token(host) {
      const value = env[envVarForRegistry(host, 'TOKEN')];
      if (value) registerSecret(value);
      return value || undefined;
    },
    logger,
    ...(options.state ? { state: options.state } : {}),
    ...(options.lock ? { lock: options.lock } : {}),
    budget,
    endpoint(ref) {
      if (ref.transport === 'oci') return layoutImageEndpoint(ref.dir);
      return registryImageEndpoint(client, { registry: ref.registry, repository: ref.repository });
    },
    copy(req) {
      return copyImage(req, {
        logger,
        ledger,
        blobLimit,
        registryLimit,
        state: options.state,
        trustTargetMs: config.state.trustTargetSeconds * 1000,
        verifyTargets: options.verifyTargets ?? false,
      });
    },
    async close() {
      await options.state?.flush();
      await transport.close();
      await insecureTransport?.close();
    },
  };
}
