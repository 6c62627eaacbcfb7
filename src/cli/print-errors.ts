import { formatErrorLine, type AirlockError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { terminalText } from '../core/terminal.js';

/** Each failure as one line on stderr, secrets redacted: what scripts and operators read. */
export function printErrorLines(errors: AirlockError[]): void {
  for (const e of errors) process.stderr.write(`airlock: ${terminalText(redact(formatErrorLine(e)))}\n`);
}
