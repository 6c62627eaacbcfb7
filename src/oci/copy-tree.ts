import type { Logger } from '../core/log.js';
import type { CopyProgress } from '../model/progress.js';
import type { MirrorState } from '../state/mirror-state.js';
import { copyBlob, type BlobLedger, type Limit, type TransferStats } from './blob-copy.js';
import type { ImageEndpoint } from './image-endpoint.js';
import { parseManifest, type Descriptor, type ParsedManifest } from './manifest.js';

/*
 * What copyImage and the referrers copier share: the request, the dependencies, and copying a
 * manifest by digest with everything below it. Both sit above this module, so neither imports the other.
 */

export interface CopyRequest {
  source: ImageEndpoint;
  /** Tag or digest at the source. */
  sourceRef: string;
  target: ImageEndpoint;
  /** Tag to write at the target; without one the image is stored by digest only. */
  targetTag?: string;
  /** `os/arch[/variant]` filters for indexes. Empty = every platform (digest-exact). */
  platforms?: string[];
  /** Refuse platform filtering, which changes the index digest. */
  digestExact?: boolean;
  referrers?: boolean;
  dryRun?: boolean;
  /** The source tag never moves: a recorded copy is trusted without asking any registry. */
  immutable?: boolean;
  /** Told the blob bytes of each manifest before they move, then as they move. */
  progress?: CopyProgress;
}

export interface CopyDeps {
  logger: Logger;
  ledger: BlobLedger;
  blobLimit: Limit;
  registryLimit?: (registry: string) => Limit | undefined;
  state?: MirrorState;
  /**
   * How long a recorded copy of a tag vouches for the target (ms): within it a re-sync asks only
   * the source whether the tag moved. 0 = ask the target every time. Digest-pinned and immutable
   * references are trusted without limit.
   */
  trustTargetMs?: number;
  /** Check every target, even where the state vouches for it (repairs targets changed behind our back). */
  verifyTargets?: boolean;
  now?: () => Date;
}

export function at(label: string, ref: string): string {
  return `${label}${ref.includes(':') ? '@' : ':'}${ref}`;
}

/** Foreign (non-distributable) layers live elsewhere by design; registries do not serve them. */
function isForeign(d: Descriptor): boolean {
  return !!d.urls?.length && /foreign|nondistributable/.test(d.mediaType);
}

export async function copyContent(
  manifest: ParsedManifest,
  req: CopyRequest,
  deps: CopyDeps,
  stats: TransferStats,
): Promise<void> {
  if (manifest.kind !== 'manifest') return;
  const blobs = [manifest.config, ...manifest.layers].filter((d) => !isForeign(d));
  req.progress?.planned(blobs.reduce((sum, d) => sum + (d.size > 0 ? d.size : 0), 0));
  const blobDeps = {
    ledger: deps.ledger,
    limit: deps.blobLimit,
    registryLimit: deps.registryLimit,
    logger: deps.logger,
    ...(req.progress ? { progress: req.progress } : {}),
  };
  await Promise.all(blobs.map((d) => copyBlob(d, req.source, req.target, blobDeps, stats)));
}

/** Copies a manifest by digest with everything below it (nested indexes included). */
export async function copyTree(
  digest: string,
  req: CopyRequest,
  deps: CopyDeps,
  stats: TransferStats,
  child: boolean,
): Promise<void> {
  // A registry only accepts a manifest once everything below it is there: present means complete.
  if (await req.target.resolve(digest)) return;
  const raw = await req.source.getManifest(digest);
  const parsed = parseManifest(raw, at(req.source.label, digest));
  if (parsed.kind === 'index') {
    await Promise.all(parsed.manifests.map((m) => copyTree(m.digest, req, deps, stats, true)));
  } else {
    await copyContent(parsed, req, deps, stats);
  }
  await req.target.putManifest(digest, raw, { child });
}
