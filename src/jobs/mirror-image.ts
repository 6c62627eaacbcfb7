import type { ArtifactLock } from '../http/ports.js';
import type { ImageCopier } from '../oci/image-copier.js';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { CopyProgress } from '../model/progress.js';
import type { CopyResult } from '../oci/copy-image.js';
import { formatRef, parseImageRef } from '../oci/reference.js';
import { mirrorImageJobId } from '../model/job-names.js';
import type { MirrorImagePayload } from '../model/image-payload.js';

/** One image copy as the run reports it. */
export interface ImageOutcome {
  payload: MirrorImagePayload;
  result?: CopyResult;
  error?: AirlockError;
  durationMs: number;
}

/** What an image copy needs of the engine: the copier and, on a queue, the lock that keeps one copy per artifact. */
export interface ImageJobEngine extends ImageCopier {
  lock?: ArtifactLock;
}

export interface ImageJobContext {
  engine: ImageJobEngine;
  logger: Logger;
  /** This image's bytes, for a progress display. */
  progress?: CopyProgress;
}

/**
 * The processor for one image copy, called the same way by the in-process runner and the queue
 * worker. The payload is checked already: built by the planners, or parsed where it left the queue
 * (src/jobs/kinds.ts).
 */
export async function mirrorImage(p: MirrorImagePayload, ctx: ImageJobContext): Promise<CopyResult> {
  const source = parseImageRef(p.source);
  const target = parseImageRef(p.target, { defaultTag: false });
  if (target.digest) {
    throw new AirlockError('E_REFERENCE', 'a copy target names a repository and optionally a tag, not a digest', {
      artifact: p.target,
    });
  }
  const sourceRef = source.digest ?? source.tag;
  if (!sourceRef) throw new AirlockError('E_REFERENCE', 'source needs a tag or digest', { artifact: p.source });
  const targetTag = target.tag ?? (source.digest ? undefined : source.tag);
  const copy = () =>
    ctx.engine.copy({
      source: ctx.engine.endpoint(source),
      sourceRef,
      target: ctx.engine.endpoint(target),
      ...(targetTag ? { targetTag } : {}),
      platforms: p.platforms ?? [],
      referrers: p.referrers ?? false,
      immutable: p.immutable ?? false,
      digestExact: p.digestExact ?? false,
      dryRun: p.dryRun ?? false,
      ...(ctx.progress ? { progress: ctx.progress } : {}),
    });
  // Another worker copying the same image to the same place: wait for it, then find it unchanged.
  const result =
    ctx.engine.lock && !p.dryRun
      ? await ctx.engine.lock.run(mirrorImageJobId(formatRef(source), p.target), copy)
      : await copy();
  ctx.logger.info(
    {
      source: formatRef(source),
      target: result.target,
      status: result.status,
      digest: result.targetDigest,
      ...result.stats,
    },
    `image ${result.status}`,
  );
  return result;
}
