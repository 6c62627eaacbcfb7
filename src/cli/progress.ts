import type { ArtifactProgress, RunProgress, SettledArtifact } from '../model/progress.js';
import path from 'node:path';
import type { ExitCleanup } from '../core/exit-cleanup.js';
import type { RunReport } from '../model/report.js';
import { formatBytes, formatItem, interruptedReport, plural } from '../report/run-report.js';
import { terminalCell } from '../core/terminal.js';
import { formatLogLine } from './log-line.js';

/** Where the live display draws: a terminal's stream and its width. */
export interface Terminal {
  write(text: string): void;
  columns(): number | undefined;
}

/** A run's progress as the CLI keeps it: for the live display on a terminal and the summary on Ctrl-C. */
export interface RunTracker extends RunProgress {
  /** Log lines go through here while the display is up, above its live lines. */
  readonly log: { write(line: string): void };
  /** Prints (above the live lines) the report lines of the items it has not shown as they settled, such as plan failures. */
  showRest(items: SettledArtifact[], withKind: boolean): void;
  /** Clears the live lines for good; idempotent. */
  stop(): void;
  /** What the live lines show now. */
  snapshot(): Snapshot;
  /** What was done and what was not, for a run that a signal ended. */
  interrupted(signal: string, cleanup: ExitCleanup): string[];
  /** The same as the run report `--json` prints: what finished, what was in flight, what had not started. */
  interruptedReport(signal: string, startedAt: Date): RunReport;
}

interface InFlight {
  name: string;
  planned: number;
  moved: number;
  skipped: number;
}

/** The live lines as they are drawn; also what the tests of the display read back. */
export interface Snapshot {
  done: number;
  failed: number;
  total: number;
  /** Bytes moved, and the bytes the run will move as far as the manifests read so far say. */
  moved: number;
  toMove: number;
  /** Bytes per second over the last few seconds; undefined before there is enough to say. */
  speed: number | undefined;
  inFlight: InFlight[];
}

const SPEED_WINDOW_MS = 5000;
const MAX_IN_FLIGHT_LINES = 5;
const MAX_SUMMARY_LINES = 20;

