import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import type { HttpClient } from '../http/client.js';
import { AirlockError } from '../core/errors.js';
import { errorFromResponse, getFollowingRedirects, header } from '../http/client.js';
import { writeFileAtomic, writeStreamAtomic } from '../core/fs-atomic.js';
import type { CopyProgress } from '../model/progress.js';
import type { ItemStatus } from '../model/report.js';

/** A static target: a directory served by any web server at `baseUrl`. */
export interface StaticTarget {
  dir: string;
  baseUrl: string;
}

export interface MirroredFile {
  source: string;
  /** Path below the target directory. */
  path: string;
  /** Public URL of the copy. */
  url: string;
  sha256: string;
  status: Extract<ItemStatus, 'copied' | 'unchanged'>;
  bytes: number;
}

/**
 * Where a URL lands: `<host>/<path>`, so two upstreams never collide and the file name (with its
 * archive extension) is kept. A query string cannot be part of a static path; when there is one,
 * a short hash of it becomes a directory so URLs differing only by query stay apart.
 */
export function staticPathFor(url: string): string {
  const u = new URL(url);
  const segments = u.pathname
    .split('/')
    .filter((s) => s && s !== '.' && s !== '..')
    .map((s) => decodeURIComponent(s).replace(/[^A-Za-z0-9._+-]/g, '_'));
  // Two URLs that differ only in characters replaced above must not share a file; the hash goes in
  // a directory of its own so the file name keeps its archive extension (go-getter unpacks by it).
  const rawPath = u.pathname;
  if (
    segments.join('/') !==
    rawPath
      .split('/')
      .filter((s) => s && s !== '.' && s !== '..')
      .join('/')
  ) {
    segments.splice(segments.length - 1, 0, `h-${createHash('sha256').update(rawPath).digest('hex').slice(0, 10)}`);
  }
  if (segments.length === 0) segments.push('index');
  const host = u.host.replace(/:/g, '-');
  if (u.search) {
    const q = createHash('sha256').update(u.search).digest('hex').slice(0, 10);
    segments.splice(segments.length - 1, 0, `q-${q}`);
  }
  return [host, ...segments].join('/');
}

