import type { AirlockConfig } from '../config/schema.js';
import type { SyncKind } from './execute-sync.js';

export const ALL_KINDS: SyncKind[] = ['addons', 'charts', 'images', 'files', 'plugins'];

/**
 * What a run covers: `all`, one kind, or one named source — `addons:CATALOG`, `botkube:REPO`,
 * `charts:CHART`, `images:SOURCE` — with the config narrowed to it (a push to a watched catalog
 * repository syncs that catalog only). Undefined for a scope the config does not know.
 */
export function resolveScope(config: AirlockConfig, scope: string): { kinds: SyncKind[]; config: AirlockConfig } | undefined {
  if (scope === 'all') return { kinds: ALL_KINDS, config };
  if ((ALL_KINDS as string[]).includes(scope)) return { kinds: [scope as SyncKind], config };
  const colon = scope.indexOf(':');
  if (colon <= 0) return undefined;
  const kind = scope.slice(0, colon);
  const name = scope.slice(colon + 1);
  if (kind === 'addons' && config.addons) {
    const catalogs = config.addons.catalogs.filter((c) => c.name === name);
    return catalogs.length ? { kinds: ['addons'], config: { ...config, addons: { ...config.addons, catalogs } } } : undefined;
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