/** `text` in at most `width` columns: long names keep their end (the tag), which tells images apart. */
export function fit(text: string, width: number): string {
  if (width <= 1) return '';
  return text.length <= width ? text : `…${text.slice(text.length - width + 1)}`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The live lines for a snapshot, each at most `columns - 1` wide so none wraps (the redraw counts lines). */
export function renderLive(s: Snapshot, columns: number): string[] {
  const width = Math.max(20, columns - 1);
  const parts: string[] = [];
  let bar = '';
  if (s.toMove > 0) {
    const ratio = Math.min(1, s.moved / s.toMove);
    const cells = 20;
    const full = Math.round(ratio * cells);
    bar = `[${'█'.repeat(full)}${'░'.repeat(cells - full)}]`;
    parts.push(`${Math.floor(ratio * 100)}%`, `${formatBytes(s.moved)} of ${formatBytes(s.toMove)}`);
  } else if (s.moved > 0) {
    parts.push(formatBytes(s.moved));
  }
  // No speed before there are bytes to speak of (a run of HEAD requests moves none).
  if (s.speed !== undefined && (s.moved > 0 || s.toMove > 0)) {
    parts.push(`${formatBytes(s.speed)}/s`);
    const left = s.toMove - s.moved;
    if (s.toMove > 0 && left > 0 && s.speed > 0) parts.push(`ETA ${duration(left / s.speed)}`);
  }
  parts.push(`${s.done}/${s.total} done${s.failed ? `, ${s.failed} failed` : ''}`);
  const status = parts.join('  ');
  // The bar goes first when the terminal is narrow; then the end of the line (the counts).
  const head = bar && bar.length + 1 + status.length <= width ? `${bar} ${status}` : status;
  const lines = [head.length <= width ? head : `${head.slice(0, width - 1)}…`];
  for (const a of s.inFlight.slice(0, MAX_IN_FLIGHT_LINES)) {
    const bytes =
      a.planned > 0 ? `  ${formatBytes(a.moved)} of ${formatBytes(Math.max(0, a.planned - a.skipped))}` : '';
    lines.push(`  ${fit(terminalCell(a.name), width - 2 - bytes.length)}${bytes}`);
  }
  if (s.inFlight.length > MAX_IN_FLIGHT_LINES)
    lines.push(`  … and ${s.inFlight.length - MAX_IN_FLIGHT_LINES} more in flight`);
  return lines;
}

/**
 * Keeps a run's progress and, given a terminal, draws it: a bar over the bytes (the manifests
 * give their sizes before the blobs move), speed, ETA, the artifacts in flight by name, and each
 * artifact's report line above as it settles. Without a terminal it only keeps count, for the
 * summary a signal asks for.
 */
export function createRunTracker(
  options: { terminal?: Terminal; now?: () => number; redrawMs?: number } = {},
): RunTracker {
  const { terminal } = options;
  const now = options.now ?? Date.now;
  const waiting: string[] = [];
  const inFlight = new Set<InFlight>();
  const settled: SettledArtifact[] = [];
  let moved = 0;
  let planned = 0;
  let skipped = 0;
  // Planned bytes of artifacts that ended without moving them (a failure half-way).
  let dropped = 0;
  const samples: Array<{ at: number; moved: number }> = [];
  // Lines shown as they settled, by artifact (the report's items are other objects with the same fields).
  const shown = new Map<string, number>();
  const keyOf = (i: SettledArtifact) => `${i.kind}\0${i.source}\0${i.target}\0${i.status}`;
  let drawn = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const snapshot = (): Snapshot => {
    const t = now();
    while (samples.length > 1 && t - samples[1]!.at >= SPEED_WINDOW_MS) samples.shift();
    const first = samples[0];
    const span = first ? (t - first.at) / 1000 : 0;
    return {
      done: settled.length,
      failed: settled.filter((i) => i.status === 'failed').length,
      total: settled.length + inFlight.size + waiting.length,
      moved,
      // Without sizes told in advance (a followed run's workers report bytes only) there is no total.
      toMove: planned > 0 ? Math.max(moved, planned - skipped - dropped) : 0,
      speed: first && span >= 1 ? Math.max(0, (moved - first.moved) / span) : undefined,
      inFlight: [...inFlight],
    };
  };

  const clear = () => {
    if (!terminal || drawn === 0) return;
    terminal.write(`\r${drawn > 1 ? `\x1b[${drawn - 1}A` : ''}\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    if (!terminal || stopped) return;
    const lines = renderLive(snapshot(), terminal.columns() || 80);
    terminal.write(lines.join('\n'));
    drawn = lines.length;
  };
  /** Writes permanent lines above the live ones. */
  const above = (text: string) => {
    if (!terminal) return;
    clear();
    terminal.write(text.endsWith('\n') ? text : `${text}\n`);
    draw();
  };
  const redraw = () => {
    clear();
    draw();
  };
  const tick = () => {
    samples.push({ at: now(), moved });
    if (samples.length > 200) samples.splice(0, samples.length - 200);
    redraw();
  };

  return {
    queued(names) {
      waiting.push(...names);
      if (terminal && !timer && !stopped) {
        timer = setInterval(tick, options.redrawMs ?? 200);
        timer.unref();
        tick();
      }
    },
    start(name): ArtifactProgress {
      const at = waiting.indexOf(name);
      if (at >= 0) waiting.splice(at, 1);
      const a: InFlight = { name, planned: 0, moved: 0, skipped: 0 };
      inFlight.add(a);
      return {
        planned(n) {
          a.planned += n;
          planned += n;
        },
        moved(n) {
          a.moved += n;
          moved += n;
        },
        skipped(n) {
          a.skipped += n;
          skipped += n;
        },
        done(item) {
          if (!inFlight.delete(a)) return;
          dropped += Math.max(0, a.planned - a.skipped - a.moved);
          settled.push(item);
          shown.set(keyOf(item), (shown.get(keyOf(item)) ?? 0) + 1);
          above(formatItem(item, false).map(terminalCell).join('\n'));
        },
      };
    },
    log: {
      write(line) {
        if (!terminal) return void process.stderr.write(line);
        // A person reads this terminal: each JSON line as one line of text, above the live display.
        const text = line
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map(formatLogLine)
          .join('\n');
        if (!text) return;
        if (!stopped) above(text);
        else terminal.write(`${text}\n`);
      },
    },
    showRest(items, withKind) {
      const rest = items.filter((i) => {
        const n = shown.get(keyOf(i)) ?? 0;
        if (n > 0) shown.set(keyOf(i), n - 1);
        return n === 0;
      });
      const lines = rest.flatMap((i) => formatItem(i, withKind)).map(terminalCell);
      if (lines.length) above(lines.join('\n'));
    },
    snapshot,
    stop() {
      if (stopped) return;
      if (timer) clearInterval(timer);
      clear();
      stopped = true;
    },
    interrupted(signal, { removed: removedFiles, kept }) {
      const count = (status: SettledArtifact['status']) => settled.filter((i) => i.status === status).length;
      const total = settled.length + inFlight.size + waiting.length;
      const notDone = inFlight.size + waiting.length;
      const capped = (rows: string[]) =>
        rows.length > MAX_SUMMARY_LINES
          ? [...rows.slice(0, MAX_SUMMARY_LINES), `  … and ${rows.length - MAX_SUMMARY_LINES} more`]
          : rows;
      if (total === 0)
        return [
          `airlock: interrupted (${signal}) while planning, before any artifact started${removedFiles ? `; removed ${plural(removedFiles, 'temporary file')}` : ''}`,
        ];
      const lines = [
        `airlock: interrupted (${signal}): ${settled.length} of ${plural(total, 'artifact')} done (${count('copied')} copied, ${count('unchanged')} unchanged, ${count('planned')} planned, ${count('failed')} failed), ${notDone} not done`,
      ];
      // With the live display each finished artifact's line is on screen already.
      if (!terminal) lines.push(...capped(settled.map((i) => `  ${i.status.padEnd(11)}  ${terminalCell(i.source)}`)));
      lines.push(
        ...capped([
          ...[...inFlight].map(
            (a) =>
              `  in flight    ${terminalCell(a.name)}${a.planned > 0 ? ` (${formatBytes(a.moved)} of ${formatBytes(Math.max(0, a.planned - a.skipped))} moved)` : ''}`,
          ),
          ...waiting.map((name) => `  not started  ${terminalCell(name)}`),
        ]),
      );
      const removed = removedFiles
        ? `removed ${plural(removedFiles, 'temporary file')} (unfinished writes, locks); `
        : '';
      lines.push(
        kept.length
          ? `airlock: ${removed}kept ${plural(kept.length, 'partial blob')} under ${keptDirs(kept)} as resume points for the next run; tags are written last, so nothing points at missing content`
          : `airlock: ${removed}nothing half-written is left (tags are written last); the next run copies what is missing`,
      );
      return lines;
    },
    interruptedReport(signal, startedAt) {
      return interruptedReport(settled, startedAt, {
        signal,
        inFlight: [...inFlight].map((a) => ({
          name: a.name,
          bytes: a.moved,
          plannedBytes: Math.max(0, a.planned - a.skipped),
        })),
        notStarted: [...waiting],
      });
    },
  };
}

/** The directories of the partial blobs kept, each once: `store/.airlock/partial`. */
function keptDirs(files: string[]): string {
  const dirs = [...new Set(files.map((f) => path.relative(process.cwd(), path.dirname(f)) || '.'))];
  return dirs.map((d) => terminalCell(d)).join(', ');
}

/** stderr as the display's terminal, when it is one. */
export function stderrTerminal(): Terminal | undefined {
  const err = process.stderr;
  if (!err.isTTY) return undefined;
  return { write: (text) => void err.write(text), columns: () => err.columns };
}
