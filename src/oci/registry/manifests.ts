import { createHash } from '../../core/lazy-crypto.js';
import { AirlockError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { header, readBuffer, type HttpResponse } from '../../http/client.js';
import { MAX_MANIFEST_BYTES, parseManifest, verifyManifestDigest, type RawManifest } from '../manifest.js';
import { MANIFEST_ACCEPT, MT } from '../media-types.js';
import { call, fail, pathReference, pullScope, pushScope, refName, type RegistryContext } from './request.js';
import type { ManifestHead, PutManifestResult, Repo } from './types.js';

function manifestRequest(
  ctx: RegistryContext,
  method: 'GET' | 'HEAD',
  repo: Repo,
  reference: string,
  artifact: string,
): Promise<HttpResponse> {
  return call(ctx, repo, [pullScope(repo)], {
    method,
    path: `/v2/${repo.repository}/manifests/${pathReference(reference, artifact)}`,
    headers: { accept: MANIFEST_ACCEPT },
    artifact,
  });
}

export async function headManifest(ctx: RegistryContext, repo: Repo, reference: string): Promise<ManifestHead | null> {
  const artifact = refName(repo, reference);
  const res = await manifestRequest(ctx, 'HEAD', repo, reference, artifact);
  if (res.statusCode === 404) {
    await res.body.dump();
    return null;
  }
  if (res.statusCode !== 200) return fail(res, 'manifest HEAD failed', artifact);
  await res.body.dump();
  const digest = header(res, 'docker-content-digest');
  if (digest) checkName('digest', digest, { field: 'Docker-Content-Digest', artifact });
  const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
  if (!digest) {
    // Some registries omit the digest on HEAD; only then is a GET needed.
    const raw = await getManifest(ctx, repo, reference);
    return { digest: raw.digest, mediaType: raw.mediaType, size: raw.bytes.length };
  }
  return { digest, mediaType, size: Number(header(res, 'content-length') ?? 0) };
}

export async function getManifest(ctx: RegistryContext, repo: Repo, reference: string): Promise<RawManifest> {
  const artifact = refName(repo, reference);
  const res = await manifestRequest(ctx, 'GET', repo, reference, artifact);
  if (res.statusCode === 404) {
    await res.body.dump();
    throw new AirlockError(
      'E_NOT_FOUND',
      `manifest unknown: ${reference} is not in ${repo.registry}/${repo.repository}`,
      { artifact, status: 404 },
    );
  }
  if (res.statusCode !== 200) return fail(res, 'manifest GET failed', artifact);
  const bytes = await readBuffer(res, MAX_MANIFEST_BYTES, artifact);
  const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
  const announced = header(res, 'docker-content-digest');
  const expected = reference.includes(':') ? reference : announced;
  if (expected)
    checkName('digest', expected, {
      field: reference.includes(':') ? 'manifest digest' : 'Docker-Content-Digest',
      artifact,
    });
  const algorithm = expected?.split(':')[0] ?? 'sha256';
  const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  const raw: RawManifest = { bytes, mediaType, digest };
  // Schema1 is refused with its own message before a digest check that it would fail anyway.
  const parsed = parseManifest(raw, artifact);
  verifyManifestDigest(raw, expected, artifact);
  // The type travels with the bytes: the body's own mediaType (or its shape), not a proxy's
  // generic Content-Type, is what a target must be told on push.
  return { ...raw, mediaType: parsed.mediaType };
}

export async function putManifest(
  ctx: RegistryContext,
  repo: Repo,
  reference: string,
  manifest: RawManifest,
): Promise<PutManifestResult> {
  const artifact = refName(repo, reference);
  const res = await call(ctx, repo, [pushScope(repo)], {
    method: 'PUT',
    path: `/v2/${repo.repository}/manifests/${pathReference(reference, artifact)}`,
    headers: { 'content-type': manifest.mediaType || MT.ociManifest },
    body: manifest.bytes,
    artifact,
  });
  if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) {
    return fail(res, `pushing manifest ${manifest.digest} failed`, artifact);
  }
  await res.body.dump();
  return { digest: header(res, 'docker-content-digest'), subjectIndexed: !!header(res, 'oci-subject') };
}
