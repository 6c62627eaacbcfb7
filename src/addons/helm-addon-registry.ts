import pLimit from 'p-limit';
import semver from 'semver';
import { archiveError, readTarGz, type TarEntry } from '../charts/tar.js';
import { sortVersions, type ChartVersionEntry } from '../charts/index-file.js';
import type { HostAccess } from '../oci/auth.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { createHelmRepoReader, type HelmRepoReader } from '../sources/helm-repo.js';
import type { Addon, AddonWarning } from './addon.js';
import { addonFromFiles, type CatalogContents } from './catalog-dir.js';

export interface HelmAddonRegistryOptions {
  /**
   * `latest` (default): per addon the newest version that is not a prerelease, as
   * `vela addon enable` picks (the newest prerelease when there is nothing else); `all`: every
   * version; a map: exactly the listed versions of the listed addons (`v` prefix ignored).
   */
  versions?: 'latest' | 'all' | Record<string, string[]>;
  /** Only these addons and the dependencies they name, transitively (all when absent). */
  addons?: string[];
  /** Archives downloaded at once (default 4). */
  concurrency?: number;
  /** A chart repository reader to share (index cache, credentials); one is made from the engine otherwise. */
  repos?: HelmRepoReader;
}

const bare = (v: string) => v.replace(/^v/, '');

function isPrerelease(version: string): boolean {
  const v = semver.parse(bare(version), { loose: true });
  return v ? v.prerelease.length > 0 : false;
}

/** The versions of one addon to read, newest first. */
function selectAddonVersions(
  entries: ChartVersionEntry[],
  mode: 'latest' | 'all' | string[],
): { picked: ChartVersionEntry[]; missing: string[] } {
  const sorted = sortVersions(entries);
  if (mode === 'all') return { picked: sorted, missing: [] };
  if (mode === 'latest') {
    const stable = sorted.find((e) => semver.valid(bare(e.version), { loose: true }) && !isPrerelease(e.version));
    const chosen = stable ?? sorted[0];
    return { picked: chosen ? [chosen] : [], missing: [] };
  }
  const picked: ChartVersionEntry[] = [];
  const missing: string[] = [];
  for (const want of mode) {
    const e = sorted.find((x) => bare(x.version) === bare(want));
    if (e) picked.push(e);
    else missing.push(want);
  }
  return { picked, missing };
}

/**
 * Unpacks an addon archive the way KubeVela does: Helm's archive loader drops the first path
 * component of every member and skips directories (`fluxcd/x` → `x`, `./fluxcd/x` → `fluxcd/x`),
 * refusing absolute paths and `..`; KubeVela's memory reader then takes names with or without an
 * `<addon>/` prefix. Returns the files keyed by path inside the addon.
 */
async function addonFilesFromArchive(tgz: Buffer, addonName: string, artifact: string): Promise<Map<string, Buffer>> {
  let entries: TarEntry[];
  try {
    // Read as a stream within Helm's caps (100 MiB expanded, 10,000 entries), as KubeVela reads it with Helm's loader.
    entries = await readTarGz(tgz);
  } catch (e) {
    throw archiveError(e, 'addon archive', artifact);
  }
  const files = new Map<string, Buffer>();
  for (const entry of entries) {
    const name = entry.path.replace(/\\/g, '/');
    const parts = name.split('/');
    if (name.startsWith('/') || parts.includes('..'))
      throw new AirlockError('E_UNSUPPORTED', `addon archive member "${entry.path}" points outside the addon`, {
        artifact,
      });
    const inner = parts.slice(1).filter((p) => p !== '' && p !== '.');
    // Helm refuses the whole archive for a file beside the top directory, as KubeVela then does.
    if (inner.length === 0)
      throw new AirlockError('E_UNSUPPORTED', `addon archive member "${entry.path}" is outside a top directory`, {
        artifact,
      });
    const rel = inner[0] === addonName && inner.length > 1 ? inner.slice(1) : inner;
    files.set(rel.join('/'), entry.data);
  }
  return files;
}

