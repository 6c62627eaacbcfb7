import type { Logger } from '../core/log.js';
import type { CopyProgress } from '../model/progress.js';
import type { ImageEndpoint } from './image-endpoint.js';
import type { Descriptor } from './manifest.js';

export type BlobOutcome = 'skipped' | 'mounted' | 'copied';

export interface TransferStats {
  blobsCopied: number;
  blobsSkipped: number;
  blobsMounted: number;
  bytes: number;
}

export function emptyStats(): TransferStats {
  return { blobsCopied: 0, blobsSkipped: 0, blobsMounted: 0, bytes: 0 };
}

/**
 * What a run knows about blobs at targets: which repository of a registry already holds a digest
 * (so another repository can mount it), and which copies are under way (so two images sharing a
 * layer upload it once).
 */
export interface BlobLedger {
  holder(registry: string, digest: string): string | undefined;
  remember(registry: string, digest: string, repository: string): void;
  inflight: Map<string, Promise<BlobOutcome>>;
}

export function createBlobLedger(): BlobLedger {
  const holders = new Map<string, string>();
  return {
    holder: (registry, digest) => holders.get(`${registry}|${digest}`),
    remember: (registry, digest, repository) => {
      holders.set(`${registry}|${digest}`, repository);
    },
    inflight: new Map(),
  };
}

export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

export interface BlobCopyDeps {
  ledger: BlobLedger;
  limit: Limit;
  /** Per-registry limits (source and target), taken before the global one so a task waiting for its registry holds no global slot. */
  registryLimit?: (registry: string) => Limit | undefined;
  logger: Logger;
  /** The image's progress: bytes as they move, and blobs that need not. */
  progress?: CopyProgress;
}

const sizeOf = (desc: Descriptor) => (desc.size > 0 ? desc.size : 0);

/**
 * Copies one blob unless the target has it: HEAD first, then a cross-repository mount when a
 * repository of the same registry is known to hold it, then a streamed, verified upload.
 */
export async function copyBlob(
  desc: Descriptor,
  source: ImageEndpoint,
  target: ImageEndpoint,
  deps: BlobCopyDeps,
  stats: TransferStats,
): Promise<BlobOutcome> {
  const key = `${target.label}|${desc.digest}`;
  const running = deps.ledger.inflight.get(key);
  if (running) {
    // Another image's copy carries these bytes: they count once, there.
    deps.progress?.skipped(sizeOf(desc));
    await running;
    stats.blobsSkipped += 1;
    return 'skipped';
  }
  // Both ends' limits, always taken in name order: two copies in opposite directions cannot each hold one and wait for the other.
  const registries = [
    ...new Set([source.repo?.registry, target.repo?.registry].filter((r): r is string => !!r)),
  ].sort();
  const limits = registries.map((r) => deps.registryLimit?.(r)).filter((l): l is Limit => !!l);
  const run = limits.reduceRight<() => Promise<BlobOutcome>>(
    (inner, limit) => () => limit(inner),
    () => deps.limit(() => transfer(desc, source, target, deps, stats)),
  );
  const work = run();
  deps.ledger.inflight.set(key, work);
  try {
    const outcome = await work;
    if (target.repo) deps.ledger.remember(target.repo.registry, desc.digest, target.repo.repository);
    return outcome;
  } finally {
    deps.ledger.inflight.delete(key);
  }
}

async function transfer(
  desc: Descriptor,
  source: ImageEndpoint,
  target: ImageEndpoint,
  deps: BlobCopyDeps,
  stats: TransferStats,
): Promise<BlobOutcome> {
  if (await target.hasBlob(desc)) {
    stats.blobsSkipped += 1;
    deps.progress?.skipped(sizeOf(desc));
    return 'skipped';
  }
  let location: string | undefined;
  if (target.repo && target.mountBlob) {
    const known = deps.ledger.holder(target.repo.registry, desc.digest);
    const from = known ?? (source.repo?.registry === target.repo.registry ? source.repo.repository : undefined);
    if (from && from !== target.repo.repository) {
      const r = await target.mountBlob(desc, from);
      if (r.mounted) {
        stats.blobsMounted += 1;
        deps.progress?.skipped(sizeOf(desc));
        return 'mounted';
      }
      location = r.location;
    }
  }
  await target.putBlob(desc, (offset) => source.openBlob(desc, offset), {
    ...(location ? { location } : {}),
    onProgress: (n) => {
      stats.bytes += n;
      deps.progress?.moved(n);
    },
  });
  stats.blobsCopied += 1;
  return 'copied';
}
