import fsp from 'node:fs/promises';
import os from 'node:os';
import { AirlockError } from './errors.js';
import { trackTemporary, untrackTemporary } from './exit-cleanup.js';

export interface FileLockOptions {
  /** Give up waiting after this long. */
  waitMs?: number;
  /** A lock whose file was not touched for this long belongs to a dead holder. */
  staleMs?: number;
  pollMs?: number;
}

interface Holder {
  pid: number;
  host: string;
}

function holderIsGone(text: string): boolean {
  try {
    const h = JSON.parse(text) as Holder;
    if (h.host !== os.hostname() || !Number.isInteger(h.pid)) return false;
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    // ESRCH: no such process on this host. A torn or empty file is left to the age rule.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function tryBreakStale(file: string, staleMs: number): Promise<void> {
  let text: string;
  let seen: { ino: number; mtimeMs: number };
  try {
    // Content and inode from one open file: the verdict is about this lock, not a newer one.
    const handle = await fsp.open(file, 'r');
    try {
      text = await handle.readFile('utf8');
      seen = await handle.stat();
    } finally {
      await handle.close();
    }
  } catch {
    return;
  }
  if (!holderIsGone(text) && Date.now() - seen.mtimeMs <= staleMs) return;
  // Rename, then look at what was moved: between the check and the rename another waiter may have
  // broken the stale lock and a third taken a fresh one. That one is put back, not deleted.
  const grave = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    await fsp.rename(file, grave);
  } catch {
    return; // someone else broke or released it
  }
  try {
    if ((await fsp.stat(grave)).ino !== seen.ino) await fsp.link(grave, file).catch(() => undefined);
  } finally {
    await fsp.rm(grave, { force: true });
  }
}

/**
 * Whether a lock file belongs to a holder that may still be working: alive on this host and, on a
 * shared filesystem, touched within `staleMs` (holders touch their lock while they work).
 */
export async function lockIsLive(file: string, staleMs = 2 * 60_000): Promise<boolean> {
  try {
    const handle = await fsp.open(file, 'r');
    try {
      const text = await handle.readFile('utf8');
      const st = await handle.stat();
      return !holderIsGone(text) && Date.now() - st.mtimeMs <= staleMs;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/**
 * Runs `fn` while holding an exclusive lock file, across processes on one host (and, by the age
 * rule, on a shared filesystem). The holder touches the file while it works so a long fetch is
 * not mistaken for a dead holder.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 15 * 60_000;
  const staleMs = options.staleMs ?? 2 * 60_000;
  const pollMs = options.pollMs ?? 100;
  const deadline = Date.now() + waitMs;
  const me = JSON.stringify({ pid: process.pid, host: os.hostname() } satisfies Holder);
  for (;;) {
    try {
      await fsp.writeFile(file, me, { flag: 'wx' });
      trackTemporary(file);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (Date.now() > deadline)
      throw new AirlockError('E_CONFLICT', `still locked by another process after ${Math.round(waitMs / 1000)} s`, {
        artifact: file,
      });
    await tryBreakStale(file, staleMs);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const beat = setInterval(
    () => {
      const now = new Date();
      fsp.utimes(file, now, now).catch(() => undefined);
    },
    Math.max(1000, Math.floor(staleMs / 4)),
  );
  beat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    await fsp.rm(file, { force: true });
    untrackTemporary(file);
  }
}
