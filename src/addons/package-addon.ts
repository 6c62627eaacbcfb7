import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { stringify as stringifyYaml } from 'yaml';
import type { ChartMetadata } from '../charts/chart-archive.js';
import { writeTar, type TarEntry } from '../charts/tar.js';
import { AirlockError } from '../core/errors.js';
import { isPlainRelativePath, type Addon } from './addon.js';

/** An addon packaged as a Helm library chart, ready for a chart target. */
export interface AddonPackage {
  name: string;
  version: string;
  tgz: Buffer;
  /** The generated Chart.yaml, as an object (also what indexes and OCI configs carry). */
  metadata: ChartMetadata;
  /** Lowercase hex sha256 of `tgz`, as Helm indexes write it. */
  digest: string;
  /** `<name>-<version>.tgz`. */
  fileName: string;
}

export interface PackagedAddon extends AddonPackage {
  addon: Addon;
}

/**
 * Chart.yaml as `vela addon package` generates it from metadata.yaml (KubeVela's
 * MakeChartCompatible): a library chart so Helm refuses to install it as an application, and the
 * system requirements as annotations because KubeVela reads them from the index entry.
 */
function addonChartMetadata(addon: Addon): ChartMetadata {
  const m = addon.metadata;
  const annotations: Record<string, string> = { 'addon.name': m.name };
  if (m.system?.kubernetes) annotations['system.kubernetes'] = m.system.kubernetes;
  if (m.system?.vela) annotations['system.vela'] = m.system.vela;
  const fields: Record<string, unknown> = {
    annotations,
    apiVersion: 'v2',
    appVersion: m.version,
    description: m.description,
    home: m.url,
    icon: m.icon,
    keywords: m.tags?.length ? [...m.tags] : undefined,
    name: m.name,
    type: 'library',
    version: m.version,
  };
  // Keys sorted as Helm's YAML writer emits them; empty values left out as its omitempty does.
  const present = Object.keys(fields)
    .sort()
    .filter((k) => fields[k] !== undefined && fields[k] !== '');
  return Object.fromEntries(present.map((k) => [k, fields[k]])) as ChartMetadata;
}

const GZIP_OS_UNKNOWN = 255;

/**
 * Packs an addon as `<name>-<version>.tgz`: one top directory named after the addon, the generated
 * Chart.yaml first (replacing one the folder may have), then every file in path order. Bytes are
 * reproducible (fixed mtimes, modes, owners and gzip header), so an unchanged addon gets the same
 * digest on every run and targets can skip it. `files` defaults to the addon's own; pass rewritten
 * files to package the mirrored copy.
 */
export async function packageAddon(addon: Addon, files: Map<string, Buffer> = addon.files): Promise<AddonPackage> {
  const metadata = addonChartMetadata(addon);
  const { name, version } = metadata;
  const fileName = `${name}-${version}.tgz`;
  const entries: TarEntry[] = [
    { path: `${name}/Chart.yaml`, data: Buffer.from(stringifyYaml(metadata, { lineWidth: 0 })) },
  ];
  const paths = [...files.keys()].filter((p) => p !== 'Chart.yaml').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const p of paths) {
    if (!isPlainRelativePath(p)) {
      throw new AirlockError('E_UNSUPPORTED', `addon file path "${p}" is not a plain relative path`, {
        artifact: `${addon.registry}/${name}`,
      });
    }
    // Helm's archive loader, which KubeVela uses, splits a member name that holds a backslash on
    // backslashes (a Windows archive): the file would arrive under another name, or outside.
    if (p.includes('\\')) {
      throw new AirlockError(
        'E_UNSUPPORTED',
        `addon file path "${p}" contains a backslash, which Helm's archive loader reads as a path separator`,
        { artifact: `${addon.registry}/${name}` },
      );
    }
    entries.push({ path: `${name}/${p}`, data: files.get(p) as Buffer });
  }
  const tgz = gzipSync(await writeTar(entries), { level: 9 });
  // The header's OS byte is the only platform-dependent part zlib writes; mtime is already zero.
  tgz[9] = GZIP_OS_UNKNOWN;
  const digest = createHash('sha256').update(tgz).digest('hex');
  return { name, version, tgz, metadata, digest, fileName };
}
