import type { AirlockConfig } from '../config/schema.js';
import { createEngine } from '../engine.js';
import { formatErrorLine, type AirlockError } from '../errors.js';
import { redact } from '../secrets.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import { createLogger } from '../log.js';
import { buildReport, exitCodeFor, formatReport } from '../report/run-report.js';
import { runImageJobs } from '../runner/run-image-jobs.js';
import { planImages, type PlanFailure } from '../sources/image-plan.js';
import { createProgress, NO_PROGRESS, type Progress } from './progress.js';
import { chooseStateStore } from './state-store.js';

export interface ImageRunOptions {
  config: AirlockConfig;
  json?: boolean;
  dryRun?: boolean;
  stateFile?: string;
  ociTargetDir?: string;
  plainHttp?: string[];
  tlsSkipVerify?: string[];
  logLevel?: string;
  /** Expand the config's `images:` section first. */
  fromConfig?: boolean;
}

/** Runs copies in-process, prints the report, returns the exit code. */
export async function runImages(payloads: MirrorImagePayload[], failures: PlanFailure[], options: ImageRunOptions): Promise<number> {
  const logger = createLogger({ level: options.logLevel ?? 'warn' });
  const started = new Date();
  const store = await chooseStateStore(options.config, { stateFile: options.stateFile, ociTargetDir: options.ociTargetDir });
  let progress: Progress = NO_PROGRESS;
  const engine = createEngine({
    config: options.config,
    logger,
    state: store.state,
    plainHttp: options.plainHttp,
    tlsSkipVerify: options.tlsSkipVerify,
    onBytes: (n) => progress.bytes(n),
  });
  try {
    let all = payloads;
    const planFailures = [...failures];
    if (options.fromConfig) {
      const plan = await planImages(options.config, engine, { dryRun: options.dryRun });
      all = [...all, ...plan.payloads];
      planFailures.push(...plan.failures);
    }
    progress = await createProgress(all.length, !options.json);
    const outcomes = await runImageJobs(all, { engine, logger }, { concurrency: options.config.concurrency.images, onSettled: () => progress.imageDone() });
    progress.stop();
    const report = buildReport(outcomes, planFailures, started, new Date());
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    const errors: AirlockError[] = [...planFailures.map((f) => f.error), ...outcomes.flatMap((o) => (o.error ? [o.error] : []))];
    // Each failure once more on stderr, one line each, so scripts and operators see why without the report.
    for (const e of errors) process.stderr.write(`airlock: ${redact(formatErrorLine(e))}\n`);
    return exitCodeFor(report, errors);
  } finally {
    progress.stop();
    await engine.close();
    await store.close();
    logger.flush();
  }
}
