import type { AirlockConfig } from '../config/schema.js';
import type { CacheDirs } from '../config/cache-dirs.js';
import { createEngine, type Engine } from '../app/engine.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { createLogger, type Logger } from '../core/log.js';
import { exitCodeFor, formatReport, formatTotals, showsKinds } from '../report/run-report.js';
import { executeSync } from '../runner/execute-sync.js';
import type { SyncKind } from '../config/scope.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { createRunTracker, stderrTerminal, type RunTracker } from './progress.js';
import { keptResumePointsSync, removeTemporaryFilesSync } from '../core/exit-cleanup.js';
import { printErrorLines } from './print-errors.js';
import { chooseStateStore } from './state-store.js';

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

/** What `withSyncEngine` hands the command besides the engine. */
export interface SyncSession {
  logger: Logger;
  cacheDirs: CacheDirs;
  /** Writes the mirror state's pending records at once: for a process about to exit on a signal. */
  flushStateSync(): void;
}

/**
 * A one-shot command's logger, state store and engine, closed in order whatever `fn` does: every
 * command honours the same --state, --plain-http, --tls-skip-verify and --verify-targets.
 */
export async function withSyncEngine<T>(
  options: EngineSetup,
  fn: (engine: Engine, logger: Logger, cacheDirs: CacheDirs, session: SyncSession) => Promise<T>,
  logDestination?: { write(line: string): void },
): Promise<T> {
  const { config } = options;
  const logger = createLogger({
    level: options.logLevel ?? 'warn',
    ...(logDestination ? { destination: logDestination } : {}),
  });
  const store = await chooseStateStore(config, { stateFile: options.stateFile, logger });
  let engine: Engine;
  try {
    engine = createEngine({
      config,
      logger,
      state: store.state,
      plainHttp: options.plainHttp,
      tlsSkipVerify: options.tlsSkipVerify,
      verifyTargets: options.verifyTargets,
    });
  } catch (e) {
    // A secret the engine reads (a registry password) is missing: the store's Redis connection
    // would otherwise keep the process alive after the error is printed.
    await store.close();
    await logger.flush();
    throw e;
  }
  try {
    return await fn(engine, logger, store.cacheDirs, {
      logger,
      cacheDirs: store.cacheDirs,
      flushStateSync: () => store.flushSync?.(),
    });
  } finally {
    await engine.close();
    await store.close();
    await logger.flush();
  }
}

/**
 * Until the returned function is called, SIGINT and SIGTERM end the run tidily: the files half
 * written are removed, the state of what finished is kept, and what was done and what was not is
 * printed; exit 130 (SIGINT) or 143 (SIGTERM).
 */
function exitTidilyOnSignals(tracker: RunTracker, session: SyncSession, json: boolean | undefined): () => void {
  const startedAt = new Date();
  const handler = (signal: NodeJS.Signals) => {
    const removed = removeTemporaryFilesSync();
    tracker.stop();
    try {
      session.flushStateSync();
    } catch {
      // The state only saves requests next time; the way out must not fail on it.
    }
    // A script reading --json gets the report of what finished and what did not (stdout on a pipe
    // or a file is written synchronously: it is out before the exit).
    if (json) process.stdout.write(`${JSON.stringify(tracker.interruptedReport(signal, startedAt), null, 2)}\n`);
    const kept = keptResumePointsSync();
    for (const line of tracker.interrupted(signal, { removed, kept })) process.stderr.write(`${line}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * The one-shot run from the CLI: prints the report and returns the exit code. On a terminal
 * (stderr, without --json) a live display shows bytes, speed, ETA and what is in flight, and
 * each artifact's line as it settles; the failures are then not repeated as `airlock:` lines.
 */
export async function runSync(options: SyncOptions): Promise<number> {
  const terminal = options.json ? undefined : stderrTerminal();
  const tracker = createRunTracker(terminal ? { terminal } : {});
  return withSyncEngine(
    options,
    async (engine, logger, cacheDirs, session) => {
      const release = exitTidilyOnSignals(tracker, session, options.json);
      try {
        const { report, errors } = await executeSync({
          config: options.config,
          kinds: options.kinds,
          engine,
          logger,
          cacheDirs,
          ...(options.images ? { images: options.images } : {}),
          ...(options.failures ? { failures: options.failures } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
          progress: tracker,
        });
        if (options.json) {
          tracker.stop();
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          // Each failure once more on stderr, one line each, so scripts see why without parsing the report.
          printErrorLines(errors);
        } else if (terminal) {
          // What did not settle through the display (plan failures, addons, plugins) is shown there too.
          tracker.showRest(report.items, showsKinds(report));
          tracker.stop();
          // On one terminal the lines are already on screen: the totals are what is left to say.
          process.stdout.write(
            `${(process.stdout.isTTY ? formatTotals(report) : [formatReport(report)]).join('\n')}\n`,
          );
        } else {
          process.stdout.write(`${formatReport(report)}\n`);
          printErrorLines(errors);
        }
        return exitCodeFor(report, errors);
      } finally {
        tracker.stop();
        release();
      }
    },
    terminal ? tracker.log : undefined,
  );
}
