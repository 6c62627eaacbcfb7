import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AddonMetadataError, isSemverVersion, readAddonMetadata, type Addon, type AddonWarning } from './addon.js';

/** A catalog folder served as one addon registry (`addons` → `official`). */
export interface CatalogRegistry {
  name: string;
  /** Folder below the catalog root. */
  path: string;
}

export const DEFAULT_CATALOG_REGISTRIES: CatalogRegistry[] = [
  { name: 'official', path: 'addons' },
  { name: 'experimental', path: 'experimental/addons' },
];

export interface CatalogContents {
  addons: Addon[];
  warnings: AddonWarning[];
}

/**
 * An addon folder's files. Synchronous on purpose: a catalog is hundreds of small files, and one
 * promise round trip per file cost more than the reads themselves (a 90-addon catalog is read in
 * tens of milliseconds this way).
 */
function readTree(dir: string, rel = '', out = new Map<string, Buffer>()): Map<string, Buffer> {
  const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name === '.git') continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) readTree(dir, r, out);
    else if (e.isFile()) out.set(r, fs.readFileSync(path.join(dir, r)));
  }
  return out;
}

/** Builds an Addon from its files; a missing or invalid metadata.yaml is a warning naming the file. */
export function addonFromFiles(
  registry: string,
  dir: string,
  files: Map<string, Buffer>,
  warnings: AddonWarning[],
): Addon | undefined {
  const meta = files.get('metadata.yaml');
  if (!meta) {
    warnings.push({
      registry,
      addon: dir,
      file: `${dir}/metadata.yaml`,
      message: 'metadata.yaml is missing; the folder is not an addon and is skipped',
    });
    return undefined;
  }
  try {
    const { metadata, notes } = readAddonMetadata(meta.toString('utf8'));
    // Where KubeVela's lenient reading decides (a repeated key), the addon is kept, as KubeVela keeps it.
    for (const note of notes)
      warnings.push({
        registry,
        addon: metadata.name,
        file: `${dir}/metadata.yaml`,
        message: `${note} (as KubeVela reads it)`,
      });
    if (metadata.name !== dir) {
      warnings.push({
        registry,
        addon: metadata.name,
        file: `${dir}/metadata.yaml`,
        message: `folder "${dir}" differs from metadata name "${metadata.name}"; the addon is published as "${metadata.name}"`,
      });
    }
    if (!isSemverVersion(metadata.version)) {
      warnings.push({
        registry,
        addon: metadata.name,
        file: `${dir}/metadata.yaml`,
        message: `version "${metadata.version}" is not semver; the addon is discovered but not published to helm-type registries`,
      });
    }
    return { registry, dir, metadata, files };
  } catch (e) {
    if (!(e instanceof AddonMetadataError)) throw e;
    warnings.push({
      registry,
      addon: dir,
      file: `${dir}/metadata.yaml`,
      message: `${e.message}; the addon is skipped`,
    });
    return undefined;
  }
}

/** Reads every addon folder of the given registries below a catalog root (a checkout or a plain directory). */
export async function readCatalogDir(
  root: string,
  registries: CatalogRegistry[] = DEFAULT_CATALOG_REGISTRIES,
): Promise<CatalogContents> {
  const addons: Addon[] = [];
  const warnings: AddonWarning[] = [];
  for (const reg of registries) {
    const base = path.join(root, reg.path);
    let entries;
    try {
      entries = await fsp.readdir(base, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      warnings.push({
        registry: reg.name,
        addon: '*',
        file: reg.path,
        message: `catalog folder ${reg.path} does not exist`,
      });
      continue;
    }
    const dirs = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
    for (const d of dirs) {
      const addon = addonFromFiles(reg.name, d, readTree(path.join(base, d)), warnings);
      if (addon) addons.push(addon);
    }
  }
  return { addons, warnings };
}