/**
 * Reads a helm-type addon registry (index.yaml plus one `.tgz` per addon version, e.g.
 * `https://kubevela.github.io/catalog/official`) as a catalog source. An unreachable or broken
 * index is an error; an addon whose archive cannot be fetched or read is a warning and is skipped.
 */
export async function readHelmAddonRegistry(
  engine: HostAccess,
  url: string,
  registryName: string,
  options: HelmAddonRegistryOptions = {},
): Promise<CatalogContents> {
  const repos = options.repos ?? createHelmRepoReader(engine);
  const index = await repos.index(url);
  const warnings: AddonWarning[] = [];
  const mode = options.versions ?? 'latest';
  const wanted = Array.isArray(options.addons) ? new Set(options.addons) : undefined;
  const names = Object.keys(index.entries)
    .filter((n) => (typeof mode === 'object' ? Object.hasOwn(mode, n) : true) && (!wanted || wanted.has(n)))
    .sort();

  for (const missing of [...(wanted ?? []), ...(typeof mode === 'object' ? Object.keys(mode) : [])]) {
    if (!index.entries[missing]?.length && !warnings.some((w) => w.addon === missing)) {
      warnings.push({
        registry: registryName,
        addon: missing,
        file: `${url} index.yaml`,
        message: 'the addon is not in the registry index',
      });
    }
  }

  const versionsOf = (name: string): ChartVersionEntry[] => {
    // A dependency outside a version map is read as `vela addon enable` would install it: the newest.
    const { picked, missing } = selectAddonVersions(
      index.entries[name] ?? [],
      typeof mode === 'object' ? (mode[name] ?? 'latest') : mode,
    );
    for (const v of missing)
      warnings.push({
        registry: registryName,
        addon: name,
        file: `${url} index.yaml`,
        message: `version ${v} is not in the registry index`,
      });
    return picked;
  };

  const limit = pLimit(options.concurrency ?? 4);
  const fetchAddon = (entry: ChartVersionEntry) =>
    limit(async (): Promise<{ addon?: Addon; warnings: AddonWarning[] }> => {
      const own: AddonWarning[] = [];
      const artifact = `${url} ${entry.name}@${entry.version}`;
      try {
        const fetched = await repos.fetchChart(url, entry.name, entry.version);
        const files = await addonFilesFromArchive(fetched.tgz, entry.name, artifact);
        const addon = addonFromFiles(registryName, entry.name, files, own);
        if (addon && bare(addon.metadata.version) !== bare(entry.version)) {
          own.push({
            registry: registryName,
            addon: entry.name,
            file: 'metadata.yaml',
            message: `metadata.yaml says version ${addon.metadata.version}, the registry index ${entry.version}`,
          });
        }
        return { ...(addon ? { addon } : {}), warnings: own };
      } catch (e) {
        const err = toAirlockError(e, artifact);
        own.push({
          registry: registryName,
          addon: entry.name,
          file: entry.urls[0] ?? `${entry.name}-${entry.version}.tgz`,
          message: `${entry.version}: ${err.message}; the addon is skipped`,
        });
        return { warnings: own };
      }
    });

  // The selected addons, then the dependencies they name that the index has, until none is new:
  // planning a selection follows dependencies, and only what was read here can be followed.
  const addons: Addon[] = [];
  const read = new Set(names);
  let batch = names;
  while (batch.length > 0) {
    const results = await Promise.all(batch.flatMap(versionsOf).map(fetchAddon));
    const next = new Set<string>();
    for (const r of results) {
      if (r.addon) addons.push(r.addon);
      warnings.push(...r.warnings);
      for (const dep of r.addon?.metadata.dependencies ?? []) {
        if (!read.has(dep.name) && index.entries[dep.name]?.length) next.add(dep.name);
      }
    }
    for (const n of next) read.add(n);
    batch = [...next].sort();
  }
  return { addons, warnings };
}
