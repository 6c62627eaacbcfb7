import { AirlockError, formatErrorLine } from '../errors.js';
import type { FollowListener } from '../queue/follow-run.js';
import type { ReportItem } from '../report/run-report.js';
import { redact } from '../secrets.js';
import { createProgress, NO_PROGRESS, type Progress } from './progress.js';

/**
 * What `sync --queue` and `runs retry --follow` show on stderr while a run is followed: a line when
 * a worker takes it and when it is planned, the one-shot run's progress bar on a terminal (artifacts
 * done/total and bytes), each failure as it happens in the one-shot's `airlock: [CODE] …` form, and
 * a word when no worker has taken the run. Stdout keeps only the run's summary (or its JSON).
 */
export function followDisplay(runId: string, queue: string, options: { json?: boolean; stream?: NodeJS.WriteStream } = {}): { listener: FollowListener; stop(): void } {
  const out = options.stream ?? process.stderr;
  let progress: Progress = NO_PROGRESS;
  let barShown = false;
  let stopped = false;
  // A line above the bar: clear the bar's line, write, and let the bar draw itself again below.
  const line = (text: string) => out.write(`${barShown ? '\r\x1b[K' : ''}${text}\n`);
  const listener: FollowListener = {
    started() {
      line(`run ${runId}: taken by a worker`);
    },
    planned(total) {
      line(`run ${runId}: ${total} artifact${total === 1 ? '' : 's'} planned`);
      void createProgress(total, !options.json).then((p) => {
        if (stopped) return p.stop();
        progress = p;
        barShown = p !== NO_PROGRESS;
      });
    },
    settled() {
      progress.imageDone();
    },
    bytes(n) {
      progress.bytes(n);
    },
    failed(item: ReportItem) {
      // A worker's reason names the artifact already (`ARTIFACT: why`): name it once.
      const reason = item.error?.message ?? 'failed';
      const message = reason.startsWith(`${item.source}: `) ? reason.slice(item.source.length + 2) : reason;
      const err = new AirlockError((item.error?.code as AirlockError['code'] | undefined) ?? 'E_REGISTRY', message, { artifact: item.source });
      line(`airlock: ${redact(formatErrorLine(err))}`);
      progress.bytes(0);
    },
    unclaimed(waitedMs, workers) {
      const who = workers === undefined ? '' : workers === 0 ? `: no worker is connected to queue ${queue}` : `: ${workers} worker${workers === 1 ? '' : 's'} on queue ${queue}, busy with other jobs`;
      line(`run ${runId}: no worker has taken it after ${Math.round(waitedMs / 1000)} s${who}; it waits in the queue`);
    },
  };
  return {
    listener,
    stop() {
      stopped = true;
      progress.stop();
      barShown = false;
    },
  };
}
