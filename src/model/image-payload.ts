import { AirlockError } from '../core/errors.js';

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
