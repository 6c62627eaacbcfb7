import { AirlockError, formatErrorLine } from '../core/errors.js';
import type { ArtifactProgress } from '../model/progress.js';
import type { FollowListener } from '../queue/follow-run.js';
import type { ReportItem } from '../model/report.js';
import { redact } from '../core/secrets.js';
import { createRunTracker, stderrTerminal, type RunTracker, type Terminal } from './progress.js';

/**
 * What `sync --queue` and `runs retry --follow` show on stderr while a run is followed: a line when
 * a worker takes it and when it is planned, the one-shot run's live display on a terminal (bytes,
 * speed, artifacts done of the planned total, each artifact's line as it settles), each failure as
 * it happens in the one-shot's `airlock: [CODE] …` form where there is no display, and a word when
 * no worker has taken the run. Stdout keeps only the run's summary (or its JSON).
 */
export function followDisplay(
  runId: string,
  queue: string,
  options: { json?: boolean; terminal?: Terminal } = {},
): { listener: FollowListener; stop(): void } {
  const terminal = options.json ? undefined : (options.terminal ?? stderrTerminal());
  let tracker: RunTracker | undefined;
  // The workers' artifacts are not named before they settle: each planned one waits under a
  // placeholder, and the bytes a worker reports flow into the one that stands for "in flight".
  const waiting: string[] = [];
  let current: ArtifactProgress | undefined;
  let stopped = false;
  const line = (text: string) => {
    if (tracker) tracker.log.write(`${text}\n`);
    else process.stderr.write(`${text}\n`);
  };
  const next = (): ArtifactProgress | undefined => {
    if (!tracker) return undefined;
    current ??= tracker.start(waiting.shift() ?? `run ${runId}`);
    return current;
  };
  const listener: FollowListener = {
    started() {
      line(`run ${runId}: taken by a worker`);
    },
    planned(total) {
      line(`run ${runId}: ${total} artifact${total === 1 ? '' : 's'} planned`);
      if (!terminal || stopped || tracker) return;
      tracker = createRunTracker({ terminal });
      for (let i = 1; i <= total; i++) waiting.push(`run ${runId}: artifact ${i} of ${total}`);
      tracker.queued(waiting.slice());
    },
    settled(items: ReportItem[]) {
      if (!tracker) return;
      for (const item of items) {
        const artifact = next();
        current = undefined;
        artifact?.done(item);
      }
    },
    bytes(n) {
      next()?.moved(n);
    },
    failed(item: ReportItem) {
      // On a terminal the failed artifact's line shows when it settles; elsewhere it is said now.
      if (tracker) return;
      // A worker's reason names the artifact already (`ARTIFACT: why`): name it once.
      const reason = item.error?.message ?? 'failed';
      const message = reason.startsWith(`${item.source}: `) ? reason.slice(item.source.length + 2) : reason;
      const err = new AirlockError((item.error?.code as AirlockError['code'] | undefined) ?? 'E_REGISTRY', message, {
        artifact: item.source,
      });
      line(`airlock: ${redact(formatErrorLine(err))}`);
    },
    unclaimed(waitedMs, workers) {
      const who =
        workers === undefined
          ? ''
          : workers === 0
            ? `: no worker is connected to queue ${queue}`
            : `: ${workers} worker${workers === 1 ? '' : 's'} on queue ${queue}, busy with other jobs`;
      line(`run ${runId}: no worker has taken it after ${Math.round(waitedMs / 1000)} s${who}; it waits in the queue`);
    },
  };
  return {
    listener,
    stop() {
      stopped = true;
      tracker?.stop();
    },
  };
}
