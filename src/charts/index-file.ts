import semver from 'semver';
import { stringify as stringifyYaml } from 'yaml';
import { readGoYaml } from '../util/go-yaml.js';
import { AirlockError } from '../errors.js';

/** One chart version of a classic repository's index.yaml: Chart.yaml fields plus urls, digest, created. */
export interface ChartVersionEntry {
  name: string;
  version: string;
  urls: string[];
  digest?: string;
  created?: string;
  appVersion?: string;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface IndexFile {
  apiVersion: string;
  generated?: string;
  entries: Record<string, ChartVersionEntry[]>;
  [key: string]: unknown;
}

/**
 * The fields of Helm's ChartVersion (Chart.yaml metadata, then urls/created/removed/digest and the
 * legacy ones). KubeVela decodes addon registry indexes strictly, so anything else is fatal there.
 */
const HELM_VERSION_FIELDS = new Set([
  'name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition', 'tags',
  'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type',
  'urls', 'created', 'removed', 'digest', 'checksum', 'engine', 'tillerVersion', 'url',
]);

/** An index entry keeping only Helm's fields, as `helm repo index` would write it from a Chart.yaml. */
function helmVersionFields<T extends Record<string, unknown>>(entry: T): Partial<T> {
  return Object.fromEntries(Object.entries(entry).filter(([k, v]) => HELM_VERSION_FIELDS.has(k) && v !== undefined && v !== null)) as Partial<T>;
}

/**
 * Parses index.yaml as Helm does (apiVersion required, entries per chart). Entries without a name
 * or version are dropped; a bad entry never makes the whole index unusable. The YAML is read as
 * KubeVela (pkg/utils/helm/helm_helper.go GetIndexInfo) and Helm read it, sigs.k8s.io/yaml
 * `UnmarshalStrict`: the first document, merge keys, YAML 1.1 scalars, go-yaml v2's tab rules,
 * and a repeated key refused.
 */
export function parseIndex(text: string, artifact: string): IndexFile {
  const read = readGoYaml(text, { strict: true, maxAliasExpansions: 1000 });
  if (read.error) throw new AirlockError('E_REGISTRY', `index.yaml is not valid YAML: ${read.error}`, { artifact });
  let index: IndexFile | null;
  try {
    index = read.toValue() as IndexFile | null;
  } catch (e) {
    throw new AirlockError('E_REGISTRY', `index.yaml is not valid YAML: ${(e as Error).message}`, { artifact });
  }
  if (!index || typeof index !== 'object') throw new AirlockError('E_REGISTRY', 'index.yaml is empty or not a mapping', { artifact });
  if (!index.apiVersion) throw new AirlockError('E_REGISTRY', 'index.yaml has no apiVersion (truncated or not a chart repository index)', { artifact });
  const entries: Record<string, ChartVersionEntry[]> = {};
  for (const [name, versions] of Object.entries(index.entries ?? {})) {
    if (!Array.isArray(versions)) continue;
    entries[name] = versions
      .filter((v): v is ChartVersionEntry => !!v && typeof v === 'object' && v.version !== undefined)
      .map((v) => ({ ...v, name: String(v.name ?? name), version: String(v.version), urls: Array.isArray(v.urls) ? v.urls.map(String) : [] }));
  }
  return { ...index, entries };
}

/**
 * Helm's ResolveReferenceURL: an absolute URL stays; a relative one is resolved against the repo
 * URL with a trailing slash, and the repo URL's query string replaces the reference's.
 */
export function resolveChartUrl(repoUrl: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return ref;
  const base = new URL(repoUrl);
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/`;
  const resolved = new URL(ref, base);
  resolved.search = base.search;
  return resolved.toString();
}

export function findVersion(index: IndexFile, chart: string, version: string, artifact: string): ChartVersionEntry {
  const versions = index.entries[chart];
  if (!versions?.length) throw new AirlockError('E_NOT_FOUND', `chart ${chart} is not in the repository index`, { artifact });
  const entry = versions.find((v) => v.version === version || v.version === version.replace(/^v/, '') || `v${v.version}` === version);
  if (!entry) {
    const known = versions.slice(0, 5).map((v) => v.version).join(', ');
    throw new AirlockError('E_NOT_FOUND', `chart ${chart} has no version ${version} (newest: ${known})`, { artifact });
  }
  if (entry.urls.length === 0) throw new AirlockError('E_REGISTRY', `index entry ${chart} ${entry.version} has no urls`, { artifact });
  return entry;
}

/** Newest first by semver; non-semver versions after, by text. */
export function sortVersions(entries: ChartVersionEntry[]): ChartVersionEntry[] {
  return [...entries].sort((a, b) => {
    const va = semver.valid(a.version, { loose: true });
    const vb = semver.valid(b.version, { loose: true });
    if (va && vb) return semver.rcompare(va, vb, true);
    if (va) return -1;
    if (vb) return 1;
    return b.version.localeCompare(a.version);
  });
}

/**
 * Every version keeps only Helm's fields, the ones already in the index as much as the new one:
 * a single extra field anywhere makes KubeVela's strict decoding refuse the whole index.
 */
export function stringifyIndex(index: IndexFile): string {
  const entries: Record<string, ChartVersionEntry[]> = {};
  for (const name of Object.keys(index.entries).sort()) {
    entries[name] = sortVersions(index.entries[name] ?? []).map((v) => helmVersionFields(v) as ChartVersionEntry);
  }
  // No anchors: every entry written out in full, as Helm writes indexes.
  return stringifyYaml({ ...index, entries }, { lineWidth: 0, aliasDuplicateObjects: false });
}
