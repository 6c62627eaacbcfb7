import fsp from 'node:fs/promises';
import { randomUUID } from 'node:crypto';

/** Writes a file by temp file + rename, so readers never see half of it. */
export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

const locks = new Map<string, Promise<unknown>>();

/** Runs read-modify-write sections on one key (a file) one after another within this process. */
export function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  locks.set(key, next.catch(() => undefined));
  return next;
}
