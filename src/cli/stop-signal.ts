/** What stopping logs through: airlock's Logger, or serve's pino with its flush made a promise. */
export interface StopLog {
  warn(obj: object, msg: string): void;
  flush(): Promise<void>;
}

/** Kubernetes sends SIGKILL 30 s after SIGTERM by default: stop well before. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 25_000;

/**
 * Resolves with the first SIGTERM or SIGINT, listening from this call on (so a signal during
 * start-up, while Redis is still being reached, counts too). A second signal exits at once.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) process.exit(0);
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * Ends a long-running process within `graceMs` of a stop signal, with status 0: `graceful` (stop
 * taking work, let what runs finish, close connections) gets at most that long, and no time at all
 * once `nothingToWaitFor()` says so (Redis is away and no job is inside the processor: there is
 * nothing a wait could save). Whatever is still open then is cut off by the exit; a job cut off is
 * taken over by another worker once its lock expires.
 */
export async function stopWithin(
  graceMs: number,
  logger: StopLog,
  graceful: Promise<unknown>,
  nothingToWaitFor: () => boolean = () => false,
): Promise<never> {
  const deadline = Date.now() + graceMs;
  let finished = false;
  graceful.then(
    () => {
      finished = true;
    },
    (e: unknown) => {
      logger.warn({ err: (e as Error).message }, 'stopping: closing failed');
      finished = true;
    },
  );
  while (!finished && Date.now() < deadline && !nothingToWaitFor()) await new Promise((r) => setTimeout(r, 50));
  if (!finished)
    logger.warn(
      { graceMs },
      Date.now() >= deadline
        ? 'stopping: grace period over, exiting with work left to other workers'
        : 'stopping: Redis is away and no job runs; exiting without waiting for it',
    );
  await logger.flush();
  process.exit(0);
}
