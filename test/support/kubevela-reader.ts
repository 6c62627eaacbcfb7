import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import semver from 'semver';
import { parseDocument } from 'yaml';

/**
 * An INDEPENDENT reader of helm-type addon registries, written from KubeVela's documented rules
 * (shared/docs/formats.md 1.4, 1.5, 3.1) and sharing no code with airlock: the index parsed
 * strictly into Helm's IndexFile (unknown fields at any level are fatal, as
 * `yaml.UnmarshalStrict` makes them), the newest non-prerelease version chosen (`v` prefix
 * ignored), relative URLs joined to the registry URL, and the archive read as Helm's
 * `LoadArchiveFiles` + KubeVela's MemoryReader do: directories skipped, the first path component
 * dropped, absolute paths and `..` refused, an optional `<addon>/` prefix removed.
 */

const TOP_FIELDS = new Set(['apiVersion', 'generated', 'entries', 'publicKeys', 'serverInfo', 'annotations']);
const STRING_FIELDS = [
  'name',
  'home',
  'version',
  'description',
  'icon',
  'apiVersion',
  'condition',
  'tags',
  'appVersion',
  'kubeVersion',
  'type',
  'digest',
  'checksum',
  'engine',
  'tillerVersion',
  'url',
];
const STRING_LIST_FIELDS = ['sources', 'keywords', 'urls'];
const VERSION_FIELDS = new Set([
  ...STRING_FIELDS,
  ...STRING_LIST_FIELDS,
  'maintainers',
  'deprecated',
  'annotations',
  'dependencies',
  'created',
  'removed',
]);
const MAINTAINER_FIELDS = new Set(['name', 'email', 'url']);
const DEPENDENCY_FIELDS = new Set([
  'name',
  'version',
  'repository',
  'condition',
  'tags',
  'enabled',
  'import-values',
  'alias',
]);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export interface IndexVersion {
  name: string;
  version: string;
  urls: string[];
  digest?: string;
  created?: string;
  description?: string;
  icon?: string;
  home?: string;
  keywords?: string[];
  annotations?: Record<string, string>;
  apiVersion?: string;
  appVersion?: string;
  type?: string;
  [key: string]: unknown;
}

export interface StrictIndex {
  apiVersion: string;
  generated?: string;
  entries: Record<string, IndexVersion[]>;
}

function fail(where: string, why: string): never {
  throw new Error(`strict index: ${where}: ${why}`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function checkStringMap(v: unknown, where: string): void {
  if (!isMap(v)) fail(where, 'must be a map of strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') fail(`${where}.${k}`, 'must be a string');
}

function checkVersion(v: unknown, where: string): IndexVersion {
  if (!isMap(v)) fail(where, 'must be a map');
  for (const key of Object.keys(v)) if (!VERSION_FIELDS.has(key)) fail(`${where}.${key}`, 'unknown field');
  for (const key of STRING_FIELDS)
    if (key in v && typeof v[key] !== 'string') fail(`${where}.${key}`, 'must be a string');
  for (const key of STRING_LIST_FIELDS) {
    if (key in v && (!Array.isArray(v[key]) || !(v[key] as unknown[]).every((x) => typeof x === 'string')))
      fail(`${where}.${key}`, 'must be a list of strings');
  }
  if ('annotations' in v) checkStringMap(v.annotations, `${where}.annotations`);
  if ('deprecated' in v && typeof v.deprecated !== 'boolean') fail(`${where}.deprecated`, 'must be a boolean');
  if ('removed' in v && typeof v.removed !== 'boolean') fail(`${where}.removed`, 'must be a boolean');
  if ('created' in v && !(typeof v.created === 'string' && RFC3339.test(v.created)))
    fail(`${where}.created`, 'must be an RFC 3339 time');
  for (const [i, m] of ((v.maintainers as unknown[] | undefined) ?? []).entries()) {
    if (!isMap(m)) fail(`${where}.maintainers[${i}]`, 'must be a map');
    for (const k of Object.keys(m))
      if (!MAINTAINER_FIELDS.has(k)) fail(`${where}.maintainers[${i}].${k}`, 'unknown field');
  }
  for (const [i, d] of ((v.dependencies as unknown[] | undefined) ?? []).entries()) {
    if (!isMap(d)) fail(`${where}.dependencies[${i}]`, 'must be a map');
    for (const k of Object.keys(d))
      if (!DEPENDENCY_FIELDS.has(k)) fail(`${where}.dependencies[${i}].${k}`, 'unknown field');
  }
  if (typeof v.name !== 'string' || typeof v.version !== 'string') fail(where, 'name and version are required');
  return { ...v, urls: (v.urls as string[] | undefined) ?? [] } as IndexVersion;
}

/** Helm's IndexFile decoded strictly: throws on the first unknown field or wrong type. */
export function parseIndexStrict(text: string): StrictIndex {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) fail('document', doc.errors[0]?.message ?? 'invalid YAML');
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isMap(raw)) fail('document', 'must be a map');
  for (const key of Object.keys(raw)) if (!TOP_FIELDS.has(key)) fail(key, 'unknown top-level field');
  if (typeof raw.apiVersion !== 'string' || !raw.apiVersion) fail('apiVersion', 'missing');
  if ('generated' in raw && !(typeof raw.generated === 'string' && RFC3339.test(raw.generated)))
    fail('generated', 'must be an RFC 3339 time');
  if ('annotations' in raw) checkStringMap(raw.annotations, 'annotations');
  if ('serverInfo' in raw && !isMap(raw.serverInfo)) fail('serverInfo', 'must be a map');
  if (!isMap(raw.entries)) fail('entries', 'must be a map');
  const entries: Record<string, IndexVersion[]> = {};
  for (const [name, list] of Object.entries(raw.entries)) {
    if (!Array.isArray(list)) fail(`entries.${name}`, 'must be a list');
    entries[name] = list.map((v, i) => checkVersion(v, `entries.${name}[${i}]`));
  }
  return {
    apiVersion: raw.apiVersion,
    ...(typeof raw.generated === 'string' ? { generated: raw.generated } : {}),
    entries,
  };
}

