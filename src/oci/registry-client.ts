import { createHash } from '../core/lazy-crypto.js';
import { Readable } from 'node:stream';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Authenticator } from './auth.js';
import { errorFromResponse, header, readBuffer, type HttpRequest, type HttpResponse, type Send } from '../http/client.js';
import { MANIFEST_ACCEPT, MT } from './media-types.js';
import type { Transport } from '../http/transport.js';
import { checkDescriptor, MAX_MANIFEST_BYTES, parseManifest, verifyManifestDigest, type Descriptor, type RawManifest } from './manifest.js';
import { checkName } from '../core/names.js';
import { createVerifyingStream } from './verify-stream.js';

/** How to reach one registry. */
export interface RegistryEndpoint {
  /** e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  baseUrl: string;
  transport: Transport;
  /** Upload in chunks of this size instead of one streamed PUT (0 = monolithic first). */
  chunkSize: number;
}

export interface Repo {
  registry: string;
  repository: string;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PutManifestResult {
  digest: string | undefined;
  /** The registry answered with `OCI-Subject`: it indexes referrers itself. */
  subjectIndexed: boolean;
}

export type OpenSource = (offset: number) => Promise<Readable>;

export interface UploadOptions {
  /** An upload session already opened (by a mount attempt that answered 202). */
  location?: string;
  onProgress?: (bytes: number) => void;
}

export interface RegistryClient {
  headManifest(repo: Repo, reference: string): Promise<ManifestHead | null>;
  getManifest(repo: Repo, reference: string): Promise<RawManifest>;
  putManifest(repo: Repo, reference: string, manifest: RawManifest): Promise<PutManifestResult>;
  hasBlob(repo: Repo, digest: string): Promise<boolean>;
  openBlob(repo: Repo, desc: Descriptor, offset?: number): Promise<Readable>;
  /** Mount from another repository of the same registry; returns an upload location when the registry declined. */
  mountBlob(repo: Repo, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location?: string }>;
  uploadBlob(repo: Repo, desc: Descriptor, open: OpenSource, options?: UploadOptions): Promise<void>;
  listTags(repo: Repo): Promise<string[]>;
  /** Referrers of a digest, or null when the registry has no referrers API. */
  referrers(repo: Repo, digest: string): Promise<Descriptor[] | null>;
}

export interface RegistryClientDeps {
  send: Send;
  auth: Authenticator;
  endpoint: (registry: string) => RegistryEndpoint;
  /** Transport for hosts that are not registries (blob redirects to object storage). */
  transportFor: (url: URL) => Transport;
  logger: Logger;
}

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

function refName(repo: Repo, reference?: string): string {
  const sep = reference?.includes(':') ? '@' : ':';
  return `docker://${repo.registry}/${repo.repository}${reference ? `${sep}${reference}` : ''}`;
}

/** A digest about to name a URL path: checked here too, whatever checked it where it entered. */
function pathDigest(digest: string, artifact: string): string {
  return checkName('digest', digest, { field: 'digest', artifact });
}

/** A manifest reference about to name a URL path: a digest or a tag. */
function pathReference(reference: string, artifact: string): string {
  return reference.includes(':') ? pathDigest(reference, artifact) : checkName('tag', reference, { field: 'tag', artifact, code: 'E_REFERENCE' });
}

function pullScope(repo: Repo): string {
  return `repository:${repo.repository}:pull`;
}

function pushScope(repo: Repo): string {
  return `repository:${repo.repository}:pull,push`;
}

export function createRegistryClient(deps: RegistryClientDeps): RegistryClient {
  const { send, auth, logger } = deps;

  /**
   * Sends with auth: pre-emptively when the registry's challenge is known, else after its 401.
   * A URL the registry handed out (an upload Location) on another origin gets no credentials: the
   * target's Authorization never leaves the target's origin, as with blob redirects.
   */
  async function call(repo: Repo, scopes: string[], req: Omit<HttpRequest, 'url'> & { path?: string; url?: string }): Promise<HttpResponse> {
    const ep = deps.endpoint(repo.registry);
    const url = req.url ?? `${ep.baseUrl}${req.path ?? ''}`;
    const artifact = req.artifact ?? refName(repo);
    const target = new URL(url);
    if (target.origin !== new URL(ep.baseUrl).origin) return send(deps.transportFor(target), { ...req, url, artifact });
    const withAuth = (authorization: string | undefined): HttpRequest => ({
      ...req,
      url,
      artifact,
      headers: { ...req.headers, ...(authorization ? { authorization } : {}) },
    });
    const first = await auth.authorization(repo.registry, scopes);
    const res = await send(ep.transport, withAuth(first));
    if (res.statusCode !== 401) return res;
    const isStream = req.body instanceof Readable;
    if (isStream) return res;
    const challenge = header(res, 'www-authenticate');
    const answer = await auth.answer(repo.registry, challenge, scopes, artifact);
    if (!answer || answer === first) return res;
    await res.body.dump().catch(() => undefined);
    return send(ep.transport, withAuth(answer));
  }

  async function fail(res: HttpResponse, what: string, artifact: string): Promise<never> {
    throw await errorFromResponse(res, what, artifact);
  }

  function manifestRequest(method: 'GET' | 'HEAD', repo: Repo, reference: string, artifact: string): Promise<HttpResponse> {
    return call(repo, [pullScope(repo)], { method, path: `/v2/${repo.repository}/manifests/${pathReference(reference, artifact)}`, headers: { accept: MANIFEST_ACCEPT }, artifact });
  }

  function resolveLocation(repo: Repo, location: string | undefined, artifact: string): string {
    if (!location) throw new AirlockError('E_UPLOAD', 'registry opened an upload without a Location header', { artifact });
    return new URL(location, deps.endpoint(repo.registry).baseUrl).toString();
  }

  async function startUpload(repo: Repo, artifact: string): Promise<{ location: string; minChunk: number }> {
    const res = await call(repo, [pushScope(repo)], {
      method: 'POST',
      path: `/v2/${repo.repository}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      artifact,
    });
    if (res.statusCode !== 202) return fail(res, 'starting blob upload failed', artifact);
    await res.body.dump();
    const minChunk = Number(header(res, 'oci-chunk-min-length') ?? 0) || 0;
    return { location: resolveLocation(repo, header(res, 'location'), artifact), minChunk };
  }

  async function cancelUpload(repo: Repo, location: string, artifact: string): Promise<void> {
    try {
      const res = await call(repo, [pushScope(repo)], { method: 'DELETE', url: location, artifact });
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

  async function monolithic(repo: Repo, desc: Descriptor, location: string, open: OpenSource, artifact: string, onProgress?: (n: number) => void): Promise<void> {
    const source = await open(0);
    const verifier = createVerifyingStream(desc, artifact, onProgress);
    source.on('error', (e) => verifier.destroy(e));
    const body = source.pipe(verifier);
    let res: HttpResponse;
    try {
      res = await call(repo, [pushScope(repo)], {
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
      source.destroy();
      return fail(res, `uploading blob ${desc.digest} failed`, artifact);
    }
    await res.body.dump();
  }

  /** The registry's view of how many bytes an upload session holds (`Range: 0-<last>`). */
  async function uploadOffset(repo: Repo, location: string, artifact: string): Promise<{ offset: number; location: string }> {
    const res = await call(repo, [pushScope(repo)], { method: 'GET', url: location, artifact });
    if (res.statusCode !== 204 && res.statusCode !== 200) return fail(res, 'reading upload status failed', artifact);
    await res.body.dump();
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
    const next = header(res, 'location');
    // distribution sends "0-0" for an empty session as well as for one byte; empty is the safe reading
    // (re-sending a byte the registry has gets a 416 and another status check).
    const last = range ? Number(range[1]) : -1;
    return {
      offset: last > 0 ? last + 1 : 0,
      location: next ? resolveLocation(repo, next, artifact) : location,
    };
  }

  /**
   * Chunked upload from bounded in-memory chunks. A chunk that fails is re-sent from the offset the
   * registry reports (GET on the session), never from the start; a source stream that breaks is
   * re-opened at the byte where it broke. Registries that cannot report the offset of a session a
   * broken request wrote into (distribution 2.8 answers BLOB_UPLOAD_INVALID) get a fresh session.
   */
  async function chunked(repo: Repo, desc: Descriptor, open: OpenSource, chunkSize: number, artifact: string, onProgress?: (n: number) => void, given?: string): Promise<void> {
    let session = given;
    for (let restart = 0; ; restart++) {
      let sent = 0;
      try {
        await chunkedOnce(repo, desc, open, chunkSize, artifact, (n) => {
          sent += n;
          onProgress?.(n);
        }, session);
        return;
      } catch (e) {
        if (!(e instanceof SessionLost) || restart >= SESSION_RESTARTS) throw e instanceof SessionLost ? e.cause : e;
        logger.warn({ artifact, restart: restart + 1 }, 'registry lost the upload session, starting the blob again');
        onProgress?.(-sent);
        session = undefined;
      }
    }
  }

  async function chunkedOnce(repo: Repo, desc: Descriptor, open: OpenSource, chunkSize: number, artifact: string, onProgress: (n: number) => void, given?: string): Promise<void> {
    let { location, minChunk } = given ? { location: given, minChunk: 0 } : await startUpload(repo, artifact);
    const size = Math.max(chunkSize || DEFAULT_CHUNK, minChunk, MIN_CHUNK);
    const algorithm = desc.digest.split(':')[0] ?? 'sha256';
    const hash = createHash(algorithm);
    let offset = 0;
    try {
      for await (const chunk of readChunks(open, desc.size, size, artifact, logger)) {
        hash.update(chunk);
        let sent = 0;
        for (let attempt = 1; sent < chunk.length; attempt++) {
          const part = chunk.subarray(sent);
          const start = offset + sent;
          try {
            const res = await call(repo, [pushScope(repo)], {
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
              if (res.statusCode === 416 || res.statusCode >= 500) throw await errorFromResponse(res, 'chunk upload failed', artifact);
              // BLOB_UPLOAD_UNKNOWN/INVALID: the session is gone, not the blob; start a new one.
              if (res.statusCode === 404) throw new SessionLost(await errorFromResponse(res, `uploading chunk at ${start} failed`, artifact), undefined);
              return await fail(res, `uploading chunk at ${start} failed`, artifact);
            }
            await res.body.dump();
            location = resolveLocation(repo, header(res, 'location') ?? location, artifact);
            sent = chunk.length;
          } catch (e) {
            if (e instanceof SessionLost || (e instanceof AirlockError && e.permanent)) throw e;
            if (attempt >= CHUNK_ATTEMPTS) throw e;
            let status: { offset: number; location: string };
            try {
              status = await uploadOffset(repo, location, artifact);
            } catch (statusError) {
              throw new SessionLost(e, statusError);
            }
            location = status.location;
            if (status.offset < offset || status.offset > offset + chunk.length) throw new SessionLost(e, undefined);
            logger.warn({ artifact, offset: status.offset, attempt }, 'chunk upload interrupted, resuming from the registry offset');
            sent = status.offset - offset;
          }
        }
        offset += chunk.length;
        onProgress(chunk.length);
      }
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== desc.digest || offset !== desc.size) {
        throw new AirlockError('E_DIGEST_MISMATCH', `blob digest mismatch from the source: expected ${desc.digest}, got ${actual}`, { artifact });
      }
      const res = await call(repo, [pushScope(repo)], {
        method: 'PUT',
        url: withDigest(location, desc.digest),
        headers: { 'content-length': '0' },
        artifact,
      });
      if (res.statusCode !== 201 && res.statusCode !== 204) return await fail(res, `completing upload of ${desc.digest} failed`, artifact);
      await res.body.dump();
    } catch (e) {
      await cancelUpload(repo, location, artifact);
      throw e;
    }
  }

  async function openFrom(repo: Repo, desc: Descriptor, offset: number): Promise<Readable> {
    const artifact = refName(repo, desc.digest);
    const ep = deps.endpoint(repo.registry);
    const origin = new URL(ep.baseUrl).origin;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await call(repo, [pullScope(repo)], { method: 'GET', path: `/v2/${repo.repository}/blobs/${pathDigest(desc.digest, artifact)}`, headers, artifact, kind: 'blob' });
    // Redirects (to object storage) are followed by hand: credentials never go to another origin.
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      if (hops >= 5) throw new AirlockError('E_REGISTRY', 'too many redirects fetching blob', { artifact });
      const location = header(res, 'location');
      await res.body.dump();
      if (!location) throw new AirlockError('E_REGISTRY', 'redirect without Location fetching blob', { artifact });
      const next = new URL(location, ep.baseUrl);
      if (next.origin === origin) {
        res = await call(repo, [pullScope(repo)], { method: 'GET', url: next.toString(), headers, artifact, kind: 'blob' });
      } else {
        res = await send(deps.transportFor(next), { method: 'GET', url: next.toString(), headers, artifact, kind: 'blob' });
      }
    }
    if (res.statusCode === 206 || (res.statusCode === 200 && offset === 0)) return res.body;
    if (res.statusCode === 200) return skipBytes(res.body, offset);
    return fail(res, `fetching blob ${desc.digest} failed`, artifact);
  }

  return {
    async headManifest(repo, reference) {
      const artifact = refName(repo, reference);
      const res = await manifestRequest('HEAD', repo, reference, artifact);
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
        const raw = await this.getManifest(repo, reference);
        return { digest: raw.digest, mediaType: raw.mediaType, size: raw.bytes.length };
      }
      return { digest, mediaType, size: Number(header(res, 'content-length') ?? 0) };
    },

    async getManifest(repo, reference) {
      const artifact = refName(repo, reference);
      const res = await manifestRequest('GET', repo, reference, artifact);
      if (res.statusCode === 404) {
        await res.body.dump();
        throw new AirlockError('E_NOT_FOUND', `manifest unknown: ${reference} is not in ${repo.registry}/${repo.repository}`, { artifact, status: 404 });
      }
      if (res.statusCode !== 200) return fail(res, 'manifest GET failed', artifact);
      const bytes = await readBuffer(res, MAX_MANIFEST_BYTES, artifact);
      const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
      const announced = header(res, 'docker-content-digest');
      const expected = reference.includes(':') ? reference : announced;
      if (expected) checkName('digest', expected, { field: reference.includes(':') ? 'manifest digest' : 'Docker-Content-Digest', artifact });
      const algorithm = expected?.split(':')[0] ?? 'sha256';
      const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
      const raw: RawManifest = { bytes, mediaType, digest };
      // Schema1 is refused with its own message before a digest check that it would fail anyway.
      const parsed = parseManifest(raw, artifact);
      verifyManifestDigest(raw, expected, artifact);
      // The type travels with the bytes: the body's own mediaType (or its shape), not a proxy's
      // generic Content-Type, is what a target must be told on push.
      return { ...raw, mediaType: parsed.mediaType };
    },

    async putManifest(repo, reference, manifest) {
      const artifact = refName(repo, reference);
      const res = await call(repo, [pushScope(repo)], {
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
    },

    async hasBlob(repo, digest) {
      const artifact = refName(repo, digest);
      const res = await call(repo, [pullScope(repo)], { method: 'HEAD', path: `/v2/${repo.repository}/blobs/${pathDigest(digest, artifact)}`, artifact });
      await res.body.dump();
      if (res.statusCode === 200) return true;
      if (res.statusCode === 404) return false;
      // A blob we may not read yet (no pull grant before the repo exists) counts as absent.
      if (res.statusCode === 401 || res.statusCode === 403) return false;
      return fail(res, 'blob HEAD failed', artifact);
    },

    openBlob(repo, desc, offset = 0) {
      return openFrom(repo, desc, offset);
    },

    async mountBlob(repo, digest, from) {
      const artifact = refName(repo, digest);
      const scopes = [pushScope(repo), `repository:${from}:pull`];
      const q = new URLSearchParams({ mount: pathDigest(digest, artifact), from });
      const res = await call(repo, scopes, {
        method: 'POST',
        path: `/v2/${repo.repository}/blobs/uploads/?${q.toString()}`,
        headers: { 'content-length': '0' },
        artifact,
      });
      await res.body.dump();
      if (res.statusCode === 201) return { mounted: true };
      if (res.statusCode === 202) return { mounted: false, location: resolveLocation(repo, header(res, 'location'), artifact) };
      return { mounted: false };
    },

    async uploadBlob(repo, desc, open, options = {}) {
      const artifact = refName(repo, desc.digest);
      const chunkSize = deps.endpoint(repo.registry).chunkSize;
      if (chunkSize > 0 && desc.size > chunkSize) {
        await chunked(repo, desc, open, chunkSize, artifact, options.onProgress, options.location);
        return;
      }
      const session = options.location ? { location: options.location, minChunk: 0 } : await startUpload(repo, artifact);
      if (session.minChunk > 0 && desc.size > session.minChunk) {
        await chunked(repo, desc, open, session.minChunk, artifact, options.onProgress, session.location);
        return;
      }
      let progressed = 0;
      try {
        await monolithic(repo, desc, session.location, open, artifact, (n) => {
          progressed += n;
          options.onProgress?.(n);
        });
      } catch (e) {
        await cancelUpload(repo, session.location, artifact);
        if (e instanceof AirlockError && e.permanent) throw e;
        logger.warn({ artifact, err: e }, 'monolithic upload failed, retrying in chunks');
        options.onProgress?.(-progressed);
        await chunked(repo, desc, open, chunkSize, artifact, options.onProgress);
      }
    },

    async listTags(repo) {
      const artifact = refName(repo);
      const ep = deps.endpoint(repo.registry);
      const tags: string[] = [];
      let url: string | undefined = `${ep.baseUrl}/v2/${repo.repository}/tags/list?n=1000`;
      for (let page = 0; url && page < 1000; page++) {
        const res: HttpResponse = await call(repo, [pullScope(repo)], { method: 'GET', url, artifact });
        if (res.statusCode === 404) {
          await res.body.dump();
          throw new AirlockError('E_NOT_FOUND', `repository ${repo.registry}/${repo.repository} not found`, { artifact, status: 404 });
        }
        if (res.statusCode !== 200) return fail(res, 'listing tags failed', artifact);
        const body = JSON.parse((await readBuffer(res, 16 * 1024 * 1024, artifact)).toString("utf8")) as { tags?: string[] | null };
        tags.push(...(body.tags ?? []));
        url = nextLink(header(res, 'link'), url);
      }
      return tags;
    },

    async referrers(repo, digest) {
      const artifact = refName(repo, digest);
      const ep = deps.endpoint(repo.registry);
      const out: Descriptor[] = [];
      let url: string | undefined = `${ep.baseUrl}/v2/${repo.repository}/referrers/${pathDigest(digest, artifact)}`;
      for (let page = 0; url && page < 100; page++) {
        const res: HttpResponse = await call(repo, [pullScope(repo)], { method: 'GET', url, headers: { accept: MT.ociIndex }, artifact });
        if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 400) {
          await res.body.dump();
          return page === 0 ? null : out;
        }
        if (res.statusCode !== 200) return fail(res, 'referrers query failed', artifact);
        const ct = header(res, 'content-type') ?? '';
        const text = (await readBuffer(res, MAX_MANIFEST_BYTES, artifact)).toString("utf8");
        if (!ct.includes('json')) return page === 0 ? null : out;
        const body = JSON.parse(text) as { manifests?: unknown };
        const found = body.manifests ?? [];
        if (!Array.isArray(found)) throw new AirlockError('E_REGISTRY', 'referrers response has no manifests list', { artifact });
        for (const d of found) {
          if (!d || typeof (d as Descriptor).digest !== 'string' || typeof (d as Descriptor).mediaType !== 'string' || typeof (d as Descriptor).size !== 'number') {
            throw new AirlockError('E_REGISTRY', 'referrers response has a malformed descriptor', { artifact });
          }
          out.push(checkDescriptor(d as Descriptor, 'referrer', artifact));
        }
        url = nextLink(header(res, 'link'), url);
      }
      return out;
    },
  };
}

/** `Link: <url>; rel="next"`, only when it stays on the same origin. */
export function nextLink(link: string | undefined, current: string): string | undefined {
  if (!link) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m?.[1]) return undefined;
  const next = new URL(m[1], current);
  return next.origin === new URL(current).origin ? next.toString() : undefined;
}

async function* readChunks(open: OpenSource, total: number, size: number, artifact: string, logger: Logger): AsyncGenerator<Buffer> {
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
          throw new AirlockError('E_DIGEST_MISMATCH', `blob is longer than the ${total} bytes its descriptor declares`, { artifact });
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
        throw new AirlockError('E_DIGEST_MISMATCH', `source blob ended after ${consumed} of ${total} bytes`, { artifact, cause: e });
      }
      logger.warn({ artifact, consumed, reopens }, 'source stream broke, re-opening at the same offset');
    }
  }
  if (pendingLength > 0) yield Buffer.concat(pending, pendingLength);
}

async function* skipGen(src: Readable, n: number): AsyncGenerator<Buffer> {
  let toSkip = n;
  for await (const piece of src) {
    let b = piece as Buffer;
    if (toSkip > 0) {
      if (b.length <= toSkip) {
        toSkip -= b.length;
        continue;
      }
      b = b.subarray(toSkip);
      toSkip = 0;
    }
    yield b;
  }
}

/** For servers that ignore `Range`: drop the bytes we already have. */
function skipBytes(src: Readable, n: number): Readable {
  return Readable.from(skipGen(src, n), { objectMode: false });
}
