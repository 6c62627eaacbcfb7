import { joinSegments, type Segment } from './cue-eval.js';
import { normaliseImage, type AddonScan, type PlannedChart } from './discover.js';
import type { ChartFinding, ImageFinding, UrlFinding, ValueStyle } from './findings.js';

/** Where mirrored things live: each function answers undefined to leave a reference alone. */
export interface RewriteTargets {
  /** Normalised source image → the mirrored repository (no tag), e.g. `reg.local/docker.io/fluxcd/helm-controller`. */
  image(normalised: string): string | undefined;
  chart(chart: PlannedChart): { url: string; repoType: 'helm' | 'oci' } | undefined;
  url?(url: string): string | undefined;
}

export interface RewriteChange {
  kind: 'image' | 'chart' | 'url';
  file: string;
  from: string;
  to: string;
}

export interface AddonRewrite {
  /** The addon's files with the rewrites applied; files with nothing to rewrite are the same bytes. */
  files: Map<string, Buffer>;
  changedFiles: string[];
  changes: RewriteChange[];
  warnings: string[];
}

interface Edit {
  start: number;
  end: number;
  text: string;
  what: string;
}

function formatLiteral(value: string, style: ValueStyle): string {
  if (style === 'yaml-single') return `'${value.replace(/'/g, "''")}'`;
  if (style === 'yaml-plain' && /^[A-Za-z0-9_./][A-Za-z0-9_./:@+~=-]*$/.test(value) && !/: |:$/.test(value)) return value;
  return JSON.stringify(value);
}

/** Length of the repository part of an image reference (before `:tag` / `@digest`). */
function nameLength(ref: string): number {
  const at = ref.indexOf('@');
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? colon : base.length;
}

/**
 * Plans the in-place edit that makes an image point at its mirror. Where the written name is a
 * suffix of the mirrored one (the default path rule keeps host and repository), the missing
 * prefix goes in front of the first literal piece — so an optional registry prefix parameter
 * (`_base + "fluxcd/x:v1"`) and split registry/repository values still compose correctly.
 * Otherwise the name must sit in one literal, which is replaced.
 */
function imageEdit(segments: Segment[], target: string): { file: string; edit: Omit<Edit, 'what'> } | string {
  const ref = joinSegments(segments);
  const nameEnd = nameLength(ref);
  const written = ref.slice(0, nameEnd);
  if (target === written) return 'unchanged';
  // Empty pieces before it (an unset `_base`) add nothing: the first piece with text starts the name.
  const first = segments.find((s) => s.text.length > 0);
  if (!first?.span) return 'the image name is computed (no plain literal to rewrite)';
  if (target.endsWith(written) && target.charAt(target.length - written.length - 1) === '/') {
    const prefix = target.slice(0, target.length - written.length);
    return { file: first.span.file, edit: { start: first.span.start, end: first.span.start, text: prefix } };
  }
  if (first.text.length >= nameEnd) {
    return { file: first.span.file, edit: { start: first.span.start, end: first.span.start + nameEnd, text: target } };
  }
  return `the name ${written} is split over several values and the target path rule does not keep it as a suffix`;
}

