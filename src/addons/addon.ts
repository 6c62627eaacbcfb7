import semver from 'semver';
import { formatGoFloat32, GoFloat, readGoYaml } from '../core/go-yaml.js';

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

/** A Go type of KubeVela's `Meta` (pkg/addon/type.go), as encoding/json decodes into it. */
type GoType = 'string' | 'bool' | { list: GoType } | { map: 'string' } | { struct: Record<string, GoType> };

// kubevela/kubevela pkg/addon/type.go `Meta` (json tags), at 5a44b5f10c59f80a4fcd1990f59e024856c78cd8.
const META: Record<string, GoType> = {
  name: 'string',
  version: 'string',
  description: 'string',
  icon: 'string',
  url: 'string',
  tags: { list: 'string' },
  uxPlugins: { map: 'string' },
  deployTo: { struct: { runtime_cluster: 'bool', disableControlPlane: 'bool', runtimeCluster: 'bool' } },
  dependencies: { list: { struct: { name: 'string', version: 'string' } } },
  needNamespace: { list: 'string' },
  invisible: 'bool',
  system: { struct: { vela: 'string', kubernetes: 'string' } },
  annotations: { map: 'string' },
};

/**
 * sigs.k8s.io/yaml then encoding/json into a Go type: a number or boolean given for a string
 * becomes its text (yaml.go `convertToJSONableObject`), null leaves the zero value, anything else
 * of the wrong kind is the decoding error that makes KubeVela refuse the file. JSON field names
 * match case-insensitively; keys are applied in the sorted order json.Marshal wrote them, so of
 * `Name` and `name` the latter wins, and a struct or map given twice is merged.
 */
function decodeGo(v: unknown, type: GoType, where: string, into?: unknown): unknown {
  if (v === null || v === undefined) return into;
  if (type === 'string') {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') return String(v);
    if (v instanceof GoFloat) return formatGoFloat32(v.value);
    throw new AddonMetadataError(`${where} must be a string`);
  }
  if (type === 'bool') {
    if (typeof v === 'boolean') return v;
    throw new AddonMetadataError(`${where} must be a boolean`);
  }
  if ('list' in type) {
    if (!Array.isArray(v)) throw new AddonMetadataError(`${where} must be a list`);
    return v.map((x, i) => decodeGo(x, type.list, `${where}[${i}]`) ?? (type.list === 'string' ? '' : null));
  }
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof GoFloat)
    throw new AddonMetadataError(`${where} must be a mapping`);
  const obj = v as Record<string, unknown>;
  if ('map' in type) {
    const out: Record<string, string> = { ...((into as Record<string, string> | undefined) ?? {}) };
    for (const [k, x] of Object.entries(obj))
      out[k] = (decodeGo(x, 'string', `${where}.${k}`) as string | undefined) ?? '';
    return out;
  }
  const out: Record<string, unknown> = { ...((into as Record<string, unknown> | undefined) ?? {}) };
  const fields = Object.keys(type.struct);
  for (const k of Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const field = fields.find((f) => f === k) ?? fields.find((f) => f.toLowerCase() === k.toLowerCase());
    if (!field) continue;
    out[field] = decodeGo(obj[k], type.struct[field]!, where ? `${where}.${field}` : field, out[field]);
  }
  return out;
}

/**
 * Parses metadata.yaml as KubeVela does (`yaml.Unmarshal` of sigs.k8s.io/yaml into `Meta`,
 * pkg/addon/addon.go readMetadata): the first document, the last of repeated keys, merge keys,
 * YAML 1.1 scalars. Then airlock's own checks: `name` a chart name, `version` present, each
 * dependency named. `notes` are the places where that reading differs from a strict one.
 */
export function readAddonMetadata(text: string): { metadata: AddonMetadata; notes: string[] } {
  const doc = readGoYaml(text);
  if (doc.error) throw new AddonMetadataError(`not YAML as KubeVela reads it: ${doc.error}`);
  let raw: unknown;
  try {
    raw = doc.toValue(undefined, { floats: 'typed' });
  } catch (e) {
    throw new AddonMetadataError(`not YAML as KubeVela reads it: ${(e as Error).message}`);
  }
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw)))
    throw new AddonMetadataError('not a YAML mapping');
  const meta = decodeGo(raw ?? {}, { struct: META }, '') as {
    name?: string;
    version?: string;
    description?: string;
    icon?: string;
    url?: string;
    tags?: string[];
    uxPlugins?: Record<string, string>;
    dependencies?: Array<{ name?: string; version?: string } | null>;
    system?: { vela?: string; kubernetes?: string };
  };
  const name = meta.name;
  if (!name) throw new AddonMetadataError('name is missing');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    throw new AddonMetadataError(`name "${name}" is not a valid chart name (lowercase letters, digits and -)`);
  const version = meta.version;
  if (!version) throw new AddonMetadataError('version is missing');
  const dependencies: AddonDependency[] = [];
  for (const d of meta.dependencies ?? []) {
    if (!d?.name) throw new AddonMetadataError('every dependency needs a name');
    dependencies.push(d.version ? { name: d.name, version: d.version } : { name: d.name });
  }
  const system =
    meta.system && (meta.system.vela || meta.system.kubernetes)
      ? { vela: meta.system.vela, kubernetes: meta.system.kubernetes }
      : undefined;
  const metadata: AddonMetadata = {
    name,
    version,
    description: meta.description,
    icon: meta.icon,
    url: meta.url,
    tags: meta.tags,
    dependencies,
    system,
    uxPlugins: meta.uxPlugins,
  };
  return { metadata, notes: doc.notes };
}

export function parseAddonMetadata(text: string): AddonMetadata {
  return readAddonMetadata(text).metadata;
}
