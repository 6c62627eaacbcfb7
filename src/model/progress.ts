import type { ItemStatus } from './report.js';

/**
 * What a run tells whoever watches it (the CLI's progress display and its summary on Ctrl-C).
 * Types only, and no imports: the copier, the runner and the CLI all speak it.
 */

/** The bytes of one copy as they become known and as they move. */
export interface CopyProgress {
  /** Blob bytes a manifest names, known before they move. */
  planned(bytes: number): void;
  /** Bytes written to the target; negative when a broken upload starts over. */
  moved(bytes: number): void;
  /** Planned bytes that will not move: present at the target, mounted, or carried by another copy. */
  skipped(bytes: number): void;
}

/** An artifact that settled, as the run report has it. */
export interface SettledArtifact {
  kind: string;
  source: string;
  target: string;
  status: ItemStatus;
  bytes: number;
  durationMs: number;
  trusted?: boolean;
  sourceDigest?: string;
  targetDigest?: string;
  blobs?: { copied: number; skipped: number; mounted: number };
  warnings: string[];
  rewrites?: Array<{ file: string; from: string; to: string }>;
  error?: { code: string; message: string };
}

/** One artifact being worked on. */
export interface ArtifactProgress extends CopyProgress {
  done(item: SettledArtifact): void;
}

export interface RunProgress {
  /** Artifacts about to run, by name (more may follow: charts name images). */
  queued(names: string[]): void;
  start(name: string): ArtifactProgress;
}
