// A namespace import lets the bundler drop the parts of zod not used here (its ~40 locales among
// them); `import { z }` keeps all of it, several hundred KB to compile at every CLI start.
import * as z from 'zod';
import type { Engine } from '../engine.js';
import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CopyResult } from '../oci/copy-image.js';
import { formatRef, parseImageRef } from '../oci/reference.js';
import { mirrorImageJobId } from '../queue/names.js';

export const mirrorImagePayload = z.strictObject({
  /** `docker://…` or `oci:…` with a tag or digest. */
  source: z.string().min(1),
  /** Target repository, optionally with the tag to write (defaults to the source tag). */
  target: z.string().min(1),
  platforms: z.array(z.string()).optional(),
  referrers: z.boolean().optional(),
  immutable: z.boolean().optional(),
  digestExact: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

export type MirrorImagePayload = z.infer<typeof mirrorImagePayload>;

export interface ImageJobContext {
  engine: Engine;
  logger: Logger;
}

/** The processor for one image copy, called the same way by the in-process runner and the queue worker. */
export async function mirrorImage(payload: unknown, ctx: ImageJobContext): Promise<CopyResult> {
  const parsed = mirrorImagePayload.safeParse(payload);
  if (!parsed.success) {
    throw new AirlockError('E_USAGE', `mirror-image payload invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  }
  const p = parsed.data;
  const source = parseImageRef(p.source);
  const target = parseImageRef(p.target, { defaultTag: false });
  if (target.digest) {
    throw new AirlockError('E_REFERENCE', 'a copy target names a repository and optionally a tag, not a digest', { artifact: p.target });
  }
  const sourceRef = source.digest ?? source.tag;
  if (!sourceRef) throw new AirlockError('E_REFERENCE', 'source needs a tag or digest', { artifact: p.source });
  const targetTag = target.tag ?? (source.digest ? undefined : source.tag);
  const copy = () => ctx.engine.copy({
    source: ctx.engine.endpoint(source),
    sourceRef,
    target: ctx.engine.endpoint(target),
    ...(targetTag ? { targetTag } : {}),
    platforms: p.platforms ?? [],
    referrers: p.referrers ?? false,
    immutable: p.immutable ?? false,
    digestExact: p.digestExact ?? false,
    dryRun: p.dryRun ?? false,
  });
  // Another worker copying the same image to the same place: wait for it, then find it unchanged.
  const result = ctx.engine.lock && !p.dryRun ? await ctx.engine.lock.run(mirrorImageJobId(formatRef(source), p.target), copy) : await copy();
  ctx.logger.info(
    { source: formatRef(source), target: result.target, status: result.status, digest: result.targetDigest, ...result.stats },
    `image ${result.status}`,
  );
  return result;
}
