import type { AirlockConfig } from '../config/schema.js';
import { createEngine, type Engine } from '../engine.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import { createLogger, type Logger } from '../log.js';
import { exitCodeFor, formatReport } from '../report/run-report.js';
import { executeSync, type SyncKind } from '../runner/execute-sync.js';
import type { PlanFailure } from '../sources/image-plan.js';
import { createProgress, NO_PROGRESS, type Progress } from './progress.js';
import { printErrorLines } from './print-errors.js';
import { chooseStateStore } from './state-store.js';

export type { SyncKind };

/** What a one-shot command's engine is built from. */
export interface EngineSetup {
  config: AirlockConfig;
  stateFile?: string;
  ociTargetDir?: string;
  plainHttp?: string[];
  tlsSkipVerify?: string[];
  verifyTargets?: boolean;
  logLevel?: string;
}

export interface SyncOptions extends EngineSetup {
  kinds: SyncKind[];
  images?: MirrorImagePayload[];
  failures?: PlanFailure[];
  json?: boolean;
  dryRun?: boolean;
}

/**
 * A one-shot command's logger, state store and engine, closed in order whatever `fn` does: every
 * command honours the same --state, --plain-http, --tls-skip-verify and --verify-targets.
 */
export async function withSyncEngine<T>(options: EngineSetup, fn: (engine: Engine, logger: Logger, cacheDir: string) => Promise<T>, onBytes?: (n: number) => void): Promise<T> {
  const { config } = options;
  const logger = createLogger({ level: options.logLevel ?? 'warn' });
  const store = await chooseStateStore(config, { stateFile: options.stateFile, ociTargetDir: options.ociTargetDir });
  const engine = createEngine({ config, logger, state: store.state, plainHttp: options.plainHttp, tlsSkipVerify: options.tlsSkipVerify, verifyTargets: options.verifyTargets, ...(onBytes ? { onBytes } : {}) });
  try {
    return await fn(engine, logger, store.cacheDir);
  } finally {
    await engine.close();
    await store.close();
    await logger.flush();
  }
}

/** The one-shot run from the CLI: prints the report (a progress bar on a terminal) and returns the exit code. */
export async function runSync(options: SyncOptions): Promise<number> {
  let progress: Progress = NO_PROGRESS;
  return withSyncEngine(
    options,
    async (engine, logger, cacheDir) => {
      try {
        const { report, errors } = await executeSync({
          config: options.config,
          kinds: options.kinds,
          engine,
          logger,
          cacheDir,
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
      }
    },
    (n) => progress.bytes(n),
  );
}
