import pLimit from 'p-limit';
import { toAirlockError } from '../core/errors.js';
import { mirrorImage, type ImageJobContext, type ImageOutcome } from '../jobs/mirror-image.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import type { CopyProgress } from '../model/progress.js';

/**
 * The in-process runner: every payload through the same processor the queue worker uses, at most
 * `concurrency` images at a time. A failure is recorded for its image and never stops the others.
 */
export async function runImageJobs(
  payloads: MirrorImagePayload[],
  ctx: ImageJobContext,
  options: {
    concurrency: number;
    onStart?: (p: MirrorImagePayload) => CopyProgress | undefined;
    onSettled?: (o: ImageOutcome) => void;
    /** The level a failure is logged at (default error); `info` where a report shows each failure anyway. */
    failureLevel?: 'error' | 'info';
  },
): Promise<ImageOutcome[]> {
  const limit = pLimit(options.concurrency);
  return Promise.all(
    payloads.map((payload) =>
      limit(async () => {
        const started = Date.now();
        const progress = options.onStart?.(payload);
        let outcome: ImageOutcome;
        try {
          outcome = {
            payload,
            result: await mirrorImage(payload, progress ? { ...ctx, progress } : ctx),
            durationMs: Date.now() - started,
          };
        } catch (e) {
          outcome = { payload, error: toAirlockError(e, payload.source), durationMs: Date.now() - started };
          ctx.logger[options.failureLevel ?? 'error'](
            { source: payload.source, code: outcome.error?.code },
            outcome.error?.message ?? 'failed',
          );
        }
        options.onSettled?.(outcome);
        return outcome;
      }),
    ),
  );
}
