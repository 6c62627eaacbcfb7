import { joinSegments, type Segment } from './cue-eval.js';
import type { PlannedChart } from '../model/addon-chart-payload.js';
import { discoverAddon, normaliseImage, type AddonScan } from './discover.js';
import type { ChartFinding, ImageFinding, UrlFinding, ValueStyle } from './findings.js';

/** A mirrored repository in its two parts: the registry (`host[:port][/prefix]`) and the path below it. */
export interface ImageTarget {
  registry: string;
  repository: string;
}

/** Where mirrored things live: each function answers undefined to leave a reference alone. */
export interface RewriteTargets {
  /**
   * Normalised source image → the mirrored repository (no tag), e.g. `reg.local/docker.io/fluxcd/helm-controller`,
   * best in its two parts, which a reference split over a registry and a repository value takes one each
   * (a plain string is split at its first `/`).
   */
  image(normalised: string): ImageTarget | string | undefined;
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
  /**
   * References that would still point upstream (or at the wrong mirror) after the rewrite, each
   * with why: an addon with any of these does not work in the air gap and must not be published.
   */
  errors: string[];
}

interface Edit {
  start: number;
  end: number;
  text: string;
  what: string;
}

function formatLiteral(value: string, style: ValueStyle): string {
  if (style === 'yaml-single') return `'${value.replace(/'/g, "''")}'`;
  if (style === 'yaml-plain' && /^[A-Za-z0-9_./][A-Za-z0-9_./:@+~=-]*$/.test(value) && !/: |:$/.test(value))
    return value;
  return JSON.stringify(value);
}

/** Length of the repository part of an image reference (before `:tag` / `@digest`). */
function nameLength(ref: string): number {
  const at = ref.indexOf('@');
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? colon : base.length;
}

type PlannedEdit = { file: string; start: number; end: number; text: string };

/** A piece of the reference with its place in the joined text. */
interface Placed {
  seg: Segment;
  from: number;
  to: number;
}

function place(segments: Segment[]): Placed[] {
  let at = 0;
  return segments.map((seg) => {
    const p = { seg, from: at, to: at + seg.text.length };
    at = p.to;
    return p;
  });
}

/**
 * Edits that make the text of [from, to) read `text`: the first literal piece in the range takes
 * it, other literal pieces there lose their part, an empty range inserts at its place. A computed
 * piece (no literal to edit) with text in the range makes it impossible.
 */
function regionEdits(pieces: Placed[], from: number, to: number, text: string): PlannedEdit[] | string {
  const inRange = pieces.filter((p) => p.seg.text.length > 0 && p.from < to && from < p.to);
  if (from === to) {
    const host =
      pieces.find((p) => p.seg.span && p.seg.text.length > 0 && p.from <= from && from < p.to) ??
      pieces.find((p) => p.seg.span && p.seg.text.length > 0 && p.from === from);
    if (!host?.seg.span) return 'the image name is computed (no plain literal to rewrite)';
    const at = host.seg.span.start + (from - host.from);
    return text ? [{ file: host.seg.span.file, start: at, end: at, text }] : [];
  }
  const edits: PlannedEdit[] = [];
  let placed = false;
  for (const p of inRange) {
    const span = p.seg.span;
    if (!span) return `${JSON.stringify(p.seg.text)} in the name is computed (no plain literal to rewrite)`;
    const a = Math.max(from, p.from) - p.from;
    const b = Math.min(to, p.to) - p.from;
    const piece = placed ? '' : text;
    // A part that already reads right (a repository kept by the rule) is left as it is.
    if (p.seg.text.slice(a, b) !== piece || inRange.length > 1)
      edits.push({ file: span.file, start: span.start + a, end: span.start + b, text: piece });
    placed = true;
  }
  return edits.filter((e) => e.start !== e.end || e.text !== '');
}

/** Where the registry host of a written name ends, Docker's way: a first component with `.` or `:`, or `localhost`. */
function hostEnd(written: string): number {
  const slash = written.indexOf('/');
  if (slash < 0) return -1;
  const first = written.slice(0, slash);
  return /[.:]/.test(first) || first === 'localhost' ? slash : -1;
}

