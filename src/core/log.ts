import type { DestinationStream, Logger as PinoLogger } from 'pino';
import { AirlockError } from './errors.js';
import { redact, redactValue } from './secrets.js';

export type { PinoLogger };

type LogFn = {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
};

/** What airlock logs through: pino's level methods, and a flush that resolves once written. */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  flush(): Promise<void>;
}

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Method = Exclude<keyof typeof LEVELS, 'silent'>;

function levelOf(options: LoggerOptions): keyof typeof LEVELS {
  const level = options.level ?? process.env.AIRLOCK_LOG_LEVEL ?? 'info';
  if (!(level in LEVELS))
    throw new AirlockError('E_USAGE', `unknown log level "${level}" (use ${Object.keys(LEVELS).join(', ')})`);
  return level as keyof typeof LEVELS;
}

/**
 * The process logger (pino). Every string argument and every field goes through the secret
 * redactor, so a token that slips into an error message or a URL never reaches the log.
 */
export async function createPinoLogger(options: LoggerOptions = {}): Promise<PinoLogger> {
  // The default export is pino itself both under Node's ESM loader and in the CLI bundle.
  const { default: pino } = await import('pino');
  return pino(
    {
      level: levelOf(options),
      base: { name: 'airlock' },
      formatters: {
        log: (obj) => redactValue(obj) as Record<string, unknown>,
      },
      // pino applies these after formatters.log, so what they pick is redacted here.
      serializers: { req: serializeRequest, res: serializeResponse },
      hooks: {
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>;
          method.apply(this, clean);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** A request in a log line (Fastify's, or Node's): method and URL, the URL without `?token=` values. */
export function serializeRequest(req: { method?: string; url?: string }): { method?: string; url?: string } {
  return { method: req.method, url: typeof req.url === 'string' ? redact(req.url) : undefined };
}

export function serializeResponse(res: { statusCode?: number }): { statusCode?: number } {
  return { statusCode: res.statusCode };
}

/**
 * The logger commands and jobs use: pino, created with the first line that passes the level. A
 * one-shot command at the default `warn` usually logs nothing, and starting pino (its transport
 * machinery loads worker threads) is a measurable part of a fresh process's start. Lines logged
 * while pino loads are kept and written in order once it is there. If pino cannot start, those
 * lines and every later one go to stderr as plain JSON lines instead, so nothing piles up.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = levelOf(options);
  let root: PinoLogger | undefined;
  let failed = false;
  let ready: Promise<PinoLogger | undefined> | undefined;
  let pending: Array<{ write: (logger: PinoLogger) => void; plain: () => void }> = [];
  const start = () => {
    ready ??= createPinoLogger({ ...options, level }).then(
      (logger) => {
        root = logger;
        for (const p of pending) p.write(logger);
        pending = [];
        return logger;
      },
      (e: unknown) => {
        process.stderr.write(`airlock: cannot start the logger: ${redact(String(e))}\n`);
        failed = true;
        for (const p of pending) p.plain();
        pending = [];
        return undefined;
      },
    );
  };
  const flush = async () => {
    const logger = await ready;
    if (logger) await new Promise<void>((resolve) => logger.flush(() => resolve()));
  };
  // `resolve` turns the root pino logger into this logger's own (the root, or a child with bindings).
  const make = (resolve: (root: PinoLogger) => PinoLogger, bindings: Record<string, unknown>): Logger => {
    let own: PinoLogger | undefined;
    const target = (r: PinoLogger) => (own ??= resolve(r));
    const method =
      (name: Method): LogFn =>
      (...args: unknown[]) => {
        if (LEVELS[name] < LEVELS[level]) return;
        const write = (r: PinoLogger) => (target(r)[name] as (...a: unknown[]) => void)(...args);
        const plain = () => process.stderr.write(plainLine(name, bindings, args));
        if (root) return write(root);
        if (failed) return void plain();
        pending.push({ write, plain });
        start();
      };
    return {
      fatal: method('fatal'),
      error: method('error'),
      warn: method('warn'),
      info: method('info'),
      debug: method('debug'),
      trace: method('trace'),
      child: (more) => make((r) => target(r).child(more), { ...bindings, ...more }),
      flush,
    };
  };
  return make((r) => r, {});
}

/** A log line without pino, shaped like pino's (level number, time, name, bindings, fields, msg) and redacted alike. */
function plainLine(name: Method, bindings: Record<string, unknown>, args: unknown[]): string {
  const [first, ...rest] = args;
  const fields = first instanceof Error ? { err: first } : first !== null && typeof first === 'object' ? first : {};
  const msg = typeof first === 'string' ? first : typeof rest[0] === 'string' ? rest[0] : undefined;
  const line = {
    level: LEVELS[name],
    time: Date.now(),
    name: 'airlock',
    ...bindings,
    ...fields,
    ...(msg !== undefined ? { msg } : {}),
  };
  try {
    return `${JSON.stringify(redactValue(line))}\n`;
  } catch {
    // A field JSON cannot hold (a cycle, a BigInt): the message still gets out.
    return `${JSON.stringify({ level: LEVELS[name], time: line.time, name: 'airlock', msg: msg === undefined ? undefined : redact(msg) })}\n`;
  }
}

export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}
