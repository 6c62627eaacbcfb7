/**
 * Blob upload (OCI distribution spec, "Pushing blobs"), and how it survives what networks and
 * registries do to it:
 *
 * - `POST /v2/<name>/blobs/uploads/` opens a session (202 + Location); a mount that the registry
 *   declined has already opened one, which is used instead.
 * - Monolithic: one streamed `PUT <location>?digest=…` of the whole blob, verified as it streams.
 *   When it breaks, the session is cancelled (DELETE) and the blob goes again in chunks.
 * - Chunked (the endpoint's `chunkSize`, or the registry's `OCI-Chunk-Min-Length`): `PATCH`es of
 *   bounded in-memory chunks with `Content-Range`, then `PUT <location>?digest=…` with no body.
 *   A PATCH that fails asks the registry where the session stands (`GET <location>`, `Range: 0-N`)
 *   and re-sends from there, never from the start. A session the registry lost (404 on PATCH, a
 *   failed status GET, an offset outside the chunk) starts the whole blob again in a new session.
 * - A source stream that breaks is re-opened at the byte where it broke.
 * - Bytes whose digest or length differ from the descriptor are never committed.
 */
import { createHash } from '../../core/lazy-crypto.js';
import { AirlockError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { errorFromResponse, header, type HttpResponse } from '../../http/client.js';
import type { Descriptor } from '../manifest.js';
import { createVerifyingStream } from '../verify-stream.js';
import { call, fail, pushScope, refName, resolveLocation, type RegistryContext } from './request.js';
import type { OpenSource, Repo, UploadOptions } from './types.js';

const MIN_CHUNK = 5 * 1024 * 1024;
const DEFAULT_CHUNK = 16 * 1024 * 1024;
const CHUNK_ATTEMPTS = 5;
const SOURCE_REOPENS = 3;
const SESSION_RESTARTS = 2;

/** The registry cannot continue an upload session; the original failure is kept as the cause. */
class SessionLost extends Error {
  constructor(
    override readonly cause: unknown,
    readonly statusError: unknown,
  ) {
    super('upload session lost');
  }
}

/** Monolithic first, unless the endpoint or the registry asks for chunks; chunks when that breaks. */
export async function uploadBlob(
  ctx: RegistryContext,
  repo: Repo,
  desc: Descriptor,
  open: OpenSource,
  options: UploadOptions = {},
): Promise<void> {
  const artifact = refName(repo, desc.digest);
  const chunkSize = ctx.endpoint(repo.registry).chunkSize;
  if (chunkSize > 0 && desc.size > chunkSize) {
    await chunked(ctx, repo, desc, open, chunkSize, artifact, options.onProgress, options.location);
    return;
  }
  const session = options.location
    ? { location: options.location, minChunk: 0 }
    : await startUpload(ctx, repo, artifact);
  if (session.minChunk > 0 && desc.size > session.minChunk) {
    await chunked(ctx, repo, desc, open, session.minChunk, artifact, options.onProgress, session.location);
    return;
  }
  let progressed = 0;
  try {
    await monolithic(ctx, repo, desc, session.location, open, artifact, (n) => {
      progressed += n;
      options.onProgress?.(n);
    });
  } catch (e) {
    await cancelUpload(ctx, repo, session.location, artifact);
    if (e instanceof AirlockError && e.permanent) throw e;
    ctx.logger.warn({ artifact, err: e }, 'monolithic upload failed, retrying in chunks');
    options.onProgress?.(-progressed);
    await chunked(ctx, repo, desc, open, chunkSize, artifact, options.onProgress);
  }
}

async function startUpload(
  ctx: RegistryContext,
  repo: Repo,
  artifact: string,
): Promise<{ location: string; minChunk: number }> {
  const res = await call(ctx, repo, [pushScope(repo)], {
    method: 'POST',
    path: `/v2/${repo.repository}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    artifact,
  });
  if (res.statusCode !== 202) return fail(res, 'starting blob upload failed', artifact);
  await res.body.dump();
  const minChunk = Number(header(res, 'oci-chunk-min-length') ?? 0) || 0;
  return { location: resolveLocation(ctx, repo, header(res, 'location'), artifact), minChunk };
}

async function cancelUpload(ctx: RegistryContext, repo: Repo, location: string, artifact: string): Promise<void> {
  try {
    const res = await call(ctx, repo, [pushScope(repo)], { method: 'DELETE', url: location, artifact });
    await res.body.dump();
  } catch {
    // The registry garbage-collects abandoned uploads; a failed cancel changes nothing for the user.
  }
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

async function monolithic(
  ctx: RegistryContext,
  repo: Repo,
  desc: Descriptor,
  location: string,
  open: OpenSource,
  artifact: string,
  onProgress?: (n: number) => void,
): Promise<void> {
  const source = await open(0);
  const verifier = createVerifyingStream(desc, artifact, onProgress);
  source.on('error', (e) => verifier.destroy(e));
  const body = source.pipe(verifier);
  let res: HttpResponse;
  try {
    res = await call(ctx, repo, [pushScope(repo)], {
      method: 'PUT',
      url: withDigest(location, desc.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body,
      replayable: false,
      artifact,
      kind: 'blob',
      size: desc.size,
    });
  } catch (e) {
    source.destroy();
    if (verifier.failure) throw verifier.failure;
    throw e;
  }
  if (verifier.failure) {
    source.destroy();
    await res.body.dump().catch(() => undefined);
    throw verifier.failure;
  }
  if (res.statusCode !== 201 && res.statusCode !== 204) {
    // The registry had every declared byte and refused them (400 DIGEST_INVALID) before the source
    // ended: so did our hash. Its verdict is about the source, and final; the bytes are not read
    // again in chunks only to be refused there.
    const failure = verifier.verdict();
    source.destroy();
    if (failure) {
      await res.body.dump().catch(() => undefined);
      throw failure;
    }
    return fail(res, `uploading blob ${desc.digest} failed`, artifact);
  }
  await res.body.dump();
}

/** The registry's view of how many bytes an upload session holds (`Range: 0-<last>`). */
async function uploadOffset(
  ctx: RegistryContext,
  repo: Repo,
  location: string,
  artifact: string,
): Promise<{ offset: number; location: string }> {
  const res = await call(ctx, repo, [pushScope(repo)], { method: 'GET', url: location, artifact });
  if (res.statusCode !== 204 && res.statusCode !== 200) return fail(res, 'reading upload status failed', artifact);
  await res.body.dump();
  const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
  const next = header(res, 'location');
  // distribution sends "0-0" for an empty session as well as for one byte; empty is the safe reading
  // (re-sending a byte the registry has gets a 416 and another status check).
  const last = range ? Number(range[1]) : -1;
  return {
    offset: last > 0 ? last + 1 : 0,
    location: next ? resolveLocation(ctx, repo, next, artifact) : location,
  };
}

/**
 * Chunked upload from bounded in-memory chunks. A chunk that fails is re-sent from the offset the
 * registry reports (GET on the session), never from the start; a source stream that breaks is
 * re-opened at the byte where it broke. Registries that cannot report the offset of a session a
 * broken request wrote into (distribution 2.8 answers BLOB_UPLOAD_INVALID) get a fresh session.
 */
async function chunked(
  ctx: RegistryContext,
  repo: Repo,
  desc: Descriptor,
  open: OpenSource,
  chunkSize: number,
  artifact: string,
  onProgress?: (n: number) => void,
  given?: string,
): Promise<void> {
  let session = given;
  for (let restart = 0; ; restart++) {
    let sent = 0;
    try {
      await chunkedOnce(
        ctx,
        repo,
        desc,
        open,
        chunkSize,
        artifact,
        (n) => {
          sent += n;
          onProgress?.(n);
        },
        session,
      );
      return;
    } catch (e) {
      if (!(e instanceof SessionLost) || restart >= SESSION_RESTARTS) throw e instanceof SessionLost ? e.cause : e;
      ctx.logger.warn({ artifact, restart: restart + 1 }, 'registry lost the upload session, starting the blob again');
      onProgress?.(-sent);
      session = undefined;
    }
  }
}

/** One session's worth of chunks; throws SessionLost when only a new session can go on. */
async function chunkedOnce(
  ctx: RegistryContext,
  repo: Repo,
  desc: Descriptor,
  open: OpenSource,
  chunkSize: number,
  artifact: string,
  onProgress: (n: number) => void,
  given?: string,
): Promise<void> {
  let { location, minChunk } = given ? { location: given, minChunk: 0 } : await startUpload(ctx, repo, artifact);
  const size = Math.max(chunkSize || DEFAULT_CHUNK, minChunk, MIN_CHUNK);
  const algorithm = desc.digest.split(':')[0] ?? 'sha256';
  const hash = createHash(algorithm);
  let offset = 0;
  try {
    for await (const chunk of readChunks(open, desc.size, size, artifact, ctx.logger)) {
      hash.update(chunk);
      let sent = 0;
      for (let attempt = 1; sent < chunk.length; attempt++) {
        const part = chunk.subarray(sent);
        const start = offset + sent;
        try {
          const res = await call(ctx, repo, [pushScope(repo)], {
            method: 'PATCH',
            url: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(part.length),
              'content-range': `${start}-${start + part.length - 1}`,
            },
            body: part,
            replayable: false,
            artifact,
            kind: 'blob',
            size: part.length,
          });
          if (res.statusCode !== 202 && res.statusCode !== 204) {
            if (res.statusCode === 416 || res.statusCode >= 500)
              throw await errorFromResponse(res, 'chunk upload failed', artifact);
            // BLOB_UPLOAD_UNKNOWN/INVALID: the session is gone, not the blob; start a new one.
            if (res.statusCode === 404)
              throw new SessionLost(
                await errorFromResponse(res, `uploading chunk at ${start} failed`, artifact),
                undefined,
              );
            return await fail(res, `uploading chunk at ${start} failed`, artifact);
          }
          await res.body.dump();
          location = resolveLocation(ctx, repo, header(res, 'location') ?? location, artifact);
          sent = chunk.length;
        } catch (e) {
          if (e instanceof SessionLost || (e instanceof AirlockError && e.permanent)) throw e;
          if (attempt >= CHUNK_ATTEMPTS) throw e;
          let status: { offset: number; location: string };
          try {
            status = await uploadOffset(ctx, repo, location, artifact);
          } catch (statusError) {
            throw new SessionLost(e, statusError);
          }
          location = status.location;
          if (status.offset < offset || status.offset > offset + chunk.length) throw new SessionLost(e, undefined);
          ctx.logger.warn(
            { artifact, offset: status.offset, attempt },
            'chunk upload interrupted, resuming from the registry offset',
          );
          sent = status.offset - offset;
        }
      }
      offset += chunk.length;
      onProgress(chunk.length);
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== desc.digest || offset !== desc.size) {
      throw new AirlockError(
        'E_DIGEST_MISMATCH',
        `blob digest mismatch from the source: expected ${desc.digest}, got ${actual}`,
        { artifact },
      );
    }
    const res = await call(ctx, repo, [pushScope(repo)], {
      method: 'PUT',
      url: withDigest(location, desc.digest),
      headers: { 'content-length': '0' },
      artifact,
    });
    if (res.statusCode !== 201 && res.statusCode !== 204)
      return await fail(res, `completing upload of ${desc.digest} failed`, artifact);
    await res.body.dump();
  } catch (e) {
    await cancelUpload(ctx, repo, location, artifact);
    throw e;
  }
}

/** The source in chunks of `size` bytes (the last one shorter), re-opened at the byte where it broke. */
async function* readChunks(
  open: OpenSource,
  total: number,
  size: number,
  artifact: string,
  logger: Logger,
): AsyncGenerator<Buffer> {
  let consumed = 0;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let reopens = 0;
  while (consumed < total || (total === 0 && consumed === 0 && reopens === 0)) {
    const source = await open(consumed);
    try {
      for await (const piece of source) {
        const b = piece as Buffer;
        consumed += b.length;
        if (consumed > total) {
          throw new AirlockError(
            'E_DIGEST_MISMATCH',
            `blob is longer than the ${total} bytes its descriptor declares`,
            { artifact },
          );
        }
        pending.push(b);
        pendingLength += b.length;
        while (pendingLength >= size) {
          const all = Buffer.concat(pending, pendingLength);
          yield all.subarray(0, size);
          const rest = all.subarray(size);
          pending = rest.length > 0 ? [rest] : [];
          pendingLength = rest.length;
        }
      }
      if (total === 0) break;
      if (consumed < total) throw new Error(`source ended after ${consumed} of ${total} bytes`);
    } catch (e) {
      source.destroy();
      if (e instanceof AirlockError) throw e;
      reopens += 1;
      if (reopens > SOURCE_REOPENS) {
        throw new AirlockError('E_DIGEST_MISMATCH', `source blob ended after ${consumed} of ${total} bytes`, {
          artifact,
          cause: e,
        });
      }
      logger.warn({ artifact, consumed, reopens }, 'source stream broke, re-opening at the same offset');
    }
  }
  if (pendingLength > 0) yield Buffer.concat(pending, pendingLength);
}