/**
 * Plans the in-place edits that make an image point at its mirror:
 * - where the written name is a suffix of the mirrored one (the default path rule keeps host and
 *   repository), the missing prefix goes in front of the first literal piece — so an optional
 *   registry prefix parameter (`_base + "fluxcd/x:v1"`) and split registry/repository values
 *   still compose correctly;
 * - where one literal holds the whole name, it is replaced;
 * - otherwise each part takes its part of the mirror: the value (or literal) holding the registry
 *   gets the target registry with its path prefix, the one holding the repository the path the
 *   rule renders (`image: {registry: a.io, repository: team/x}` → `{registry: mirror.local,
 *   repository: mirror/team/x}`), whatever the rule.
 * A name that still cannot be rewritten is the reason, as a string.
 */
function imageEdits(img: ImageFinding, target: ImageTarget): PlannedEdit[] | 'unchanged' | string {
  const segments = img.segments;
  const full = `${target.registry}/${target.repository}`;
  const ref = joinSegments(segments);
  const nameEnd = nameLength(ref);
  const written = ref.slice(0, nameEnd);
  if (full === written) return 'unchanged';
  // Empty pieces before it (an unset `_base`) add nothing: the first piece with text starts the name.
  const first = segments.find((s) => s.text.length > 0);
  if (first?.span && full.endsWith(written) && full.charAt(full.length - written.length - 1) === '/') {
    return [
      {
        file: first.span.file,
        start: first.span.start,
        end: first.span.start,
        text: full.slice(0, full.length - written.length),
      },
    ];
  }
  if (first?.span && first.text.length >= nameEnd)
    return [{ file: first.span.file, start: first.span.start, end: first.span.start + nameEnd, text: full }];

  const pieces = place(segments);
  let regFrom = 0;
  let regTo = 0;
  let repoFrom: number;
  const parts = img.parts;
  if (parts) {
    // The pieces of each value are found by identity in the reference.
    const range = (segs: Segment[]) => {
      const ps = pieces.filter((p) => segs.includes(p.seg));
      return ps.length ? { from: ps[0]!.from, to: ps[ps.length - 1]!.to } : undefined;
    };
    const reg = parts.registry ? range(parts.registry) : undefined;
    const repo = range(parts.repository);
    if (!repo) return 'the repository value is not part of the name';
    if (reg) [regFrom, regTo] = [reg.from, reg.to];
    repoFrom = repo.from;
    if (!reg) {
      // No registry value: the registry goes in front of the repository value.
      const edits = regionEdits(pieces, repo.from, repo.from, `${target.registry}/`);
      const rest = regionEdits(pieces, repo.from, Math.min(repo.to, nameEnd), target.repository);
      if (typeof edits === 'string') return edits;
      if (typeof rest === 'string') return rest;
      return mergeSamePlace([...edits, ...rest]);
    }
  } else {
    const h = hostEnd(written);
    if (h < 0) {
      const edits = regionEdits(pieces, 0, 0, `${target.registry}/`);
      const rest = regionEdits(pieces, 0, nameEnd, target.repository);
      if (typeof edits === 'string') return edits;
      if (typeof rest === 'string') return rest;
      return mergeSamePlace([...edits, ...rest]);
    }
    regTo = h;
    repoFrom = h + 1;
  }
  const reg = regionEdits(pieces, regFrom, regTo, target.registry);
  const repo = regionEdits(pieces, repoFrom, nameEnd, target.repository);
  if (typeof reg === 'string') return `${reg}; the registry part cannot be rewritten`;
  if (typeof repo === 'string') return `${repo}; the repository part cannot be rewritten`;
  return mergeSamePlace([...reg, ...repo]);
}

/** An insertion and a replacement that start at the same place are one edit (insertion first). */
function mergeSamePlace(edits: PlannedEdit[]): PlannedEdit[] {
  const out: PlannedEdit[] = [];
  for (const e of edits) {
    const same = out.find((o) => o.file === e.file && o.start === e.start && (o.start === o.end || e.start === e.end));
    if (same) {
      const insertFirst = same.start === same.end;
      same.text = insertFirst ? same.text + e.text : e.text + same.text;
      same.end = Math.max(same.end, e.end);
    } else out.push({ ...e });
  }
  return out;
}

