import { exitCodeForErrors, type AirlockError } from '../core/errors.js';
import type { ChartOutcome } from '../jobs/mirror-chart.js';
import type { AddonPublishOutcome, GitMirrorOutcome } from '../jobs/publish-addons.js';
import type { ImageOutcome } from '../jobs/mirror-image.js';
import type { BotkubeMirrorResult } from '../botkube/mirror-plugin-index.js';
import type { PluginOutcome } from '../jobs/register-plugins.js';
import { redact } from '../core/secrets.js';
import type { PlanFailure } from '../model/plan-failure.js';
import type { SettledArtifact } from '../model/progress.js';
import type { ItemKind, ReportItem, RunReport } from '../model/report.js';

function errorOf(e: AirlockError): { code: string; message: string } {
  return { code: e.code, message: redact(e.message) };
}

const NO_BLOBS = { copied: 0, skipped: 0, mounted: 0 };

export function failureItems(failures: PlanFailure[], kind: ItemKind): ReportItem[] {
  return failures.map((f) => ({
    kind,
    source: f.artifact,
    target: '',
    status: 'failed',
    bytes: 0,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: 0,
    warnings: [],
    error: errorOf(f.error),
  }));
}

export function imageItems(outcomes: ImageOutcome[]): ReportItem[] {
  return outcomes.map((o) => {
    const r = o.result;
    return {
      kind: 'image',
      source: r?.source ?? o.payload.source,
      target: r?.target ?? o.payload.target,
      status: r ? r.status : 'failed',
      ...(r?.trusted ? { trusted: true } : {}),
      ...(r ? { sourceDigest: r.sourceDigest } : {}),
      ...(r?.targetDigest ? { targetDigest: r.targetDigest } : {}),
      bytes: r?.stats.bytes ?? 0,
      blobs: {
        copied: r?.stats.blobsCopied ?? 0,
        skipped: r?.stats.blobsSkipped ?? 0,
        mounted: r?.stats.blobsMounted ?? 0,
      },
      referrers: r?.referrers ?? 0,
      durationMs: o.durationMs,
      warnings: r?.warnings ?? [],
      ...(o.error ? { error: errorOf(o.error) } : {}),
    };
  });
}

export function chartItems(outcomes: ChartOutcome[]): ReportItem[] {
  return outcomes.map((o) => ({
    kind: 'chart',
    source: o.source,
    target: o.result?.target ?? o.target,
    status: o.result ? o.result.status : 'failed',
    ...(o.result?.digest
      ? { targetDigest: o.result.digest.includes(':') ? o.result.digest : `sha256:${o.result.digest}` }
      : {}),
    bytes: o.result?.bytes ?? 0,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: o.durationMs,
    warnings: [],
    ...(o.error ? { error: errorOf(o.error) } : {}),
  }));
}

/** Files and plugin indexes copied to a static target. */
export function fileItem(
  kind: 'file' | 'plugin-index',
  source: string,
  target: string,
  status: ReportItem['status'],
  bytes: number,
  sha256?: string,
  error?: AirlockError,
): ReportItem {
  return {
    kind,
    source,
    target,
    status,
    ...(sha256 ? { targetDigest: `sha256:${sha256}` } : {}),
    bytes,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: 0,
    warnings: [],
    ...(error ? { error: errorOf(error) } : {}),
  };
}

/** The files of a Botkube plugin repository: those copied and those that failed (its index is the caller's item). */
export function botkubeItems(r: BotkubeMirrorResult): ReportItem[] {
  return [
    ...r.files.map((f) => fileItem('file', f.source, f.url, f.status, f.bytes, f.sha256)),
    ...r.failures.map((e) => fileItem('file', e.artifact ?? r.name, '', 'failed', 0, undefined, e)),
  ];
}

/** An addon packaged and published to one helm-type addon registry (or only rewritten, with no registry configured). */
export function addonItems(outcomes: AddonPublishOutcome[]): ReportItem[] {
  return outcomes.map((o) => ({
    kind: 'addon',
    source: `${o.registry}/${o.addon}@${o.version}`,
    target: o.target,
    status: o.status,
    ...(o.digest ? { targetDigest: `sha256:${o.digest}` } : {}),
    bytes: 0,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: 0,
    warnings: o.warnings,
    ...(o.rewrites.length ? { rewrites: o.rewrites } : {}),
    ...(o.error ? { error: errorOf(o.error) } : {}),
  }));
}

/** A SpaceONE plugin: its image tags mirrored, then registered (copied), already as wanted (unchanged), or failed. */
export function pluginItems(outcomes: PluginOutcome[]): ReportItem[] {
  return outcomes.map((o) => ({
    kind: 'plugin',
    source: o.plugin_id,
    target: `${o.image}${o.mirrored.length ? `:${o.mirrored.join(',')}` : ''}`,
    status: o.error ? 'failed' : o.registration?.action === 'unchanged' ? 'unchanged' : 'copied',
    bytes: 0,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: 0,
    warnings: [
      ...o.warnings,
      ...(o.registration ? [`${o.registration.action}; versions ${o.registration.versions.join(', ') || '-'}`] : []),
    ],
    ...(o.error ? { error: errorOf(o.error) } : {}),
  }));
}

