import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import type { Engine } from '../engine.js';
import { AirlockError } from '../errors.js';
import { errorFromResponse, getFollowingRedirects } from '../oci/http.js';
import { writeStreamAtomic } from '../util/fs-atomic.js';

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
  status: 'copied' | 'unchanged';
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
  if (segments.join('/') !== rawPath.split('/').filter((s) => s && s !== '.' && s !== '..').join('/')) {
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

async function fileSha256(file: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return undefined;
  }
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
function sha256Stream(expected: string | undefined, artifact: string): HashingStream {
  const hash = createHash('sha256');
  let bytes = 0;
  let hex = '';
  const stream = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      bytes += c.length;
      cb(null, c);
    },
    flush(cb) {
      hex = hash.digest('hex');
      if (expected && hex !== expected) {
        cb(new AirlockError('E_DIGEST_MISMATCH', `checksum mismatch: expected sha256 ${expected}, downloaded ${hex}`, { artifact }));
        return;
      }
      cb();
    },
  });
  return { stream, sha256: () => hex, bytes: () => bytes };
}

/**
 * Copies one URL to the static target: streamed to a temp file, checked against `checksum`
 * (sha256 hex) when one is given, renamed into place. A file already there with that checksum
 * (or, without one, already there at all) is not downloaded again. `headers` must already be
 * registered as secrets by whoever resolved them: this runs once per file, they once per source.
 */
export async function mirrorFile(engine: Engine, source: string, target: StaticTarget, options: { checksum?: string; headers?: Record<string, string> } = {}): Promise<MirroredFile> {
  const artifact = source;
  let relPath: string;
  try {
    relPath = staticPathFor(source);
  } catch {
    throw new AirlockError('E_REFERENCE', 'not a valid URL', { artifact });
  }
  const file = path.join(target.dir, relPath);
  const expected = options.checksum?.toLowerCase().replace(/^sha256:/, '');
  const existing = await fileSha256(file);
  if (existing && (!expected || existing === expected)) {
    return { source, path: relPath, url: publicUrl(target, relPath), sha256: existing, status: 'unchanged', bytes: 0 };
  }
  const res = await getFollowingRedirects(engine.http.send, engine.http.transport, source, options.headers ?? {}, artifact);
  if (res.statusCode !== 200) throw await errorFromResponse(res, 'download failed', artifact);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const hashed = sha256Stream(expected, artifact);
  await writeStreamAtomic(file, res.body, hashed.stream);
  return { source, path: relPath, url: publicUrl(target, relPath), sha256: hashed.sha256(), status: 'copied', bytes: hashed.bytes() };
}
