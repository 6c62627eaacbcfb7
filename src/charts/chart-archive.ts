import { parseDocument } from 'yaml';
import { AirlockError } from '../core/errors.js';
import { checkName } from '../core/names.js';
import { helmObject } from './helm-yaml.js';
import { archiveError, readTarGz, tarBudget, type TarBudget } from './tar.js';

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
  /**
   * The files airlock reads, below the chart's top directory, keyed by relative path: Chart.yaml,
   * values.yaml, .relok8s-images.yaml, and Chart.yaml and values.yaml of unpacked subcharts
   * (`charts/x/values.yaml`). Templates and the rest are read past, not kept.
   */
  files: Map<string, Buffer>;
  /** Subcharts packed as `charts/<name>-<version>.tgz`, opened; one that cannot be read is left out. */
  subcharts: Map<string, ChartArchive>;
}

const MiB = 1024 * 1024;
/** A chart archive as downloaded (compressed); what it expands to is capped by the tar budget. */
export const MAX_CHART_ARCHIVE_BYTES = 128 * MiB;
/** Subcharts inside subcharts: real charts nest two or three deep. */
const MAX_DEPTH = 5;

const KEPT =
  /^(?:Chart\.yaml|values\.yaml|\.relok8s-images\.yaml|charts\/[^/]+\/(?:Chart|values)\.yaml|charts\/[^/]+\.tgz)$/;

export interface OpenChartOptions {
  /** What the chart and its subcharts may expand to together (default: Helm's 100 MiB, 10,000 entries). */
  budget?: TarBudget;
}

/**
 * Opens a chart `.tgz` the way Helm's loader does: one top directory, a `Chart.yaml` in it, its
 * name and version checked as the names they become. The archive is read as a stream within a
 * budget of expanded bytes and entries that its packed subcharts share, so a tar bomb fails with
 * "expands past N MiB" after reading N. A file that is not gzip, not tar, or has no Chart.yaml is
 * refused with a clear error.
 */
export async function openChartArchive(
  tgz: Buffer,
  artifact: string,
  options: OpenChartOptions = {},
): Promise<ChartArchive> {
  return open(tgz, artifact, options.budget ?? tarBudget(), 0);
}

async function open(tgz: Buffer, artifact: string, budget: TarBudget, depth: number): Promise<ChartArchive> {
  let top: string | undefined;
  // The top directory is the first file's; files under any other are not the chart's (as before).
  const relative = (p: string): string | undefined => {
    const [dir, ...rest] = p.replace(/^\.\//, '').split('/');
    if (!dir || rest.length === 0) return undefined;
    top ??= dir;
    return dir === top ? rest.join('/') : undefined;
  };
  let entries;
  try {
    entries = await readTarGz(tgz, { budget, keep: (p) => KEPT.test(relative(p) ?? '') });
  } catch (e) {
    throw archiveError(e, 'chart archive', artifact);
  }
  const files = new Map<string, Buffer>();
  const packed = new Map<string, Buffer>();
  for (const e of entries) {
    const rel = relative(e.path);
    if (rel === undefined) continue;
    if (rel.endsWith('.tgz')) packed.set(rel, e.data);
    else files.set(rel, e.data);
  }
  const metadata = chartMetadata(files.get('Chart.yaml'), artifact);
  const subcharts = new Map<string, ChartArchive>();
  for (const [file, data] of packed) {
    if (depth + 1 > MAX_DEPTH) break;
    try {
      subcharts.set(file, await open(data, `${artifact} ${file}`, budget, depth + 1));
    } catch (e) {
      // A subchart past the budget is the chart past it; an unreadable one only adds nothing.
      if (e instanceof AirlockError && e.code === 'E_TOO_LARGE')
        throw new AirlockError('E_TOO_LARGE', e.message, { artifact });
    }
  }
  return { metadata, files, subcharts };
}

function chartMetadata(chartYaml: Buffer | undefined, artifact: string): ChartMetadata {
  if (!chartYaml)
    throw new AirlockError('E_UNSUPPORTED', 'chart archive has no Chart.yaml in its top directory', { artifact });
  const doc = parseDocument(chartYaml.toString('utf8'));
  const error = doc.errors[0];
  if (error)
    throw new AirlockError('E_UNSUPPORTED', `Chart.yaml is not valid YAML: ${error.message.split('\n')[0]}`, {
      artifact,
    });
  let metadata: Record<string, unknown> | undefined;
  try {
    metadata = helmObject(doc, doc.contents);
  } catch (e) {
    throw new AirlockError('E_UNSUPPORTED', `Chart.yaml cannot be read: ${(e as Error).message.split('\n')[0]}`, {
      artifact,
    });
  }
  if (
    !metadata ||
    metadata.name === undefined ||
    metadata.name === null ||
    metadata.version === undefined ||
    metadata.version === null
  ) {
    throw new AirlockError('E_UNSUPPORTED', 'Chart.yaml lacks name or version', { artifact });
  }
  // They name files and OCI repositories and tags at the targets.
  checkName('chart-name', metadata.name, { field: 'name in Chart.yaml', artifact });
  checkName('version', metadata.version, { field: 'version in Chart.yaml', artifact });
  return metadata as ChartMetadata;
}