export function gitMirrorItems(outcomes: GitMirrorOutcome[]): ReportItem[] {
  return outcomes.map((o) => ({
    kind: 'git-mirror',
    source: `catalog ${o.catalog}`,
    target: `${o.remote} ${o.branch}`,
    status: o.status,
    ...(o.commit ? { targetDigest: o.commit } : {}),
    bytes: 0,
    blobs: NO_BLOBS,
    referrers: 0,
    durationMs: 0,
    warnings: [],
    ...(o.error ? { error: errorOf(o.error) } : {}),
  }));
}

export function buildReport(items: ReportItem[], startedAt: Date, finishedAt: Date): RunReport {
  const summary = {
    copied: 0,
    unchanged: 0,
    planned: 0,
    failed: 0,
    bytes: 0,
    blobsCopied: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
  };
  for (const i of items) {
    summary[i.status] += 1;
    summary.bytes += i.bytes;
    summary.blobsCopied += i.blobs.copied;
    summary.blobsSkipped += i.blobs.skipped;
    summary.blobsMounted += i.blobs.mounted;
  }
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    ok: summary.failed === 0,
    summary,
    items,
  };
}

/**
 * The report of a command that failed before its run (a bad reference, config or option, Redis
 * away): what `--json` prints then, so that stdout always holds one report.
 */
export function errorReport(e: AirlockError, startedAt: Date, finishedAt = new Date()): RunReport {
  const { summary, items } = buildReport([], startedAt, finishedAt);
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    ok: false,
    error: { ...errorOf(e), ...(e.artifact ? { artifact: redact(e.artifact) } : {}) },
    summary,
    items,
  };
}

/** The report of a run a signal ended: the artifacts that finished, and those that did not. */
export function interruptedReport(
  settled: SettledArtifact[],
  startedAt: Date,
  interrupted: NonNullable<RunReport['interrupted']>,
): RunReport {
  // The runner settles artifacts with their report items (src/runner/execute-sync.ts): the fields
  // the progress type leaves out are there; the defaults only cover another caller.
  const items = settled.map((i) => ({ blobs: NO_BLOBS, referrers: 0, ...i }) as ReportItem);
  return { ...buildReport(items, startedAt, new Date()), ok: false, interrupted };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** `1 image`, `2 images`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** One artifact's lines in the human report: status, names, digest and cause, then its warnings and rewrites. */
export function formatItem(i: SettledArtifact, withKind: boolean): string[] {
  const lines: string[] = [];
  // A planned copy shows the digest it would write; the others what the target holds.
  const shown = i.status === 'planned' ? i.sourceDigest : i.targetDigest;
  const digest = shown ? ` ${shown.slice(0, 19)}` : '';
  const detail = i.error
    ? ` [${i.error.code}] ${i.error.message}`
    : i.status === 'copied' && i.kind === 'image' && i.blobs
      ? ` ${formatBytes(i.bytes)}, ${i.blobs.copied} blobs copied, ${i.blobs.skipped} present, ${i.blobs.mounted} mounted`
      : i.status === 'planned' && i.targetDigest
        ? ` (target has ${i.targetDigest.slice(0, 19)})`
        : '';
  const prefix = withKind ? `${i.kind.padEnd(6)} ` : '';
  const status = i.trusted ? `${i.status} (trusted)` : i.status.padEnd(9);
  lines.push(`${prefix}${status} ${i.source}${i.target ? ` -> ${i.target}` : ''}${digest}${detail}`);
  for (const w of i.warnings) lines.push(`          warning: ${w}`);
  for (const r of i.rewrites ?? []) lines.push(`          ${r.file}: ${r.from} -> ${r.to}`);
  return lines;
}

/** The totals line (and a hint when targets were taken on trust). */
export function formatTotals(report: RunReport): string[] {
  const kinds = new Set(report.items.map((i) => i.kind));
  const s = report.summary;
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  const noun = kinds.size === 1 && kinds.has('image') ? 'image' : 'artifact';
  const trusted = report.items.filter((i) => i.trusted).length;
  const lines = [
    `${plural(report.items.length, noun)}: ${s.copied} copied, ${s.unchanged} unchanged${trusted ? ` (${trusted} trusted)` : ''}, ${s.planned} planned, ${s.failed} failed; ${formatBytes(s.bytes)} in ${seconds.toFixed(1)} s`,
  ];
  if (trusted) {
    lines.push(
      `${trusted === 1 ? '1 target was' : `${trusted} targets were`} not checked: the mirror state vouched for ${trusted === 1 ? 'it' : 'them'} (state.trustTargetSeconds); --verify-targets checks every target`,
    );
  }
  return lines;
}

/** Whether the report prefixes each line with its kind (a run of more than one kind). */
export function showsKinds(report: RunReport): boolean {
  return new Set(report.items.map((i) => i.kind)).size > 1;
}

/** The human summary: one line per artifact, failures with their code, then totals. */
export function formatReport(report: RunReport): string {
  const withKind = showsKinds(report);
  return [...report.items.flatMap((i) => formatItem(i, withKind)), ...formatTotals(report)].join('\n');
}

/** 0 when all went well; a failure's own exit code when all failures agree; else 1. */
export function exitCodeFor(report: RunReport, errors: AirlockError[]): number {
  return report.ok ? 0 : exitCodeForErrors(errors) || 1;
}
