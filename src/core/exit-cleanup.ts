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

/**
 * Partial blobs this process is writing into an OCI layout: unlike the files above they stay when
 * it is interrupted, as the next run's resume points (src/oci/layout-blobs.ts), and the summary
 * of an interrupted run says so rather than claim nothing half-written is left.
 */
const resumePoints = new Set<string>();

export function trackResumePoint(file: string): void {
  resumePoints.add(file);
}

export function untrackResumePoint(file: string): void {
  resumePoints.delete(file);
}

/** The partial files of this process still on disk, with bytes in them (synchronously, for a signal handler). */
export function keptResumePointsSync(): string[] {
  return [...resumePoints].filter((file) => {
    try {
      return fs.statSync(file).size > 0;
    } catch {
      return false;
    }
  });
}

/** What a signal's clean-up did: files removed, and partial blobs kept as resume points. */
export interface ExitCleanup {
  removed: number;
  kept: string[];
}
