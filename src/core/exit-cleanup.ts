import fs from 'node:fs';

/**
 * Files this process has half-written (temp files before their rename) or holds (lock files).
 * A command interrupted by a signal removes them before it exits, so no `*.tmp` blob or stale
 * lock is left behind for later runs to trip over.
 */
const pending = new Set<string>();

export function trackTemporary(file: string): void {
  pending.add(file);
}

export function untrackTemporary(file: string): void {
  pending.delete(file);
}

/** Removes every tracked file, synchronously (a signal handler exits right after); returns how many were there. */
export function removeTemporaryFilesSync(): number {
  let removed = 0;
  for (const file of pending) {
    try {
      fs.rmSync(file, { force: true });
      removed += 1;
    } catch {
      // Gone already, or not ours to remove any more: nothing to do on the way out.
    }
  }
  pending.clear();
  return removed;
}
