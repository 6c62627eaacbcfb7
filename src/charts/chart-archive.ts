import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { AirlockError } from '../errors.js';
import { readTar, TarError, type TarEntry } from './tar.js';

export interface ChartMetadata {
  apiVersion?: string;
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  home?: string;
  icon?: string;
  sources?: string[];
  keywords?: string[];
  maintainers?: Array<{ name?: string; email?: string; url?: string }>;
  annotations?: Record<string, string>;
  type?: string;
  [key: string]: unknown;
}

export interface ChartArchive {
  metadata: ChartMetadata;
  /** Files below the chart's top directory, keyed by relative path (`values.yaml`, `charts/x/Chart.yaml`). */
  files: Map<string, Buffer>;
  /** Subcharts packed as `.tgz` inside `charts/`. */
  archives: Map<string, Buffer>;
}

const MAX_UNPACKED = 256 * 1024 * 1024;

/**
 * Opens a chart `.tgz` the way Helm's loader does: one top directory, a `Chart.yaml` in it.
 * A file that is not gzip, not tar, or has no Chart.yaml is refused with a clear error.
 */
export function openChartArchive(tgz: Buffer, artifact: string): ChartArchive {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: MAX_UNPACKED });
  } catch (e) {
    throw new AirlockError('E_UNSUPPORTED', `chart archive is not gzip data (${(e as Error).message})`, { artifact });
  }
  let entries: TarEntry[];
  try {
    entries = readTar(tar);
  } catch (e) {
    const why = e instanceof TarError ? e.message : String(e);
    throw new AirlockError('E_UNSUPPORTED', `chart archive is not a valid tar: ${why}`, { artifact });
  }
  const files = new Map<string, Buffer>();
  const archives = new Map<string, Buffer>();
  let top: string | undefined;
  for (const e of entries) {
    const [dir, ...rest] = e.path.replace(/^\.\//, '').split('/');
    if (!dir || rest.length === 0) continue;
    top ??= dir;
    if (dir !== top) continue;
    const rel = rest.join('/');
    files.set(rel, e.data);
    if (/^charts\/[^/]+\.tgz$/.test(rel)) archives.set(rel, e.data);
  }
  const chartYaml = files.get('Chart.yaml');
  if (!chartYaml) throw new AirlockError('E_UNSUPPORTED', 'chart archive has no Chart.yaml in its top directory', { artifact });
  let metadata: ChartMetadata;
  try {
    metadata = parseYaml(chartYaml.toString('utf8')) as ChartMetadata;
  } catch (e) {
    throw new AirlockError('E_UNSUPPORTED', `Chart.yaml is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { artifact });
  }
  if (!metadata || typeof metadata.name !== 'string' || metadata.version === undefined) {
    throw new AirlockError('E_UNSUPPORTED', 'Chart.yaml lacks name or version', { artifact });
  }
  metadata.version = String(metadata.version);
  return { metadata, files, archives };
}
