import { formatBytes } from '../report/run-report.js';

export interface Progress {
  bytes(n: number): void;
  imageDone(): void;
  stop(): void;
}

export const NO_PROGRESS: Progress = { bytes: () => undefined, imageDone: () => undefined, stop: () => undefined };

/** A progress bar on a terminal; nothing when output is piped or JSON is asked for. */
export async function createProgress(total: number, enabled: boolean): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY || total === 0) return NO_PROGRESS;
  const { default: cliProgress } = await import('cli-progress');
  let bytes = 0;
  const bar = new cliProgress.SingleBar(
    { format: 'images {bar} {value}/{total} | {copied}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { copied: '0 B' });
  return {
    bytes(n) {
      bytes += n;
      bar.update({ copied: formatBytes(bytes) });
    },
    imageDone() {
      bar.increment(1, { copied: formatBytes(bytes) });
    },
    stop() {
      bar.stop();
    },
  };
}
