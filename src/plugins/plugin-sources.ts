import type { AirlockConfig, PluginsConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secret-ref.js';
import { AirlockError } from '../core/errors.js';
import type { RepositoryClient } from '../spaceone/repository-client.js';
import { MANAGED_PLUGIN_IDS } from './managed-catalog.js';
import { readPluginManifests, type PluginManifest } from './plugin-manifest.js';
import type { RegisterPluginRequest } from '../spaceone/registrar.js';

export interface ManifestSource {
  /** A file or directory instead of plugins.manifests. */
  manifests?: string;
  imagePrefix?: string;
  registryType?: RegisterPluginRequest['registry_type'];
}

/** Every plugin manifest the options or the plugins: section name; invalid ones are problems, never fatal for the rest. */
export function loadPluginManifests(
  opts: ManifestSource,
  section: PluginsConfig | undefined,
): { manifests: PluginManifest[]; problems: Array<{ error: AirlockError }> } {
  const paths = opts.manifests ? [opts.manifests] : (section?.manifests ?? []);
  if (paths.length === 0)
    throw new AirlockError('E_USAGE', 'no plugin manifests: give --manifests PATH or plugins.manifests in the config');
  const options = {
    ...((opts.imagePrefix ?? section?.target.path) ? { imagePrefix: opts.imagePrefix ?? section?.target.path } : {}),
    registryType: opts.registryType ?? section?.registryType ?? 'HARBOR',
  };
  const manifests: PluginManifest[] = [];
  const problems: Array<{ error: AirlockError }> = [];
  for (const p of paths) {
    const r = readPluginManifests(p, options);
    manifests.push(...r.manifests);
    problems.push(...r.problems);
  }
  warnDuplicatePluginIds(manifests);
  for (const m of manifests) {
    if (MANAGED_PLUGIN_IDS.has(m.request.plugin_id)) {
      m.warnings.push(
        `plugin_id ${m.request.plugin_id} is also in the managed catalog, which shadows it for callers that do not pass repository_id`,
      );
    }
  }
  return { manifests, problems };
}

/** Over all configured paths together: the same id in two directories collides at the service just the same. */
function warnDuplicatePluginIds(manifests: PluginManifest[]): void {
  const seen = new Map<string, string>();
  for (const m of manifests) {
    const other = seen.get(m.request.plugin_id);
    if (other)
      m.warnings.push(`plugin_id ${m.request.plugin_id} also defined in ${other}; the service keeps one per domain`);
    seen.set(m.request.plugin_id, m.file);
  }
}

/** gRPC is loaded only by what talks to the service: the CLI's start-up stays small. */
export async function repositoryClientFor(config: AirlockConfig, label: string): Promise<RepositoryClient> {
  const service = config.plugins?.service;
  if (!service)
    throw new AirlockError(
      'E_CONFIG',
      `${label}: plugins.service (endpoint, token) is required to talk to the Repository service`,
    );
  const { createRepositoryClient } = await import('../spaceone/repository-client.js');
  return createRepositoryClient({
    endpoint: service.endpoint,
    token: resolveSecret(service.token, 'plugins.service.token'),
    ...(service.domainId ? { domainId: service.domainId } : {}),
  });
}
