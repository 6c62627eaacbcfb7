import { AirlockError, toAirlockError } from '../core/errors.js';
import { emptyStats, type TransferStats } from './blob-copy.js';
import type { ManifestHead } from './registry/types.js';
import {
  formatPlatform,
  parseManifest,
  platformMatches,
  sha256Digest,
  type Descriptor,
  type ImageIndex,
  type RawManifest,
} from './manifest.js';
import { copyReferrers } from './referrers.js';
import { at, copyContent, copyTree, type CopyDeps, type CopyRequest } from './copy-tree.js';
import type { ItemStatus } from '../model/report.js';

export type { CopyDeps, CopyRequest };

export interface CopyResult {
  source: string;
  target: string;
  status: Exclude<ItemStatus, 'failed'>;
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

export function stateKey(req: CopyRequest): string {
  const platforms = req.platforms?.length ? `#${[...req.platforms].sort().join(',')}` : '';
  return `${at(req.source.label, req.sourceRef)} -> ${req.target.label}${req.targetTag ? `:${req.targetTag}` : ''}${platforms}`;
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
  const result = (
    status: CopyResult['status'],
    sourceDigest: string,
    targetDigest: string,
    manifests = 0,
    referrers = 0,
  ): CopyResult => ({
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
      if (there?.digest === remembered.targetDigest)
        return result('unchanged', remembered.sourceDigest, remembered.targetDigest);
    } else if (pinned && vouched) {
      return { ...result('unchanged', remembered.sourceDigest, remembered.targetDigest), trusted: true };
    }
    // A recent record vouches for the target: only the source is asked whether the tag moved.
    let asked: ManifestHead | null | undefined;
    if (vouched && recent && !req.target.local) {
      asked = await req.source.resolve(req.sourceRef);
      if (asked?.digest === remembered.sourceDigest)
        return { ...result('unchanged', remembered.sourceDigest, remembered.targetDigest), trusted: true };
    }

    // With a target tag both HEADs go out at once: a no-op re-sync costs one round trip.
    const [head, tagged] = await Promise.all([
      asked === undefined ? req.source.resolve(req.sourceRef) : Promise.resolve(asked),
      req.targetTag ? req.target.resolve(req.targetTag) : Promise.resolve(null),
    ]);
    if (!head)
      throw new AirlockError('E_NOT_FOUND', `manifest unknown: ${req.sourceRef} does not exist at the source`, {
        artifact: sourceName,
      });
    const filtering = !!req.platforms?.length;
    // With platform filtering the target digest is our own index's; the state remembers it.
    const expectedTarget = filtering
      ? remembered?.sourceDigest === head.digest
        ? remembered.targetDigest
        : undefined
      : head.digest;
    const existing = req.targetTag ? tagged : expectedTarget ? await req.target.resolve(expectedTarget) : null;
    if (existing && existing.digest === expectedTarget) {
      let referrers = 0;
      if (req.referrers && !req.dryRun) referrers = await copyReferrers(req, head.digest, deps, stats);
      // Only a new fact is written: a new digest, or a target checked again once the record's word had run out.
      if (
        remembered?.sourceDigest !== head.digest ||
        remembered.targetDigest !== expectedTarget ||
        (trust > 0 && !recent)
      ) {
        await deps.state?.set(key, {
          sourceDigest: head.digest,
          targetDigest: expectedTarget,
          at: now().toISOString(),
        });
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
        deps.logger.warn(
          { source: sourceName, sourceDigest: raw.digest, targetDigest: top.digest },
          warnings[warnings.length - 1],
        );
      }
    } else {
      await copyContent(parsed, req, deps, stats);
    }
    await req.target.putManifest(req.targetTag ?? top.digest, top);

    let referrers = 0;
    if (req.referrers) {
      referrers = await copyReferrers(req, raw.digest, deps, stats);
      if (top.digest !== raw.digest && referrers > 0) {
        warnings.push(
          `referrers of the source index ${raw.digest} were copied, but the target tag points at the filtered index ${top.digest}: signatures of the index will not verify against it`,
        );
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
    throw new AirlockError(
      'E_PLATFORM',
      `no manifest for ${req.platforms.join(', ')} (index has: ${available || 'none'})`,
      { artifact },
    );
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
