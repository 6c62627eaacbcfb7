/** Where an artifact ended up in a run: the one status union reports, metrics, runs and the display share. */
export type ItemStatus = 'copied' | 'unchanged' | 'planned' | 'failed';

/** `job`: a queued job of a kind this code does not know (a newer producer's), reported as itself rather than as an artifact it may not be. */
export type ItemKind = 'image' | 'chart' | 'file' | 'plugin-index' | 'addon' | 'git-mirror' | 'plugin' | 'job';

export interface ReportItem {
  kind: ItemKind;
  source: string;
  target: string;
  status: ItemStatus;
  /** `unchanged` on the mirror state's word: the target was not asked (`--verify-targets` asks it). */
  trusted?: boolean;
  sourceDigest?: string;
  targetDigest?: string;
  bytes: number;
  blobs: { copied: number; skipped: number; mounted: number };
  referrers: number;
  durationMs: number;
  warnings: string[];
  /** Addons: each reference rewritten to its mirror. */
  rewrites?: Array<{ kind: string; file: string; from: string; to: string }>;
  error?: { code: string; message: string };
}

export interface RunReport {
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** The command failed before (or instead of) the run: nothing in `items` ran. */
  error?: { code: string; message: string; artifact?: string };
  /** A signal ended the run: `items` is what finished; these are what did not. */
  interrupted?: {
    signal: string;
    /** Bytes moved of the bytes to move, as far as its manifests said (0 when not known). */
    inFlight: Array<{ name: string; bytes: number; plannedBytes: number }>;
    notStarted: string[];
  };
  summary: Record<ReportItem['status'], number> & {
    bytes: number;
    blobsCopied: number;
    blobsSkipped: number;
    blobsMounted: number;
  };
  items: ReportItem[];
}
