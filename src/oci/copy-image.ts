import { AirlockError, toAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CopyProgress } from '../progress.js';
import type { MirrorState } from '../state/mirror-state.js';
import { copyBlob, emptyStats, type BlobLedger, type Limit, type TransferStats } from './blob-copy.js';
import type { ImageEndpoint } from './image-endpoint.js';
import type { ManifestHead } from './registry-client.js';
import { formatPlatform, parseManifest, platformMatches, sha256Digest, type Descriptor, type ImageIndex, type ParsedManifest, type RawManifest } from './manifest.js';
import { copyReferrers } from './referrers.js';

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

export interface CopyResult {
  source: string;
  target: string;
  status: 'copied' | 'unchanged' | 'planned';
  sourceDigest: string;
  /** What the target holds: for `planned` (a dry run) its digest now, empty when it has nothing. */
  targetDigest: string;
  /** `unchanged` on the mirror state's word alone: the target was not asked (`--verify-targets` asks it). */
  trusted?: boolean;
  manifests: number;
  referrers: number;
  warnings: string[];
  stats: TransferStats;
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

function at(label: string, ref: string): string {
  return `${label}${ref.includes(':') ? '@' : ':'}${ref}`;
}

export function stateKey(req: CopyRequest): string {
  const platforms = req.platforms?.length ? `#${[...req.platforms].sort().join(',')}` : '';
  return `${at(req.source.label, req.sourceRef)} -> ${req.target.label}${req.targetTag ? `:${req.targetTag}` : ''}${platforms}`;
}

/** Foreign (non-distributable) layers live elsewhere by design; registries do not serve them. */
function isForeign(d: Descriptor): boolean {
  return !!d.urls?.length && /foreign|nondistributable/.test(d.mediaType);
}

/**
 * Copies one image (a manifest or an index with its children) with its bytes unchanged, so the
 * digest at the target equals the source's. Children and blobs go first and the tag last: a copy
 * that fails half-way leaves no tag pointing at missing content.
 */
export async function copyImage(req: CopyRequest, deps: CopyDeps): Promise<CopyResult> {
  const sourceName = at(req.source.label, req.sourceRef);
  const targetName = req.targetTag ? at(req.target.label, req.targetTag) : req.target.label;
  const stats = emptyStats();
  const warnings: string[] = [];
  const result = (status: CopyResult['status'], sourceDigest: string, targetDigest: string, manifests = 0, referrers = 0): CopyResult => ({
    source: sourceName,
    target: targetName,
    status,
    sourceDigest,
    targetDigest,
    manifests,
    referrers,
    warnings,
    stats,
  });

  try {
    const key = stateKey(req);
    const pinned = req.sourceRef.includes(':') || req.immutable === true;
    const remembered = deps.state ? await deps.state.get(key) : undefined;
    const now = () => deps.now?.() ?? new Date();
    const trust = deps.trustTargetMs ?? 0;
    const recent = !!remembered && now().getTime() - Date.parse(remembered.at) < trust;
    const vouched = !!remembered && !req.referrers && !deps.verifyTargets;
    // A local layout is checked for the cost of reading a file: the record's word is not taken for
    // it, so a layout removed or emptied since is copied again.
    if (pinned && vouched && req.target.local) {
      const there = await req.target.resolve(req.targetTag ?? remembered.targetDigest);
      if (there?.digest === remembered.targetDigest) return result('unchanged', remembered.sourceDigest, remembered.targetDigest);
    } else if (pinned && vouched) {
      return { ...result('unchanged', remembered.sourceDigest, remembered.targetDigest), trusted: true };
    }
    // A recent record vouches for the target: only the source is asked whether the tag moved.
    let asked: ManifestHead | null | undefined;
    if (vouched && recent && !req.target.local) {
      asked = await req.source.resolve(req.sourceRef);
      if (asked?.digest === remembered.sourceDigest) return { ...result('unchanged', remembered.sourceDigest, remembered.targetDigest), trusted: true };
    }

    // With a target tag both HEADs go out at once: a no-op re-sync costs one round trip.
    const [head, tagged] = await Promise.all([
      asked === undefined ? req.source.resolve(req.sourceRef) : Promise.resolve(asked),
      req.targetTag ? req.target.resolve(req.targetTag) : Promise.resolve(null),
    ]);
    if (!head) throw new AirlockError('E_NOT_FOUND', `manifest unknown: ${req.sourceRef} does not exist at the source`, { artifact: sourceName });
    const filtering = !!req.platforms?.length;
    // With platform filtering the target digest is our own index's; the state remembers it.
    const expectedTarget = filtering ? (remembered?.sourceDigest === head.digest ? remembered.targetDigest : undefined) : head.digest;
    const existing = req.targetTag ? tagged : expectedTarget ? await req.target.resolve(expectedTarget) : null;
    if (existing && existing.digest === expectedTarget) {
      let referrers = 0;
      if (req.referrers && !req.dryRun) referrers = await copyReferrers(req, head.digest, deps, stats);
      // Only a new fact is written: a new digest, or a target checked again once the record's word had run out.
      if (remembered?.sourceDigest !== head.digest || remembered.targetDigest !== expectedTarget || (trust > 0 && !recent)) {
        await deps.state?.set(key, { sourceDigest: head.digest, targetDigest: expectedTarget, at: now().toISOString() });
      }
      return result('unchanged', head.digest, expectedTarget, 0, referrers);
    }
    // A dry run reports what the target holds now (nothing, or another digest), not what it would hold.
    if (req.dryRun) return result('planned', head.digest, existing?.digest ?? '');

    const raw = await req.source.getManifest(head.digest);
    const parsed = parseManifest(raw, sourceName);
    let top: RawManifest = raw;
    let manifests = 1;
    if (parsed.kind === 'index') {
      const chosen = selectChildren(parsed, req, sourceName);
      await Promise.all(chosen.map((child) => copyTree(child.digest, req, deps, stats, true)));
      manifests += chosen.length;
      if (chosen.length !== parsed.manifests.length) {
        top = filteredIndex(raw, chosen);
        warnings.push(
          `platform filter kept ${chosen.length} of ${parsed.manifests.length} manifests: the target index digest ${top.digest} differs from the source ${raw.digest}`,
        );
        deps.logger.warn({ source: sourceName, sourceDigest: raw.digest, targetDigest: top.digest }, warnings[warnings.length - 1]);
      }
    } else {
      await copyContent(parsed, req, deps, stats);
    }
    await req.target.putManifest(req.targetTag ?? top.digest, top);

    let referrers = 0;
    if (req.referrers) {
      referrers = await copyReferrers(req, raw.digest, deps, stats);
      if (top.digest !== raw.digest && referrers > 0) {
        warnings.push(`referrers of the source index ${raw.digest} were copied, but the target tag points at the filtered index ${top.digest}: signatures of the index will not verify against it`);
      }
    }
    await deps.state?.set(key, { sourceDigest: raw.digest, targetDigest: top.digest, at: now().toISOString() });
    return result('copied', raw.digest, top.digest, manifests, referrers);
  } catch (e) {
    throw toAirlockError(e, sourceName);
  }
}

function selectChildren(index: ImageIndex, req: CopyRequest, artifact: string): Descriptor[] {
  if (!req.platforms?.length) return index.manifests;
  if (req.digestExact) {
    throw new AirlockError(
      'E_PLATFORM',
      'platform filtering would change the index digest, and a digest-exact copy was asked for; drop --platform or --digest-exact',
      { artifact },
    );
  }
  const chosen = index.manifests.filter((m) => req.platforms?.some((f) => platformMatches(m.platform, f)));
  if (chosen.length === 0) {
    const available = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
    throw new AirlockError('E_PLATFORM', `no manifest for ${req.platforms.join(', ')} (index has: ${available || 'none'})`, { artifact });
  }
  return chosen;
}

/** A new index with only the chosen children; the only place airlock writes manifest JSON itself. */
function filteredIndex(raw: RawManifest, chosen: Descriptor[]): RawManifest {
  const body = JSON.parse(raw.bytes.toString('utf8')) as Record<string, unknown>;
  body.manifests = chosen;
  const bytes = Buffer.from(JSON.stringify(body, null, 2));
  return { bytes, mediaType: raw.mediaType, digest: sha256Digest(bytes) };
}

async function copyContent(manifest: ParsedManifest, req: CopyRequest, deps: CopyDeps, stats: TransferStats): Promise<void> {
  if (manifest.kind !== 'manifest') return;
  const blobs = [manifest.config, ...manifest.layers].filter((d) => !isForeign(d));
  req.progress?.planned(blobs.reduce((sum, d) => sum + (d.size > 0 ? d.size : 0), 0));
  const blobDeps = { ledger: deps.ledger, limit: deps.blobLimit, registryLimit: deps.registryLimit, logger: deps.logger, ...(req.progress ? { progress: req.progress } : {}) };
  await Promise.all(blobs.map((d) => copyBlob(d, req.source, req.target, blobDeps, stats)));
}

/** Copies a manifest by digest with everything below it (nested indexes included). */
export async function copyTree(digest: string, req: CopyRequest, deps: CopyDeps, stats: TransferStats, child: boolean): Promise<void> {
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
