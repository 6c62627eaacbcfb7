import type { AirlockConfig } from './schema.js';

/** The kinds of artifact a run covers, in the order a one-shot run takes them. */
export type SyncKind = 'images' | 'charts' | 'files' | 'addons' | 'plugins';

export const ALL_KINDS: SyncKind[] = ['addons', 'charts', 'images', 'files', 'plugins'];

/**
 * What a run covers: `all`, one kind, or one named source — `addons:CATALOG`, `botkube:REPO`,
 * `charts:CHART`, `images:SOURCE` — with the config narrowed to it (a push to a watched catalog
 * repository syncs that catalog only). Undefined for a scope the config does not know.
 */
/**
 * Scopes of schedules and watched repositories that name nothing in this config, with their key
 * paths: checked at load so a typo fails at start, not at the first tick.
 */
export function unknownScopes(config: AirlockConfig): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const check = (scope: string, path: (string | number)[]) => {
    if (!resolveScope(config, scope))
      problems.push({
        path,
        message: `unknown scope "${scope}": use all, ${ALL_KINDS.join(', ')}, or addons:CATALOG, botkube:REPO, charts:CHART, images:SOURCE naming an entry of this config`,
      });
  };
  config.schedules.forEach((s, i) => check(s.scope, ['schedules', i, 'scope']));
  config.serve?.github?.repositories.forEach((r, i) => check(r.scope, ['serve', 'github', 'repositories', i, 'scope']));
  return problems;
}

export function resolveScope(
  config: AirlockConfig,
  scope: string,
): { kinds: SyncKind[]; config: AirlockConfig } | undefined {
  if (scope === 'all') return { kinds: ALL_KINDS, config };
  if ((ALL_KINDS as string[]).includes(scope)) return { kinds: [scope as SyncKind], config };
  const colon = scope.indexOf(':');
  if (colon <= 0) return undefined;
  const kind = scope.slice(0, colon);
  const name = scope.slice(colon + 1);
  if (kind === 'addons' && config.addons) {
    const catalogs = config.addons.catalogs.filter((c) => c.name === name);
    return catalogs.length
      ? { kinds: ['addons'], config: { ...config, addons: { ...config.addons, catalogs } } }
      : undefined;
  }
  if (kind === 'botkube') {
    const botkube = config.botkube.filter((b) => b.name === name);
    return botkube.length ? { kinds: ['files'], config: { ...config, files: [], botkube } } : undefined;
  }
  if (kind === 'charts') {
    const charts = config.charts.filter((c) => c.name === name);
    return charts.length ? { kinds: ['charts'], config: { ...config, charts } } : undefined;
  }
  if (kind === 'images') {
    const images = config.images.filter((i) => i.source === name);
    return images.length ? { kinds: ['images'], config: { ...config, images } } : undefined;
  }
  return undefined;
}
