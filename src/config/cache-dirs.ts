import os from 'node:os';
import path from 'node:path';
import type { AirlockConfig } from './schema.js';

/**
 * What airlock keeps between runs so a re-sync is cheap, each cache in its own folder beside the
 * mirror state file. One object names them all, so no module finds another's folder by `..`.
 */
export interface CacheDirs {
  /** Chart repository index validators and bodies (conditional GETs). */
  chartIndexes: string;
  /** The images found in each chart version, so an unchanged chart is not opened again. */
  chartImages: string;
  /** The digest of the archive each addon's rewritten files made last time. */
  addonArchives: string;
  /** Git catalog clones (`addons.cacheDir` when set). */
  catalogs: string;
}

/** `$XDG_CACHE_HOME/airlock/mirror-state.json`, else `~/.cache/airlock/mirror-state.json` (a relative XDG_CACHE_HOME is ignored, as the spec says). */
export function defaultStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cache = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(cache, 'airlock', 'mirror-state.json');
}

/** The caches in `root`, the folder the state file is in. */
export function cacheDirsIn(root: string, config?: Pick<AirlockConfig, 'addons'>): CacheDirs {
  return {
    chartIndexes: path.join(root, 'index-cache'),
    chartImages: path.join(root, 'chart-images'),
    addonArchives: path.join(root, 'addon-archives'),
    catalogs: config?.addons?.cacheDir ?? path.join(root, 'catalogs'),
  };
}

/** The caches beside the state file a command uses: `--state`, else `state.file`, else the default one. */
export function cacheDirsFor(
  config: Pick<AirlockConfig, 'addons' | 'state'>,
  options: { stateFile?: string; env?: NodeJS.ProcessEnv } = {},
): CacheDirs {
  const file = options.stateFile ?? config.state.file ?? defaultStateFile(options.env);
  return cacheDirsIn(path.dirname(file), config);
}
