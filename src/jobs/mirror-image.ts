import type { Engine } from '../app/engine.js';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { CopyProgress } from '../model/progress.js';
import type { CopyResult } from '../oci/copy-image.js';
import { formatRef, parseImageRef } from '../oci/reference.js';
import { mirrorImageJobId } from '../model/job-names.js';

export interface MirrorImagePayload {
  /** `docker://…` or `oci:…` with a tag or digest. */
  source: string;
  /** Target repository, optionally with the tag to write (defaults to the source tag). */
  target: string;
  platforms?: string[];
  referrers?: boolean;
  immutable?: boolean;
  digestExact?: boolean;
  dryRun?: boolean;
}

const FLAGS = ['referrers', 'immutable', 'digestExact', 'dryRun'] as const;
const KEYS = new Set<string>(['source', 'target', 'platforms', ...FLAGS]);

/**
 * Checks a payload as a queue hands it over (any JSON). Written out rather than as a schema: the
 * image job is what a fresh `airlock image copy` runs, and loading the schema library costs that
 * process more than a no-op re-sync of twenty images takes on a near registry.
 */
export function parseMirrorImagePayload(payload: unknown): MirrorImagePayload {
  const invalid = (why: string) => new AirlockError('E_USAGE', `mirror-image payload invalid: ${why}`);
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw invalid('not an object');
  const p = payload as Record<string, unknown>;
  const unknown = Object.keys(p).find((k) => !KEYS.has(k));
  if (unknown) throw invalid(`unknown key "${unknown}"`);
  for (const k of ['source', 'target'] as const) {
    if (typeof p[k] !== 'string' || p[k] === '') throw invalid(`${k} must be a non-empty string`);
  }
  if (p.platforms !== undefined && !(Array.isArray(p.platforms) && p.platforms.every((x) => typeof x === 'string'))) {
    throw invalid('platforms must be a list of strings');
  }
  const flag = FLAGS.find((k) => p[k] !== undefined && typeof p[k] !== 'boolean');
  if (flag) throw invalid(`${flag} must be true or false`);
  return p as unknown as MirrorImagePayload;
}

export interface ImageJobContext {
  engine: Engine;
  logger: Logger;
  /** This image's bytes, for a progress display. */
  progress?: CopyProgress;
}

/** The processor for one image copy, called the same way by the in-process runner and the queue worker. */
export async function mirrorImage(payload: unknown, ctx: ImageJobContext): Promise<CopyResult> {
  const p = parseMirrorImagePayload(payload);
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
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  });
  // Another worker copying the same image to the same place: wait for it, then find it unchanged.
  const result = ctx.engine.lock && !p.dryRun ? await ctx.engine.lock.run(mirrorImageJobId(formatRef(source), p.target), copy) : await copy();
  ctx.logger.info(
    { source: formatRef(source), target: result.target, status: result.status, digest: result.targetDigest, ...result.stats },
    `image ${result.status}`,
  );
  return result;
}
