import type { PlannedChart } from '../model/addon-chart-payload.js';
import { formatRef, parseRegistryRef } from '../oci/reference.js';
import type { Addon } from './addon.js';
import { CueSyntaxError, parseCue } from './cue-parse.js';
import { emptyFindings, type FileFindings } from './findings.js';
import { buildCueScope, scanCueFile, type CueFile } from './scan-cue.js';
import { scanUxPlugins, scanYamlFile } from './scan-yaml.js';

/** What one addon needs in the air gap (the `addons plan --json` object). */
export interface AddonPlan {
  registry: string;
  addon: string;
  version: string;
  dependencies: string[];
  system?: { vela?: string; kubernetes?: string };
  images: string[];
  charts: PlannedChart[];
  urls: string[];
  definitionImages: string[];
  warnings: string[];
}

/** The plan plus where each finding sits, for the rewrite. */
export interface AddonScan {
  addon: Addon;
  plan: AddonPlan;
  install: FileFindings;
  definitions: FileFindings;
}

const INSTALL_CUE = /^(template\.cue|parameter\.cue|resources\/.+\.cue)$/;
const INSTALL_YAML = /^(template\.ya?ml|resources\/.+\.ya?ml)$/;
const DEFINITION = /^(definitions|config-templates|views)\/.+\.(cue|ya?ml)$/;

/**
 * docker.io/ for Docker Hub, library/ for single names, :latest when neither tag nor digest is
 * given, and only the digest when both are — the form chart image lists take (formatRef), so an
 * image an addon and a chart both need is one copy.
 */
export function normaliseImage(ref: string): string {
  return formatRef(parseRegistryRef(ref)).replace(/^docker:\/\//, '');
}

function lineOf(src: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < src.length; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

function parseCueFiles(addon: Addon, pick: (f: string) => boolean, warnings: string[]): CueFile[] {
  const out: CueFile[] = [];
  for (const [file, data] of addon.files) {
    if (!file.endsWith('.cue') || !pick(file)) continue;
    const src = data.toString('utf8');
    try {
      out.push({ file, src, root: parseCue(src) });
    } catch (e) {
      if (!(e instanceof CueSyntaxError)) throw e;
      warnings.push(
        `${addon.dir}/${file}:${lineOf(src, e.offset)}: cannot read CUE (${e.message}); its images and charts are not discovered`,
      );
    }
  }
  return out;
}

function scanYamlFiles(addon: Addon, pick: (f: string) => boolean, findings: FileFindings, warnings: string[]): void {
  for (const [file, data] of addon.files) {
    if (!/\.ya?ml$/.test(file) || !pick(file)) continue;
    const { fallback, notes } = scanYamlFile(file, data.toString('utf8'), findings);
    if (fallback)
      warnings.push(
        `${addon.dir}/${file}: not plain YAML (a Helm template?): KubeVela cannot read it (${fallback}); images read from image: lines only`,
      );
    for (const note of notes) warnings.push(`${addon.dir}/${file}: ${note} (as KubeVela reads it)`);
  }
}

function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function normaliseAll(refs: string[], addon: Addon, warnings: string[]): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    try {
      out.push(normaliseImage(ref));
    } catch (e) {
      warnings.push(`${addon.dir}: "${ref}" is not a valid image reference (${(e as Error).message})`);
    }
  }
  return uniqueSorted(out);
}

/**
 * Discovers what an addon deploys at install time (images, helm charts, remote URLs) from its
 * install files, and the default images of its definitions apart. A file that cannot be read is
 * a warning naming it; the rest of the addon is still scanned.
 */
export function discoverAddon(addon: Addon): AddonScan {
  const warnings: string[] = [];
  const context = { 'metadata.version': addon.metadata.version, 'metadata.name': addon.metadata.name };

  const install = emptyFindings();
  const cueFiles = parseCueFiles(addon, (f) => INSTALL_CUE.test(f), warnings);
  const scope = buildCueScope(cueFiles, context);
  for (const f of cueFiles) scanCueFile(f, scope, install, { skipParameterBlocks: true });
  scanYamlFiles(addon, (f) => INSTALL_YAML.test(f), install, warnings);
  // VelaUX downloads uxPlugins tarballs from metadata.yaml at run time. The parsed metadata says
  // whether there are any; the file is parsed again only then, for the positions the rewrite edits.
  const meta = addon.files.get('metadata.yaml');
  if (meta && Object.keys(addon.metadata.uxPlugins ?? {}).length > 0)
    scanUxPlugins('metadata.yaml', meta.toString('utf8'), install);

  // Definitions are evaluated one file at a time: each carries its own `parameter`.
  const definitions = emptyFindings();
  for (const f of parseCueFiles(addon, (x) => DEFINITION.test(x), warnings)) {
    scanCueFile(f, buildCueScope([f], context, { deepParameters: true }), definitions, { skipParameterBlocks: false });
  }
  scanYamlFiles(addon, (f) => DEFINITION.test(f), definitions, warnings);

  for (const repo of uniqueSorted(install.untagged))
    warnings.push(`${addon.dir}: image ${repo} takes its tag from the chart; mirror it with the chart's images`);

  const charts = new Map<string, PlannedChart>();
  for (const c of install.charts) {
    charts.set(`${c.repoType} ${c.url} ${c.chart} ${c.version ?? ''}`, {
      repo: c.url,
      chart: c.chart,
      ...(c.version ? { version: c.version } : {}),
      repoType: c.repoType,
    });
    if (c.repoType === 'git')
      warnings.push(
        `${addon.dir}/${c.file}: chart ${c.chart} comes from a git repository (${c.url}); mirror that repository with a git mirror, it is not a Helm repository`,
      );
  }

  const urls = install.urls.map((u) => u.url);
  const plan: AddonPlan = {
    registry: addon.registry,
    addon: addon.metadata.name,
    version: addon.metadata.version,
    dependencies: (addon.metadata.dependencies ?? []).map((d) => d.name),
    ...(addon.metadata.system ? { system: addon.metadata.system } : {}),
    images: normaliseAll(
      install.images.map((i) => i.ref),
      addon,
      warnings,
    ),
    charts: [...charts.values()].sort((a, b) => `${a.repo} ${a.chart}`.localeCompare(`${b.repo} ${b.chart}`)),
    urls: uniqueSorted(urls),
    definitionImages: normaliseAll(
      definitions.images.map((i) => i.ref),
      addon,
      warnings,
    ),
    warnings,
  };
  return { addon, plan, install, definitions };
}
