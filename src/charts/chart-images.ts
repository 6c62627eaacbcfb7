import { parse as parseYaml } from 'yaml';
import { parseRegistryRef, formatRef, isDigest } from '../oci/reference.js';
import type { ChartArchive } from './chart-archive.js';

export interface ChartImage {
  /** Normalised: `docker.io/library/redis:7.2`, `ghcr.io/x/y@sha256:…`. */
  image: string;
  /** Where it was found: `annotation artifacthub.io/images`, `.relok8s-images.yaml`, `values.yaml image.repository`, prefixed by `charts/<sub>/` for subcharts. */
  foundIn: string;
}

type Values = Record<string, unknown>;

function isObject(v: unknown): v is Values {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Helm's coalescing: overrides win, maps merge deeply. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(override))
    out[k] = isObject(v) && isObject(out[k]) ? mergeValues(out[k] as Values, v) : v;
  return out;
}

function normalise(ref: string): string | undefined {
  const cleaned = ref.trim().replace(/^docker:\/\//, '');
  if (!cleaned || /[{}\s]/.test(cleaned)) return undefined;
  try {
    return formatRef(parseRegistryRef(cleaned)).replace(/^docker:\/\//, '');
  } catch {
    return undefined;
  }
}

function fromAnnotations(annotations: Record<string, string> | undefined): ChartImage[] {
  const out: ChartImage[] = [];
  for (const key of ['artifacthub.io/images', 'images', 'helm.sh/images']) {
    const text = annotations?.[key];
    if (!text) continue;
    try {
      const list = parseYaml(text) as Array<{ image?: string }>;
      for (const item of Array.isArray(list) ? list : []) {
        const image = typeof item?.image === 'string' ? normalise(item.image) : undefined;
        if (image) out.push({ image, foundIn: `annotation ${key}` });
      }
    } catch {
      // A malformed annotation is skipped; values still tell.
    }
  }
  return out;
}

function lookup(values: Values, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), values);
}

/** `.relok8s-images.yaml`: Go-template patterns over values, e.g. `{{ .image.registry }}/{{ .image.repository }}:{{ .image.tag }}`. */
function fromRelok8s(text: string, values: Values): ChartImage[] {
  let patterns: unknown;
  try {
    patterns = parseYaml(text);
  } catch {
    return [];
  }
  const out: ChartImage[] = [];
  for (const p of Array.isArray(patterns) ? patterns : []) {
    if (typeof p !== 'string') continue;
    let missing = false;
    const rendered = p.replace(/\{\{-?\s*\.([A-Za-z0-9_.]+)\s*-?\}\}/g, (_m, key: string) => {
      const v = lookup(values, key);
      if (v === undefined || v === null || v === '') missing = true;
      return v === undefined || v === null ? '' : String(v);
    });
    const image = missing ? undefined : normalise(rendered);
    if (image) out.push({ image, foundIn: '.relok8s-images.yaml' });
  }
  return out;
}

/** values.yaml heuristics: maps with `repository` (+ `registry`, `tag`, `digest`) and string `image:` values. */
function fromValues(values: Values, appVersion: string | undefined, where: string): ChartImage[] {
  const out: ChartImage[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...path, String(i)]));
      return;
    }
    if (!isObject(node)) return;
    const repo = node.repository;
    if (
      typeof repo === 'string' &&
      repo &&
      (path[path.length - 1]?.toLowerCase().includes('image') ||
        'tag' in node ||
        'registry' in node ||
        'digest' in node)
    ) {
      const registry =
        typeof node.registry === 'string' && node.registry ? `${node.registry.replace(/\/+$/, '')}/` : '';
      const digest = typeof node.digest === 'string' && isDigest(node.digest) ? node.digest : undefined;
      const tagValue = node.tag === undefined || node.tag === null || node.tag === '' ? appVersion : String(node.tag);
      const ref = `${registry}${repo}${digest ? `@${digest}` : tagValue ? `:${tagValue}` : ''}`;
      const image = normalise(ref);
      if (image) out.push({ image, foundIn: `${where} ${[...path, 'repository'].join('.')}` });
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'image' && typeof v === 'string') {
        const image = normalise(v);
        if (image) out.push({ image, foundIn: `${where} ${[...path, k].join('.')}` });
      } else walk(v, [...path, k]);
    }
  };
  walk(values, []);
  return out;
}

function chartValues(archive: ChartArchive, prefix: string): Values {
  const text = archive.files.get(`${prefix}values.yaml`);
  if (!text) return {};
  try {
    const v = parseYaml(text.toString('utf8')) as unknown;
    return isObject(v) ? v : {};
  } catch {
    return {};
  }
}

/**
 * The images a chart needs, in order of reliability: image annotations, `.relok8s-images.yaml`,
 * then values (the chart's, merged with `overrides` as Helm would), then subcharts under
 * `charts/` with the parent's values for them. Each image once, with the first place it was found.
 */
export function chartImages(archive: ChartArchive, overrides: Values = {}, artifact = 'chart'): ChartImage[] {
  const found: ChartImage[] = [];
  const values = mergeValues(chartValues(archive, ''), overrides);
  found.push(...fromAnnotations(archive.metadata.annotations));
  const relok8s = archive.files.get('.relok8s-images.yaml');
  if (relok8s) found.push(...fromRelok8s(relok8s.toString('utf8'), values));
  found.push(
    ...fromValues(
      values,
      archive.metadata.appVersion === undefined ? undefined : String(archive.metadata.appVersion),
      'values.yaml',
    ),
  );

  // Unpacked subcharts: charts/<name>/Chart.yaml; packed: charts/<name>-<version>.tgz.
  const subDirs = new Set<string>();
  for (const f of archive.files.keys()) {
    const m = /^charts\/([^/]+)\/Chart\.yaml$/.exec(f);
    if (m?.[1]) subDirs.add(m[1]);
  }
  for (const dir of subDirs) {
    const chartYaml = parseYaml(archive.files.get(`charts/${dir}/Chart.yaml`)?.toString('utf8') ?? '{}') as {
      name?: string;
      appVersion?: unknown;
      annotations?: Record<string, string>;
    };
    const name = chartYaml.name ?? dir;
    const subValues = mergeValues(
      chartValues(archive, `charts/${dir}/`),
      isObject(values[name]) ? (values[name] as Values) : {},
    );
    for (const img of [
      ...fromAnnotations(chartYaml.annotations),
      ...fromValues(
        subValues,
        chartYaml.appVersion === undefined ? undefined : String(chartYaml.appVersion),
        'values.yaml',
      ),
    ]) {
      found.push({ image: img.image, foundIn: `charts/${dir}/ ${img.foundIn}` });
    }
  }
  // Packed subcharts were opened with the chart (an unreadable one is not there and adds nothing).
  for (const [file, sub] of archive.subcharts) {
    const subOverrides = isObject(values[sub.metadata.name]) ? (values[sub.metadata.name] as Values) : {};
    for (const img of chartImages(sub, subOverrides, `${artifact} ${file}`))
      found.push({ image: img.image, foundIn: `${file} ${img.foundIn}` });
  }
  const seen = new Set<string>();
  return found.filter((f) => (seen.has(f.image) ? false : (seen.add(f.image), true)));
}