/** Rewrites an addon's image references, chart sources and remote URLs to their mirrors, changing nothing else. */
export function rewriteAddon(scan: AddonScan, targets: RewriteTargets, options: { definitions?: boolean } = {}): AddonRewrite {
  const edits = new Map<string, Edit[]>();
  const changes: RewriteChange[] = [];
  const warnings: string[] = [];
  const dir = scan.addon.dir;

  const add = (file: string, edit: Edit, change: RewriteChange) => {
    const list = edits.get(file) ?? [];
    const same = list.find((e) => e.start === edit.start && e.end === edit.end);
    if (same) {
      if (same.text !== edit.text) warnings.push(`${dir}/${file}: ${edit.what} needs a different rewrite of a value already rewritten for ${same.what}; left as ${same.text}`);
      return;
    }
    if (list.some((e) => e.start < edit.end && edit.start < e.end)) {
      warnings.push(`${dir}/${file}: ${edit.what}: overlapping rewrite, left unchanged`);
      return;
    }
    list.push(edit);
    edits.set(file, list);
    changes.push(change);
  };

  const images: ImageFinding[] = [...scan.install.images, ...(options.definitions ? scan.definitions.images : [])];
  for (const img of images) {
    let normalised: string;
    try {
      normalised = normaliseImage(img.ref);
    } catch {
      continue; // reported by discovery
    }
    const target = targets.image(normalised);
    if (!target) continue;
    const plan = imageEdit(img.segments, target);
    if (plan === 'unchanged') continue;
    if (typeof plan === 'string') {
      warnings.push(`${dir}/${img.file}: image ${img.ref} not rewritten: ${plan}`);
      continue;
    }
    const suffix = img.ref.slice(nameLength(img.ref));
    add(plan.file, { ...plan.edit, what: `image ${img.ref}` }, { kind: 'image', file: plan.file, from: img.ref, to: `${target}${suffix}` });
  }

  for (const c of scan.install.charts) rewriteChart(c, targets, add, warnings, dir);

  if (targets.url) {
    const urls: UrlFinding[] = scan.install.urls;
    for (const u of urls) {
      const to = targets.url(u.url);
      if (!to || to === u.url) continue;
      const only = u.segments.length === 1 ? u.segments[0] : undefined;
      if (!only?.span) {
        warnings.push(`${dir}/${u.file}: URL ${u.url} is computed; not rewritten`);
        continue;
      }
      add(only.span.file, { start: only.span.start, end: only.span.end, text: to, what: `URL ${u.url}` }, { kind: 'url', file: only.span.file, from: u.url, to });
    }
  }

  const files = new Map(scan.addon.files);
  const changedFiles: string[] = [];
  for (const [file, list] of edits) {
    const raw = scan.addon.files.get(file)!;
    let src = raw.toString('utf8');
    // Decoding is lossy for bytes that are not UTF-8: such a file keeps its bytes, unrewritten.
    if (!Buffer.from(src, 'utf8').equals(raw)) {
      warnings.push(`${dir}/${file}: not valid UTF-8; left unrewritten`);
      continue;
    }
    changedFiles.push(file);
    for (const e of [...list].sort((a, b) => b.start - a.start)) src = src.slice(0, e.start) + e.text + src.slice(e.end);
    files.set(file, Buffer.from(src, 'utf8'));
  }
  return { files, changedFiles: changedFiles.sort(), changes: changes.filter((c) => changedFiles.includes(c.file)), warnings };
}

function rewriteChart(c: ChartFinding, targets: RewriteTargets, add: (file: string, edit: Edit, change: RewriteChange) => void, warnings: string[], dir: string): void {
  const planned: PlannedChart = { repo: c.url, chart: c.chart, ...(c.version ? { version: c.version } : {}), repoType: c.repoType };
  // A git or oss chart source is not a Helm repository: it cannot point at a chart mirror.
  if (c.repoType !== 'helm' && c.repoType !== 'oci') return;
  const target = targets.chart(planned);
  if (!target) return;
  if (!c.urlSpan) {
    warnings.push(`${dir}/${c.file}: chart ${c.chart}: url not rewritten (no source position)`);
    return;
  }
  const what = `chart ${c.chart} ${c.url}`;
  const literal = c.urlSegments?.length === 1 && c.urlSegments[0]!.text === c.url ? c.urlSegments[0]!.span : undefined;
  if (target.url !== c.url && literal) {
    // `url: parameter.chartUrl` with a default: rewrite the default, the parameter keeps working.
    add(literal.file, { start: literal.start, end: literal.end, text: target.url, what }, { kind: 'chart', file: literal.file, from: c.url, to: target.url });
  } else if (target.url !== c.url) {
    add(c.urlSpan.file, { start: c.urlSpan.start, end: c.urlSpan.end, text: formatLiteral(target.url, c.urlSpan.style), what }, { kind: 'chart', file: c.file, from: c.url, to: target.url });
  }
  if (target.repoType === c.repoType) return;
  if (c.repoTypeSpan) {
    add(c.repoTypeSpan.file, { start: c.repoTypeSpan.start, end: c.repoTypeSpan.end, text: formatLiteral(target.repoType, c.repoTypeSpan.style), what: `${what} repoType` }, { kind: 'chart', file: c.file, from: `repoType ${c.repoType}`, to: `repoType ${target.repoType}` });
  } else if (c.insertBefore) {
    const line = `repoType: ${formatLiteral(target.repoType, c.insertBefore.style)}\n${c.insertBefore.indent}`;
    add(c.insertBefore.file, { start: c.insertBefore.offset, end: c.insertBefore.offset, text: line, what: `${what} repoType` }, { kind: 'chart', file: c.file, from: `repoType ${c.repoType}`, to: `repoType ${target.repoType}` });
  }
}
