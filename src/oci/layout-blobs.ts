import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { trackResumePoint, untrackResumePoint } from '../core/exit-cleanup.js';
import { lockIsLive, withFileLock } from '../core/file-lock.js';
import type { Descriptor } from './manifest.js';
import type { Readable } from 'node:stream';
import { createVerifyingStream } from './verify-stream.js';

/**
 * Blob writes into an OCI layout that survive a killed process. A blob streams into a partial
 * file named after its digest (below `<layout>/.airlock/partial/`, outside `blobs/`, so the layout
 * holds only content-addressed blobs), under a lock file naming this process. A later run that
 * finds a partial whose writer is gone resumes it from its length (the source asked with `Range`),
 * hashing the bytes already there so the digest still covers the whole blob; only a verified blob
 * is renamed into `blobs/`. Temporaries nobody will finish are swept.
 */

/** An unlocked partial older than this is no longer expected to be resumed. */
export const PARTIAL_MAX_AGE_MS = 24 * 3_600_000;
/** Temporaries of atomic writes (`<file>.<uuid>.tmp`) take moments; older ones are leftovers of killed runs. */
export const TMP_MAX_AGE_MS = 3_600_000;
// A writer of the same blob in another process may take long on a slow link; a dead one is noticed
// by its pid (or, on a shared filesystem, by its lock going untouched for two minutes).
const LOCK_WAIT_MS = 6 * 3_600_000;

function partialDir(layout: string): string {
  return path.join(layout, '.airlock', 'partial');
}

/** `sha256:<hex>` → the partial file and its lock. The digest was checked before it names anything. */
export function partialPaths(layout: string, digest: string): { partial: string; lock: string } {
  const base = path.join(partialDir(layout), digest.replace(':', '-'));
  return { partial: `${base}.partial`, lock: `${base}.lock` };
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

async function existsWithSize(file: string, size: number): Promise<boolean> {
  try {
    return (await fsp.stat(file)).size === size;
  } catch {
    return false;
  }
}

export interface BlobWrite {
  layout: string;
  /** The blob's final path in `blobs/`. */
  file: string;
  desc: Descriptor;
  /** The source from a byte offset (a registry asks with `Range`). */
  open: (offset: number) => Promise<Readable>;
  artifact: string;
  onProgress?: (bytes: number) => void;
}

/**
 * Writes one verified blob, resuming a partial one left by a run that died. A resumed partial
 * that does not verify is dropped and the blob fetched once more from its start; bad bytes never
 * stay, and a blob only appears in `blobs/` complete and verified.
 */
export async function writeBlobResumable(w: BlobWrite): Promise<void> {
  const { partial, lock } = partialPaths(w.layout, w.desc.digest);
  await Promise.all([
    fsp.mkdir(path.dirname(partial), { recursive: true }),
    fsp.mkdir(path.dirname(w.file), { recursive: true }),
  ]);
  await withFileLock(
    lock,
    async () => {
      // Another process may have written it while this one waited for the lock.
      if (await existsWithSize(w.file, w.desc.size)) return;
      for (let attempt = 0; ; attempt++) {
        let have = await sizeOf(partial);
        if (have > w.desc.size) {
          await fsp.rm(partial, { force: true });
          have = 0;
        }
        const verifier = createVerifyingStream(w.desc, w.artifact, w.onProgress);
        if (have > 0)
          for await (const chunk of fs.createReadStream(partial, { end: have - 1 })) verifier.seed(chunk as Buffer);
        trackResumePoint(partial);
        try {
          await pipeline(await w.open(have), verifier, fs.createWriteStream(partial, { flags: have > 0 ? 'a' : 'w' }));
          await fsp.rename(partial, w.file);
          untrackResumePoint(partial);
          return;
        } catch (e) {
          if (!verifier.failure) throw e; // a broken transfer: the partial stays for the next run to resume
          await fsp.rm(partial, { force: true });
          untrackResumePoint(partial);
          if (have === 0 || attempt > 0) throw verifier.failure;
          // The bytes a dead run left did not belong to this blob: start over once, from nothing.
          w.onProgress?.(-(verifier.bytes - have));
        }
      }
    },
    { waitMs: LOCK_WAIT_MS },
  );
}

/**
 * Removes what killed runs left in a layout and no run will finish: partials whose writer is gone
 * and that were not touched for PARTIAL_MAX_AGE_MS, and `*.tmp` files of atomic writes older than
 * TMP_MAX_AGE_MS (in `blobs/<alg>/`, where writers before resumable partials streamed, and beside
 * `index.json`). A partial locked by a live process is never touched.
 */
export async function sweepStaleTemporaries(layout: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const removeIfOlder = async (file: string, maxAgeMs: number): Promise<void> => {
    try {
      const st = await fsp.lstat(file);
      if (!st.isFile() || now - st.mtimeMs <= maxAgeMs) return;
      await fsp.rm(file, { force: true });
      removed.push(file);
    } catch {
      // gone meanwhile
    }
  };
  const list = (dir: string): Promise<string[]> => fsp.readdir(dir).catch(() => []);

  const partials = partialDir(layout);
  for (const name of await list(partials)) {
    if (!name.endsWith('.partial')) continue;
    const file = path.join(partials, name);
    if (await lockIsLive(`${file.slice(0, -'.partial'.length)}.lock`)) continue;
    await removeIfOlder(file, PARTIAL_MAX_AGE_MS);
  }
  const blobs = path.join(layout, 'blobs');
  const dirs = [layout, ...(await list(blobs)).map((alg) => path.join(blobs, alg))];
  for (const dir of dirs) {
    for (const name of await list(dir))
      if (name.endsWith('.tmp')) await removeIfOlder(path.join(dir, name), TMP_MAX_AGE_MS);
  }
  return removed;
}
