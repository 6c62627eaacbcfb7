import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-atomic.js';

/** What was mirrored: a source reference resolved to a digest, and the digest now at the target. */
export interface MirrorRecord {
  sourceDigest: string;
  targetDigest: string;
  /** Where the copy is, when the key does not say (charts: `oci://…:tag`, a file, a ChartMuseum URL). */
  location?: string;
  at: string;
}

/**
 * Remembers finished copies so a re-sync of a digest-pinned or immutable reference needs no
 * request at all. Keys are `source -> target` strings built by the copier.
 */
export interface MirrorState {
  get(key: string): Promise<MirrorRecord | undefined>;
  set(key: string, record: MirrorRecord): Promise<void>;
  /** Persists pending writes (the file store batches them). */
  flush(): Promise<void>;
  /** The same, synchronously, for a process about to exit on a signal (stores that batch writes). */
  flushSync?(): void;
}

export function memoryMirrorState(): MirrorState {
  const m = new Map<string, MirrorRecord>();
  return {
    get: async (k) => m.get(k),
    set: async (k, r) => {
      m.set(k, r);
    },
    flush: async () => undefined,
  };
}

/** A JSON file, loaded once, written atomically (temp file + rename) at most every 500 ms and on flush. */
export function fileMirrorState(file: string): MirrorState {
  let data: Record<string, MirrorRecord> | undefined;
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  let loading: Promise<Record<string, MirrorRecord>> | undefined;

  // Every job of a run asks at once: one read, shared, so that no late parse replaces records set meanwhile.
  function load(): Promise<Record<string, MirrorRecord>> {
    loading ??= read();
    return loading;
  }

  async function read(): Promise<Record<string, MirrorRecord>> {
    try {
      // Read once per process, before the first request of a run: synchronously. An asynchronous
      // read waits on libuv's thread pool, which a one-shot re-sync would start for this file
      // alone (5 ms of its 0.15 s here), and on fs/promises, which the CLI bundle loads on first
      // use (scripts/bundle.mjs).
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { records?: Record<string, MirrorRecord> };
      data = parsed.records ?? {};
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new AirlockError(
          'E_STATE',
          `state file ${file} is unreadable (${(e as Error).message}); move it away to start afresh`,
        );
      }
      data = {};
    }
    return data;
  }

  function write(): Promise<void> {
    writing = writing.then(async () => {
      if (!dirty || !data) return;
      dirty = false;
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, JSON.stringify({ version: 1, records: data }));
    });
    return writing;
  }

  return {
    async get(k) {
      return (await load())[k];
    },
    async set(k, r) {
      (await load())[k] = r;
      dirty = true;
      timer ??= setTimeout(() => {
        timer = undefined;
        void write();
      }, 500);
      timer.unref();
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await write();
    },
    flushSync() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!dirty || !data) return;
      dirty = false;
      // What the copies that finished recorded, so the next run does not ask about them again.
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.interrupted.tmp`;
      try {
        fs.writeFileSync(tmp, JSON.stringify({ version: 1, records: data }));
        fs.renameSync(tmp, file);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    },
  };
}

/** One Redis hash shared by every worker; the hash tag keeps it on one Cluster slot with the queues. */
export function redisMirrorState(redis: Redis, prefix = '{airlock}'): MirrorState {
  const key = `${prefix}:mirror-state`;
  return {
    async get(k) {
      const v = await redis.hget(key, k);
      return v ? (JSON.parse(v) as MirrorRecord) : undefined;
    },
    async set(k, r) {
      await redis.hset(key, k, JSON.stringify(r));
    },
    flush: async () => undefined,
  };
}