/** Rewrites an addon's image references, chart sources and remote URLs to their mirrors, changing nothing else. */
export function rewriteAddon(
  scan: AddonScan,
  targets: RewriteTargets,
  options: { definitions?: boolean } = {},
): AddonRewrite {
  const edits = new Map<string, Edit[]>();
  const changes: RewriteChange[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  const dir = scan.addon.dir;

  // Every edit of one reference, or none: half a reference rewritten points nowhere.
  const addAll = (planned: PlannedEdit[], what: string, change: RewriteChange): boolean => {
    for (const edit of planned) {
      const list = edits.get(edit.file) ?? [];
      const same = list.find((e) => e.start === edit.start && e.end === edit.end);
      if (same && same.text !== edit.text) {
        errors.push(
          `${dir}/${edit.file}: ${what} needs a different rewrite of a value already rewritten for ${same.what} (${same.text})`,
        );
        return false;
      }
      if (!same && list.some((e) => e.start < edit.end && edit.start < e.end)) {
        errors.push(`${dir}/${edit.file}: ${what}: its rewrite overlaps another one`);
        return false;
      }
    }
    for (const edit of planned) {
      const list = edits.get(edit.file) ?? [];
      if (list.some((e) => e.start === edit.start && e.end === edit.end)) continue;
      list.push({ ...edit, what });
      edits.set(edit.file, list);
    }
    changes.push(change);
    return true;
  };
  const add = (file: string, edit: Edit, change: RewriteChange) =>
    addAll([{ file, start: edit.start, end: edit.end, text: edit.text }], edit.what, change);

  const images: ImageFinding[] = [...scan.install.images, ...(options.definitions ? scan.definitions.images : [])];
  for (const img of images) {
    let normalised: string;
    try {
      normalised = normaliseImage(img.ref);
    } catch {
      continue; // reported by discovery
    }
    const answer = targets.image(normalised);
    if (!answer) continue;
    const target =
      typeof answer === 'string'
        ? {
            registry: answer.slice(0, Math.max(answer.indexOf('/'), 0)),
            repository: answer.slice(answer.indexOf('/') + 1),
          }
        : answer;
    const plan = imageEdits(img, target);
    if (plan === 'unchanged') continue;
    if (typeof plan === 'string') {
      errors.push(
        `${dir}/${img.file}: image ${img.ref} cannot point at its mirror ${target.registry}/${target.repository}: ${plan}`,
      );
      continue;
    }
    const suffix = img.ref.slice(nameLength(img.ref));
    if (plan.length > 0)
      addAll(plan, `image ${img.ref}`, {
        kind: 'image',
        file: plan[0]!.file,
        from: img.ref,
        to: `${target.registry}/${target.repository}${suffix}`,
      });
  }

  for (const c of scan.install.charts) rewriteChart(c, targets, add, errors, dir);

  if (targets.url) {
    const urls: UrlFinding[] = scan.install.urls;
    for (const u of urls) {
      const to = targets.url(u.url);
      if (!to || to === u.url) continue;
      const only = u.segments.length === 1 ? u.segments[0] : undefined;
      if (!only?.span) {
        errors.push(`${dir}/${u.file}: URL ${u.url} is computed; it cannot point at its mirror`);
        continue;
      }
      add(
        only.span.file,
        { start: only.span.start, end: only.span.end, text: to, what: `URL ${u.url}` },
        { kind: 'url', file: only.span.file, from: u.url, to },
      );
    }
  }

  const files = new Map(scan.addon.files);
  const changedFiles: string[] = [];
  for (const [file, list] of edits) {
    const raw = scan.addon.files.get(file)!;
    let src = raw.toString('utf8');
    // Decoding is lossy for bytes that are not UTF-8: such a file keeps its bytes, unrewritten.
    if (!Buffer.from(src, 'utf8').equals(raw)) {
      errors.push(`${dir}/${file}: not valid UTF-8, so the references in it cannot be rewritten`);
      continue;
    }
    changedFiles.push(file);
    for (const e of [...list].sort((a, b) => b.start - a.start))
      src = src.slice(0, e.start) + e.text + src.slice(e.end);
    files.set(file, Buffer.from(src, 'utf8'));
  }
  // One literal can be part of several references (a shared parameter default): the edit one of
  // them needs may change another. Reading the result back is the only proof that each points
  // exactly at its mirror.
  if (errors.length === 0 && changedFiles.length > 0)
    errors.push(...verifyImages(scan, { ...scan.addon, files }, targets, options.definitions === true));
  return {
    files,
    changedFiles: changedFiles.sort(),
    changes: changes.filter((c) => changedFiles.includes(c.file)),
    warnings,
    errors,
  };
}

/** What the rewritten addon deploys against what it should: each targeted image at its mirror, the others as they were. */
function verifyImages(
  scan: AddonScan,
  rewritten: AddonScan['addon'],
  targets: RewriteTargets,
  definitions: boolean,
): string[] {
  const expected = (images: string[], rewrite: boolean) =>
    [
      ...new Set(
        images.map((n) => {
          const t = rewrite ? targets.image(n) : undefined;
          if (!t) return n;
          const mirror = typeof t === 'string' ? t : `${t.registry}/${t.repository}`;
          return normaliseImage(`${mirror}${n.slice(nameLength(n))}`);
        }),
      ),
    ].sort();
  const again = discoverAddon(rewritten).plan;
  const out: string[] = [];
  const compare = (got: string[], want: string[], what: string) => {
    const missing = want.filter((w) => !got.includes(w));
    const extra = got.filter((g) => !want.includes(g));
    if (missing.length || extra.length)
      out.push(
        `${scan.addon.dir}: after the rewrite its ${what} would be ${extra.join(', ') || 'missing'} instead of ${missing.join(', ') || 'nothing more'} (one value serves references with different mirrors)`,
      );
  };
  compare(again.images, expected(scan.plan.images, true), 'images');
  compare(again.definitionImages, expected(scan.plan.definitionImages, definitions), 'definition images');
  return out;
}

function rewriteChart(
  c: ChartFinding,
  targets: RewriteTargets,
  add: (file: string, edit: Edit, change: RewriteChange) => boolean,
  errors: string[],
  dir: string,
): void {
  const planned: PlannedChart = {
    repo: c.url,
    chart: c.chart,
    ...(c.version ? { version: c.version } : {}),
    repoType: c.repoType,
  };
  // A git or oss chart source is not a Helm repository: it cannot point at a chart mirror.
  if (c.repoType !== 'helm' && c.repoType !== 'oci') return;
  const target = targets.chart(planned);
  if (!target) return;
  if (!c.urlSpan) {
    errors.push(`${dir}/${c.file}: chart ${c.chart}: its url cannot point at the chart mirror (no source position)`);
    return;
  }
  const what = `chart ${c.chart} ${c.url}`;
  const literal = c.urlSegments?.length === 1 && c.urlSegments[0]!.text === c.url ? c.urlSegments[0]!.span : undefined;
  if (target.url !== c.url && literal) {
    // `url: parameter.chartUrl` with a default: rewrite the default, the parameter keeps working.
    add(
      literal.file,
      { start: literal.start, end: literal.end, text: target.url, what },
      { kind: 'chart', file: literal.file, from: c.url, to: target.url },
    );
  } else if (target.url !== c.url) {
    add(
      c.urlSpan.file,
      { start: c.urlSpan.start, end: c.urlSpan.end, text: formatLiteral(target.url, c.urlSpan.style), what },
      { kind: 'chart', file: c.file, from: c.url, to: target.url },
    );
  }
  if (target.repoType === c.repoType) return;
  if (c.repoTypeSpan) {
    add(
      c.repoTypeSpan.file,
      {
        start: c.repoTypeSpan.start,
        end: c.repoTypeSpan.end,
        text: formatLiteral(target.repoType, c.repoTypeSpan.style),
        what: `${what} repoType`,
      },
      { kind: 'chart', file: c.file, from: `repoType ${c.repoType}`, to: `repoType ${target.repoType}` },
    );
  } else if (c.insertBefore) {
    const line = `repoType: ${formatLiteral(target.repoType, c.insertBefore.style)}\n${c.insertBefore.indent}`;
    add(
      c.insertBefore.file,
      { start: c.insertBefore.offset, end: c.insertBefore.offset, text: line, what: `${what} repoType` },
      { kind: 'chart', file: c.file, from: `repoType ${c.repoType}`, to: `repoType ${target.repoType}` },
    );
  }
}
