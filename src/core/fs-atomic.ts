import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomUUID } from './lazy-crypto.js';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withFileLock } from './file-lock.js';
import { trackTemporary, untrackTemporary } from './exit-cleanup.js';

/** Writes `file` through a temp file beside it, renamed into place: readers never see half of it, and a failed write leaves nothing. */
async function replaceVia(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  trackTemporary(tmp);
  try {
    await write(tmp);
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  } finally {
    untrackTemporary(tmp);
  }
}

/** Writes a file by temp file + rename, so readers never see half of it. */
export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  await replaceVia(file, (tmp) => fsp.writeFile(tmp, data));
}

/**
 * Streams `source` through `transforms` into a temp file beside `file`, then renames it into place.
 * A transform that fails (a digest check) fails the write, and the partial temp file is removed.
 */
export async function writeStreamAtomic(file: string, source: Readable, ...transforms: Transform[]): Promise<void> {
  await replaceVia(file, (tmp) => pipeline([source, ...transforms, fs.createWriteStream(tmp)]));
}

const locks = new Map<string, Promise<unknown>>();

/** Runs read-modify-write sections on one key (a file) one after another within this process. */
export function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  locks.set(
    key,
    next.catch(() => undefined),
  );
  return next;
}

/**
 * A read-modify-write of an index shared by processes (workers writing one directory target):
 * serialized within this process, and under a lock file beside it across processes.
 */
export function serializedAcrossProcesses<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(path.dirname(file), `.airlock-${path.basename(file)}.lock`);
  return serialized(file, () => withFileLock(lock, fn, { waitMs: 5 * 60_000, pollMs: 25 }));
}

export interface JsonCache<T> {
  get(key: string): Promise<T | undefined>;
  set(key: string, value: T): Promise<void>;
}

/** One JSON file per key (hashed) in a directory; a missing or unreadable entry is simply absent. */
export function jsonFileCache<T>(dir: string): JsonCache<T> {
  const fileFor = (key: string) =>
    path.join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  return {
    async get(key) {
      try {
        return JSON.parse(await fsp.readFile(fileFor(key), 'utf8')) as T;
      } catch {
        return undefined;
      }
    },
    async set(key, value) {
      await fsp.mkdir(dir, { recursive: true });
      await writeFileAtomic(fileFor(key), JSON.stringify(value));
    },
  };
}

export function memoryCache<T>(): JsonCache<T> {
  const m = new Map<string, T>();
  return { get: async (k) => m.get(k), set: async (k, v) => void m.set(k, v) };
}
