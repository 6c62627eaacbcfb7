import { parse as parseYaml } from 'yaml';
import semver from 'semver';

/**
 * One addon as airlock handles it, whatever it came from (a catalog folder, a git checkout,
 * a helm-type addon registry archive): its files in memory, keyed by POSIX path relative
 * to the addon folder (`metadata.yaml`, `resources/x.cue`).
 */
export interface Addon {
  /** Addon registry the addon belongs to (`official`, `experimental`). */
  registry: string;
  /** Folder name in the catalog (KubeVela uses it as the name for local installs). */
  dir: string;
  metadata: AddonMetadata;
  files: Map<string, Buffer>;
}

export interface AddonDependency {
  name: string;
  version?: string;
}

/** metadata.yaml (KubeVela's `Meta`): the fields airlock reads. */
export interface AddonMetadata {
  name: string;
  version: string;
  description?: string;
  icon?: string;
  url?: string;
  tags?: string[];
  dependencies?: AddonDependency[];
  system?: { vela?: string; kubernetes?: string };
  uxPlugins?: Record<string, string>;
}

/** A problem with one addon: reported, never fatal for the rest of the catalog. */
export interface AddonWarning {
  registry: string;
  addon: string;
  file?: string;
  message: string;
}

export class AddonMetadataError extends Error {}

/** A path inside an addon that stays inside it: relative, no empty, `.` or `..` segment. */
export function isPlainRelativePath(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..');
}

/** KubeVela sorts and selects versions by semver (a `v` prefix tolerated); others cannot be published in a helm-type registry. */
export function isSemverVersion(version: string): boolean {
  return semver.valid(version.replace(/^v/, '')) !== null;
}

function optString(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new AddonMetadataError(`${key} must be a string`);
}

/** Parses metadata.yaml as KubeVela does (non-strict): `name` required, `version` semver with an optional `v`. */
export function parseAddonMetadata(text: string): AddonMetadata {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new AddonMetadataError(`not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AddonMetadataError('not a YAML mapping');
  const doc = raw as Record<string, unknown>;
  const name = optString(doc, 'name');
  if (!name) throw new AddonMetadataError('name is missing');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new AddonMetadataError(`name "${name}" is not a valid chart name (lowercase letters, digits and -)`);
  const version = optString(doc, 'version');
  if (!version) throw new AddonMetadataError('version is missing');
  const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : undefined;
  const dependencies: AddonDependency[] = [];
  if (doc.dependencies !== undefined && doc.dependencies !== null) {
    if (!Array.isArray(doc.dependencies)) throw new AddonMetadataError('dependencies must be a list');
    for (const d of doc.dependencies) {
      const dn = d && typeof d === 'object' ? (d as Record<string, unknown>).name : undefined;
      if (typeof dn !== 'string' || !dn) throw new AddonMetadataError('every dependency needs a name');
      const dv = (d as Record<string, unknown>).version;
      dependencies.push(typeof dv === 'string' && dv ? { name: dn, version: dv } : { name: dn });
    }
  }
  const sys = doc.system && typeof doc.system === 'object' ? (doc.system as Record<string, unknown>) : undefined;
  const system = sys ? { vela: optString(sys, 'vela'), kubernetes: optString(sys, 'kubernetes') } : undefined;
  const ux = doc.uxPlugins && typeof doc.uxPlugins === 'object' ? (doc.uxPlugins as Record<string, unknown>) : undefined;
  const uxPlugins = ux ? Object.fromEntries(Object.entries(ux).filter((e): e is [string, string] => typeof e[1] === 'string')) : undefined;
  return {
    name,
    version,
    description: optString(doc, 'description'),
    icon: optString(doc, 'icon'),
    url: optString(doc, 'url'),
    tags,
    dependencies,
    system: system && (system.vela || system.kubernetes) ? system : undefined,
    uxPlugins,
  };
}
