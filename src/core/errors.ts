/**
 * Every failure airlock reports is an AirlockError with a stable `code`.
 * Callers switch on the code (and `permanent`), never on the message.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_REFERENCE'
  | 'E_TRANSPORT'
  | 'E_UNREACHABLE'
  | 'E_UNAUTHORIZED'
  | 'E_DENIED'
  | 'E_NOT_FOUND'
  | 'E_DIGEST_MISMATCH'
  | 'E_SCHEMA1'
  | 'E_UNSUPPORTED'
  | 'E_PLATFORM'
  | 'E_RATE_LIMITED'
  | 'E_REGISTRY'
  | 'E_UPLOAD'
  | 'E_LAYOUT'
  | 'E_STATE'
  | 'E_CONFLICT'
  /** Content past a size or count limit (an index, an archive that expands too far). */
  | 'E_TOO_LARGE';

/** Exit codes the CLI maps error codes to (documented in the README). */
export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_CONFIG: 2,
  E_REFERENCE: 2,
  E_TRANSPORT: 2,
  E_UNREACHABLE: 3,
  E_UNAUTHORIZED: 4,
  E_DENIED: 4,
  E_NOT_FOUND: 5,
  E_DIGEST_MISMATCH: 6,
  E_SCHEMA1: 7,
  E_UNSUPPORTED: 7,
  E_PLATFORM: 7,
  E_RATE_LIMITED: 3,
  E_REGISTRY: 1,
  E_UPLOAD: 1,
  E_LAYOUT: 1,
  E_STATE: 1,
  E_CONFLICT: 8,
  E_TOO_LARGE: 7,
};

/** Codes for which a retry cannot help (no backoff, no second attempt). */
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_USAGE',
  'E_CONFIG',
  'E_REFERENCE',
  'E_TRANSPORT',
  'E_UNAUTHORIZED',
  'E_DENIED',
  'E_NOT_FOUND',
  'E_DIGEST_MISMATCH',
  'E_SCHEMA1',
  'E_UNSUPPORTED',
  'E_PLATFORM',
  'E_CONFLICT',
  'E_TOO_LARGE',
]);

export interface ErrorDetails {
  /** The artifact the error is about, e.g. `docker://ghcr.io/org/app:1.0`. */
  artifact?: string;
  cause?: unknown;
  status?: number;
  retryAfterMs?: number;
}

export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly artifact: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.artifact = details.artifact;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }

  get permanent(): boolean {
    return PERMANENT.has(this.code);
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  /** The same error, now naming the artifact it happened to (keeps an artifact already set). */
  about(artifact: string): AirlockError {
    if (this.artifact) return this;
    const e = new AirlockError(this.code, this.message, {
      artifact,
      cause: this.cause,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
    });
    e.stack = this.stack;
    return e;
  }
}

export function isAirlockError(e: unknown): e is AirlockError {
  return e instanceof AirlockError;
}

/** Wraps anything thrown into an AirlockError, naming the artifact. */
export function toAirlockError(e: unknown, artifact?: string, fallback: ErrorCode = 'E_REGISTRY'): AirlockError {
  if (e instanceof AirlockError) return artifact ? e.about(artifact) : e;
  const message = e instanceof Error ? e.message : String(e);
  return new AirlockError(fallback, message, { artifact, cause: e });
}

/** One line for humans: `[CODE] artifact: message`, with secrets redacted by the caller. */
export function formatErrorLine(e: AirlockError): string {
  const where = e.artifact ? `${e.artifact}: ` : '';
  return `[${e.code}] ${where}${e.message.replace(/\s*\n\s*/g, ' ')}`;
}

/** 0 without errors; the errors' own exit code when they all agree; else 1. */
export function exitCodeForErrors(errors: AirlockError[]): number {
  if (errors.length === 0) return 0;
  const codes = new Set(errors.map((e) => e.exitCode));
  return codes.size === 1 ? ([...codes][0] ?? 1) : 1;
}
