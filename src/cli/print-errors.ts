import { formatErrorLine, type AirlockError } from '../errors.js';
import { redact } from '../secrets.js';
import { terminalText } from '../util/terminal.js';

/** Each failure as one line on stderr, secrets redacted: what scripts and operators read. */
export function printErrorLines(errors: AirlockError[]): void {
  for (const e of errors) process.stderr.write(`airlock: ${terminalText(redact(formatErrorLine(e)))}\n`);
}