export function publicUrl(target: StaticTarget, relPath: string): string {
  return `${target.baseUrl.replace(/\/+$/, '')}/${relPath.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * What airlock knows about a copy: its hash at a given size and mtime (so an unchanged file is not
 * read again) and the upstream's validators for a conditional GET. Kept under `.airlock/` in the
 * target: a host name never starts with a dot, so no mirrored path can land there.
 */
interface Sidecar {
  sha256: string;
  size: number;
  mtimeMs: number;
  etag?: string;
  lastModified?: string;
}

function sidecarPath(target: StaticTarget, relPath: string): string {
  return path.join(target.dir, '.airlock', `${relPath}.json`);
}

async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as Sidecar;
  } catch {
    return undefined;
  }
}

async function writeSidecar(
  sidecar: string,
  file: string,
  fields: Omit<Sidecar, 'size' | 'mtimeMs'>,
): Promise<Sidecar> {
  const st = await fsp.stat(file);
  const value: Sidecar = { ...fields, size: st.size, mtimeMs: st.mtimeMs };
  await fsp.mkdir(path.dirname(sidecar), { recursive: true });
  await writeFileAtomic(sidecar, JSON.stringify(value));
  return value;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The copy already in the target, if any. Its sidecar is trusted while size and mtime still match;
 * a file changed behind airlock's back (or copied before sidecars) is hashed once and recorded,
 * without validators since its bytes may not be what the upstream last sent.
 */
async function localCopy(file: string, sidecar: string): Promise<Sidecar | undefined> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const known = await readSidecar(sidecar);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known;
  return writeSidecar(sidecar, file, { sha256: await fileSha256(file) });
}

function conditionalHeaders(known: Sidecar): Record<string, string> {
  return {
    ...(known.etag ? { 'if-none-match': known.etag } : {}),
    ...(known.lastModified ? { 'if-modified-since': known.lastModified } : {}),
  };
}

interface HashingStream {
  stream: Transform;
  /** The sha256 hex of everything that went through; set once the stream has ended. */
  sha256: () => string;
  bytes: () => number;
}

/**
 * Hashes and counts what passes, failing at the end on a checksum mismatch so the temp file is
 * never renamed into place. Not createVerifyingStream: a file without a checksum still needs its
 * sha256 (Botkube's index records it), which that stream never hands out.
 */
function sha256Stream(
  expected: string | undefined,
  artifact: string,
  maxBytes: number,
  onBytes?: (n: number) => void,
): HashingStream {
  const hash = createHash('sha256');
  let bytes = 0;
  let hex = '';
  const stream = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      bytes += c.length;
      if (bytes > maxBytes) {
        cb(tooLarge(maxBytes, artifact));
        return;
      }
      onBytes?.(c.length);
      cb(null, c);
    },
    flush(cb) {
      hex = hash.digest('hex');
      if (expected && hex !== expected) {
        cb(
          new AirlockError('E_DIGEST_MISMATCH', `checksum mismatch: expected sha256 ${expected}, downloaded ${hex}`, {
            artifact,
          }),
        );
        return;
      }
      cb();
    },
  });
  return { stream, sha256: () => hex, bytes: () => bytes };
}

function tooLarge(maxBytes: number, artifact: string): AirlockError {
  return new AirlockError('E_UNSUPPORTED', `file is larger than limits.fileBytes (${maxBytes} bytes)`, { artifact });
}

export interface MirrorFileOptions {
  /** sha256 hex (optionally `sha256:`-prefixed) the download must have. */
  checksum?: string;
  /** Must already be registered as secrets by whoever resolved them. */
  headers?: Record<string, string>;
  /**
   * Ask the upstream again for a file without a checksum (conditional GET, so an unchanged one
   * costs a 304). Default true; false trusts any copy already there.
   */
  revalidate?: boolean;
  /** This file's bytes as they arrive (the size first, when the upstream sends one). */
  progress?: CopyProgress;
}

/**
 * Copies one URL to the static target: streamed to a temp file, checked against `checksum`
 * (sha256 hex) when one is given, renamed into place. A copy already there with that checksum is
 * kept without a request; one without a checksum is revalidated with a conditional GET.
 */
export async function mirrorFile(
  engine: { http: HttpClient },
  source: string,
  target: StaticTarget,
  options: MirrorFileOptions = {},
): Promise<MirroredFile> {
  const artifact = source;
  let relPath: string;
  try {
    relPath = staticPathFor(source);
  } catch {
    throw new AirlockError('E_REFERENCE', 'not a valid URL', { artifact });
  }
  const file = path.join(target.dir, relPath);
  const sidecar = sidecarPath(target, relPath);
  const expected = options.checksum?.toLowerCase().replace(/^sha256:/, '');
  const known = await localCopy(file, sidecar);
  const unchanged = (sha256: string): MirroredFile => ({
    source,
    path: relPath,
    url: publicUrl(target, relPath),
    sha256,
    status: 'unchanged',
    bytes: 0,
  });
  if (known && (expected ? known.sha256 === expected : options.revalidate === false)) return unchanged(known.sha256);
  const headers = { ...(options.headers ?? {}), ...(known && !expected ? conditionalHeaders(known) : {}) };
  const res = await getFollowingRedirects(engine.http, source, headers, artifact);
  if (res.statusCode === 304 && known) {
    await res.body.dump();
    return unchanged(known.sha256);
  }
  if (res.statusCode !== 200) throw await errorFromResponse(res, 'download failed', artifact);
  const maxBytes = engine.http.limits.fileBytes;
  const length = Number(header(res, 'content-length') ?? 0);
  if (length > maxBytes) {
    res.body.destroy();
    throw tooLarge(maxBytes, artifact);
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const { progress } = options;
  if (progress && Number.isSafeInteger(length) && length > 0) progress.planned(length);
  const hashed = sha256Stream(expected, artifact, maxBytes, progress ? (n) => progress.moved(n) : undefined);
  await writeStreamAtomic(file, res.body, hashed.stream);
  const etag = header(res, 'etag');
  const lastModified = header(res, 'last-modified');
  await writeSidecar(sidecar, file, {
    sha256: hashed.sha256(),
    ...(etag ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
  });
  // An upstream without validators answers in full every time: the same bytes are no new copy.
  if (known?.sha256 === hashed.sha256()) return unchanged(known.sha256);
  return {
    source,
    path: relPath,
    url: publicUrl(target, relPath),
    sha256: hashed.sha256(),
    status: 'copied',
    bytes: hashed.bytes(),
  };
}
