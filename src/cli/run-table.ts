import type { RunSummary } from '../queue/runs.js';
import { formatBytes } from '../report/run-report.js';
import { terminalCell } from '../core/terminal.js';

const TRIGGER_WIDTH = 32;

/**
 * What started a run, from what its producer recorded: a retry names the run it retries, a
 * schedule its name, a GitHub push its repository; a generic webhook's reason is the sender's
 * own text, shown without control characters.
 */
export function runTrigger(r: Pick<RunSummary, 'reason' | 'retryOf'>): string {
  if (r.retryOf) return `retry of ${terminalCell(r.retryOf)}`;
  const reason = terminalCell(r.reason.trim());
  if (reason === 'airlock sync --queue') return 'sync --queue';
  return reason || '-';
}

/** `2026-12-04 15:57:04` in local time: the operator's clock, to the second. */
export function formatWhen(iso: string | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '-';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function counts(r: RunSummary): string {
  const s = r.summary;
  return s ? `${s.copied ?? 0}/${s.unchanged ?? 0}/${s.failed ?? 0}` : '-';
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

const COLUMNS = ['RUN', 'TRIGGER', 'SCOPE', 'STATE', 'STARTED', 'DURATION', 'COPIED/UNCHANGED/FAILED'] as const;

/**
 * `runs list`: a header, then one row per run in the order given (newest first from listRuns).
 * STARTED is when a worker took the run (`-` while it waits for one) and DURATION runs from there
 * to its end, so STARTED + DURATION is when it finished; the enqueue time is in `runs show`.
 */
export function formatRunTable(runs: RunSummary[]): string[] {
  const rows = runs.map((r) => [
    terminalCell(r.id),
    clip(runTrigger(r), TRIGGER_WIDTH),
    terminalCell(r.scope),
    r.state,
    formatWhen(r.startedAt),
    formatDuration(r.durationMs),
    counts(r),
  ]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

/** `runs show` (and a followed run's end): one field a line, then every failure with its cause. */
export function formatRunDetail(r: RunSummary): string[] {
  const s = r.summary;
  const lines = [
    `run       ${terminalCell(r.id)}`,
    `trigger   ${runTrigger(r)}`,
    `scope     ${terminalCell(r.scope)}`,
    `state     ${r.state}`,
    `queued    ${formatWhen(r.enqueuedAt)}`,
    `started   ${formatWhen(r.startedAt)}`,
    ...(r.finishedAt ? [`finished  ${formatWhen(r.finishedAt)}`] : []),
    `duration  ${formatDuration(r.durationMs)}`,
  ];
  if (s)
    lines.push(
      `artifacts ${s.copied ?? 0} copied, ${s.unchanged ?? 0} unchanged, ${s.failed ?? 0} failed, ${formatBytes(s.bytes ?? 0)}`,
    );
  for (const f of r.failures ?? [])
    lines.push(
      `  failed ${terminalCell(f.kind)} ${terminalCell(f.source)}: ${f.error ? terminalCell(`[${f.error.code}] ${f.error.message}`) : ''}`,
    );
  if (r.error) lines.push(`error     ${terminalCell(r.error)}`);
  return lines;
}
