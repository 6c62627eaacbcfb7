import type { AirlockConfig } from '../config/schema.js';
import { createEngine } from '../engine.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import { createLogger } from '../log.js';
import { exitCodeFor, formatReport } from '../report/run-report.js';
import { executeSync, type SyncKind } from '../runner/execute-sync.js';
import type { PlanFailure } from '../sources/image-plan.js';
import { createProgress, NO_PROGRESS, type Progress } from './progress.js';
import { printErrorLines } from './print-errors.js';
import { chooseStateStore } from './state-store.js';

export type { SyncKind };

export interface SyncOptions {
  config: AirlockConfig;
  kinds: SyncKind[];
  images?: MirrorImagePayload[];
  failures?: PlanFailure[];
  json?: boolean;
  dryRun?: boolean;
  stateFile?: string;
  ociTargetDir?: string;
  plainHttp?: string[];
  tlsSkipVerify?: string[];
  verifyTargets?: boolean;
  logLevel?: string;
}

/** The one-shot run from the CLI: prints the report (a progress bar on a terminal) and returns the exit code. */
export async function runSync(options: SyncOptions): Promise<number> {
  const { config } = options;
  const logger = createLogger({ level: options.logLevel ?? 'warn' });
  const store = await chooseStateStore(config, { stateFile: options.stateFile, ociTargetDir: options.ociTargetDir });
  let progress: Progress = NO_PROGRESS;
  const engine = createEngine({ config, logger, state: store.state, plainHttp: options.plainHttp, tlsSkipVerify: options.tlsSkipVerify, verifyTargets: options.verifyTargets, onBytes: (n) => progress.bytes(n) });
  try {
    const { report, errors } = await executeSync({
      config,
      kinds: options.kinds,
      engine,
      logger,
      cacheDir: store.cacheDir,
      ...(options.images ? { images: options.images } : {}),
      ...(options.failures ? { failures: options.failures } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
      onImages: async (total) => {
        progress = await createProgress(total, !options.json);
      },
      onImageDone: () => progress.imageDone(),
    });
    progress.stop();
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    // Each failure once more on stderr, one line each, so scripts and operators see why without the report.
    printErrorLines(errors);
    return exitCodeFor(report, errors);
  } finally {
    progress.stop();
    await engine.close();
    await store.close();
    await logger.flush();
  }
}
