import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { AirlockError } from '../core/errors.js';

/** kubeshop/botkube pkg/plugin/index.go, as far as a mirror needs it; unknown fields are kept. */
export interface PluginUrl {
  url: string;
  checksum?: string;
  platform?: { os?: string; architecture?: string };
  dependencies?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface PluginEntry {
  name: string;
  type: 'executor' | 'source';
  version: string;
  description?: string;
  jsonSchema?: { value?: string; refURL?: string };
  externalRequest?: { payload?: { jsonSchema?: { value?: string; refURL?: string } } };
  urls: PluginUrl[];
  [key: string]: unknown;
}

export interface PluginIndex {
  entries: PluginEntry[];
  [key: string]: unknown;
}

export function parsePluginIndex(text: string, artifact: string): PluginIndex {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new AirlockError('E_UNSUPPORTED', `plugin index is not valid YAML: ${(e as Error).message.split('\n')[0]}`, {
      artifact,
    });
  }
  const index = doc as PluginIndex | null;
  if (!index || typeof index !== 'object' || !Array.isArray(index.entries)) {
    throw new AirlockError('E_UNSUPPORTED', 'plugin index has no entries list', { artifact });
  }
  return index;
}

/** Dependency values that are maps with a url; Botkube's YAML decoder ignores the rest. */
export function dependencyUrls(u: PluginUrl): Array<[string, { url?: unknown }]> {
  return Object.entries(u.dependencies ?? {}).filter(
    (e): e is [string, { url?: unknown }] => !!e[1] && typeof e[1] === 'object',
  );
}

/**
 * Botkube's `Index.Validate`: name, type executor|source, version and at least one url; each
 * (type, name, version) once; every dependency has a url. Returns every problem, one per line.
 */
export function validatePluginIndex(index: PluginIndex): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  index.entries.forEach((e, i) => {
    const where = `entries[${i}]${e?.name ? ` (${e.type ?? '?'}/${e.name}${e.version ? `@${e.version}` : ''})` : ''}`;
    if (!e || typeof e !== 'object') return problems.push(`${where}: not a mapping`);
    if (!e.name) problems.push(`${where}: name is required`);
    if (!e.type) problems.push(`${where}: type is required`);
    else if (e.type !== 'executor' && e.type !== 'source')
      problems.push(`${where}: type "${String(e.type)}" is not executor or source`);
    if (!e.version) problems.push(`${where}: version is required`);
    if (!Array.isArray(e.urls) || e.urls.length === 0) problems.push(`${where}: at least one url is required`);
    const key = `${e.type}/${e.name}/${e.version}`;
    if (e.name && e.type && e.version) {
      if (seen.has(key)) problems.push(`${where}: duplicates another entry with the same type, name and version`);
      seen.add(key);
    }
    for (const u of Array.isArray(e.urls) ? e.urls : []) {
      if (!u?.url) problems.push(`${where}: a url entry has no url`);
      for (const [dep, d] of dependencyUrls(u ?? ({} as PluginUrl))) {
        if (!d.url) problems.push(`${where}: dependency ${dep} has no url`);
      }
    }
  });
  return problems;
}

/** Botkube sorts a plugin's versions with hashicorp/go-version: `v1.2.0` and `1.2.0` alike. */
function compareVersions(a: string, b: string): number {
  // Prereleases sort below their release, as hashicorp/go-version does.
  const va = semver.parse(a, { loose: true }) ?? semver.coerce(a, { loose: true });
  const vb = semver.parse(b, { loose: true }) ?? semver.coerce(b, { loose: true });
  if (va && vb) return semver.compare(va, vb) || a.localeCompare(b);
  return a.localeCompare(b);
}

/**
 * Which entries to mirror: the listed plugins (`name` or `type/name`, default all), each with the
 * chosen versions (default all) and always its newest version — Botkube downloads the newest
 * entry's URL even when a version is pinned.
 */
export function selectPlugins(
  index: PluginIndex,
  plugins: string[] | undefined,
  versions: string[] | undefined,
): PluginEntry[] {
  const wanted = (e: PluginEntry) =>
    !plugins?.length || plugins.includes(e.name) || plugins.includes(`${e.type}/${e.name}`);
  const byPlugin = new Map<string, PluginEntry[]>();
  for (const e of index.entries.filter(wanted)) {
    const k = `${e.type}/${e.name}`;
    byPlugin.set(k, [...(byPlugin.get(k) ?? []), e]);
  }
  const out: PluginEntry[] = [];
  for (const list of byPlugin.values()) {
    const newest = [...list].sort((a, b) => compareVersions(b.version, a.version))[0];
    for (const e of list) if (!versions?.length || versions.includes(e.version) || e === newest) out.push(e);
  }
  return out;
}
