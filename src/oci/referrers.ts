import type { TransferStats } from './blob-copy.js';
import { copyTree, type CopyDeps, type CopyRequest } from './copy-tree.js';
import type { ImageEndpoint } from './image-endpoint.js';
import { MT } from './media-types.js';
import { parseManifest, sha256Digest, type Descriptor, type RawManifest } from './manifest.js';

/**
 * The referrers tag schema: `<alg>-<hex>` holds an index of the manifests that refer to a digest.
 * The distribution spec truncates the algorithm to 32 and the hex to 64 characters, which keeps a
 * sha512 subject's tag within the tag grammar's 128.
 */
export function referrersTag(digest: string): string {
  const [alg = '', hex = ''] = digest.split(':');
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`;
}

/** cosign's own scheme: signatures, attestations and SBOMs under `sha256-<hex>.sig|.att|.sbom`. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

async function readFallbackIndex(endpoint: ImageEndpoint, digest: string): Promise<Descriptor[]> {
  const tag = referrersTag(digest);
  const head = await endpoint.resolve(tag);
  if (!head) return [];
  const raw = await endpoint.getManifest(head.digest);
  const parsed = parseManifest(raw, `${endpoint.label}:${tag}`);
  return parsed.kind === 'index' ? parsed.manifests : [];
}

/** Referrers via the API when the registry has one, else via the fallback tag. */
export async function listReferrers(endpoint: ImageEndpoint, digest: string): Promise<Descriptor[]> {
  const viaApi = await endpoint.referrers(digest);
  return viaApi ?? readFallbackIndex(endpoint, digest);
}

/** Adds descriptors to the target's fallback tag index (written after the referrers themselves). */
async function updateFallbackIndex(target: ImageEndpoint, digest: string, added: Descriptor[]): Promise<void> {
  const current = await readFallbackIndex(target, digest);
  const merged = [...current];
  for (const d of added) if (!merged.some((m) => m.digest === d.digest)) merged.push(d);
  if (merged.length === current.length) return;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: merged }));
  const raw: RawManifest = { bytes, mediaType: MT.ociIndex, digest: sha256Digest(bytes) };
  await target.putManifest(referrersTag(digest), raw);
}

/**
 * Copies signatures, attestations and other artifacts that refer to `digest`: the referrers API
 * or its fallback tag at the source, and cosign's tag scheme. On a target without a referrers API
 * the fallback tag index is maintained so clients there still find them.
 */
export async function copyReferrers(
  req: CopyRequest,
  digest: string,
  deps: CopyDeps,
  stats: TransferStats,
): Promise<number> {
  const found = await listReferrers(req.source, digest);
  let copied = 0;
  for (const d of found) {
    await copyTree(d.digest, req, deps, stats, false);
    copied += 1;
  }
  // A target with a referrers API indexes them itself; otherwise clients look for the fallback tag.
  if (found.length > 0 && (await req.target.referrers(digest)) === null)
    await updateFallbackIndex(req.target, digest, found);

  for (const suffix of COSIGN_SUFFIXES) {
    const tag = `${referrersTag(digest)}.${suffix}`;
    const head = await req.source.resolve(tag);
    if (!head) continue;
    const existing = await req.target.resolve(tag);
    if (existing?.digest === head.digest) continue;
    await copyTree(head.digest, req, deps, stats, false);
    const raw = await req.source.getManifest(head.digest);
    await req.target.putManifest(tag, raw);
    copied += 1;
  }
  if (copied > 0) deps.logger.info({ image: req.source.label, digest, referrers: copied }, 'copied referrers');
  return copied;
}