const strip = (v: string) => v.replace(/^v/, '');

/** KubeVela's choice: semver descending; an explicit version matched without `v`; else the newest non-prerelease. */
export function chooseVersion(versions: IndexVersion[], wanted?: string): IndexVersion {
  const valid = versions.filter((v) => semver.valid(strip(v.version)));
  valid.sort((a, b) => semver.rcompare(strip(a.version), strip(b.version)));
  const pick = wanted
    ? valid.find((v) => strip(v.version) === strip(wanted))
    : valid.find((v) => semver.prerelease(strip(v.version)) === null);
  if (!pick)
    throw new Error(
      `no ${wanted ? `version ${wanted}` : 'non-prerelease version'} among ${versions.map((v) => v.version).join(', ')}`,
    );
  return pick;
}

/** A relative chart URL joined to the registry URL (path join, so a trailing slash does not matter). */
export function joinRegistryUrl(registryUrl: string, ref: string): string {
  if (/^https?:\/\//.test(ref)) return ref;
  const u = new URL(registryUrl);
  u.pathname = path.posix.join(u.pathname, ref);
  return u.toString();
}

/** Tar members (name, type flag, data), parsed here from the ustar/pax/GNU layout. */
function tarMembers(tar: Buffer): Array<{ name: string; type: string; data: Buffer }> {
  const out: Array<{ name: string; type: string; data: Buffer }> = [];
  const str = (b: Buffer) => b.toString('utf8').replace(/\0.*$/s, '');
  let pos = 0;
  let nextName: string | undefined;
  while (pos + 512 <= tar.length) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break;
    const size = Number.parseInt(str(h.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(h[156] ?? 0);
    const magic = str(h.subarray(257, 263));
    const prefix = magic.startsWith('ustar') ? str(h.subarray(345, 500)) : '';
    const short = str(h.subarray(0, 100));
    const data = Buffer.from(tar.subarray(pos + 512, pos + 512 + size));
    pos += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      nextName = str(data);
      continue;
    }
    if (type === 'x') {
      for (const rec of data.toString('utf8').split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(rec);
        if (m) nextName = m[1];
      }
      continue;
    }
    if (type === 'g') continue;
    out.push({ name: nextName ?? (prefix ? `${prefix}/${short}` : short), type, data });
    nextName = undefined;
  }
  return out;
}

/** The files of one addon archive as KubeVela sees them; throws where KubeVela would refuse it. */
export function readAddonArchive(tgz: Buffer, addonName: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const m of tarMembers(gunzipSync(tgz))) {
    if (m.type === '5' || m.name.endsWith('/')) continue;
    const parts = m.name.split('/');
    if (parts[0] === 'Chart.yaml' && parts.length === 1) throw new Error('Chart.yaml not in base directory');
    const rest = parts.slice(1).join('/');
    if (path.posix.isAbsolute(rest) || m.name.startsWith('/')) throw new Error(`absolute path ${m.name}`);
    const clean = path.posix.normalize(rest);
    if (clean === '.' || clean === '') throw new Error(`content outside the base directory: ${m.name}`);
    if (clean.startsWith('..')) throw new Error(`parent directory reference: ${m.name}`);
    const rel = clean.startsWith(`${addonName}/`) ? clean.slice(addonName.length + 1) : clean;
    files.set(rel, m.data);
  }
  if (!files.has('metadata.yaml')) throw new Error(`addon ${addonName}: metadata.yaml is not in the archive`);
  return files;
}

export interface ReadAddon {
  entry: IndexVersion;
  url: string;
  tgz: Buffer;
  files: Map<string, Buffer>;
}

/**
 * Lists a registry and downloads every addon's chosen version (plain fetch, optional basic auth);
 * `versions` plays `vela addon enable --version` for the addons named in it.
 */
export async function readAddonRegistry(
  registryUrl: string,
  options: { auth?: { username: string; password: string }; versions?: Record<string, string> } = {},
): Promise<{ index: StrictIndex; addons: Map<string, ReadAddon> }> {
  const { auth } = options;
  const headers: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
    : {};
  const indexUrl = joinRegistryUrl(registryUrl, 'index.yaml');
  const res = await fetch(indexUrl, { headers });
  if (res.status !== 200) throw new Error(`GET ${indexUrl}: HTTP ${res.status}`);
  const index = parseIndexStrict(await res.text());
  const addons = new Map<string, ReadAddon>();
  for (const [name, versions] of Object.entries(index.entries)) {
    const entry = chooseVersion(versions, options.versions?.[name]);
    let last = '';
    for (const ref of entry.urls) {
      const url = joinRegistryUrl(registryUrl, ref);
      const r = await fetch(url, { headers });
      if (r.status !== 200) {
        last = `GET ${url}: HTTP ${r.status}`;
        continue;
      }
      const tgz = Buffer.from(await r.arrayBuffer());
      addons.set(name, { entry, url, tgz, files: readAddonArchive(tgz, name) });
      break;
    }
    if (!addons.has(name)) throw new Error(`addon ${name} ${entry.version}: ${last || 'no urls'}`);
  }
  return { index, addons };
}
