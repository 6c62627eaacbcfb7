import { pino, type Logger, type DestinationStream } from 'pino';
import { redact, redactValue } from './secrets.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

/**
 * The process logger. Every string argument and every field goes through the secret redactor,
 * so a token that slips into an error message or a URL never reaches the log.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.AIRLOCK_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { name: 'airlock' },
      formatters: {
        log: (obj) => redactValue(obj) as Record<string, unknown>,
      },
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

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
