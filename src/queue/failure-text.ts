import { AirlockError, EXIT_CODES, formatErrorLine, type ErrorCode } from '../core/errors.js';
import { redact } from '../core/secrets.js';

/**
 * The text a failed job leaves in BullMQ (its `failedReason`), written and read here only. BullMQ
 * keeps an Error's message, not the error: so the code travels as text, `[E_CODE] artifact: message`
 * on one line with secrets redacted (what `runs show` and the queue UI print), and the flow parent,
 * `runs`, and `sync --queue` read the code back from it.
 */

const CODE = /^\[([A-Z][A-Z0-9_]*)\] /;

/** The failure line of an error: one line, secrets redacted. */
export function encodeJobFailure(error: AirlockError): string {
  // The artifact too: a line break anywhere would split what `runs show` prints as one failure.
  return redact(formatErrorLine(error).replace(/\s*[\r\n]+\s*/g, ' '));
}

/**
 * A failure line read back: its code, and the rest (`artifact: message`) as the message. A text
 * without a code (BullMQ's own, a step's plain UnrecoverableError) or with a code this version does
 * not know (a newer worker's) is E_REGISTRY, the whole text kept as its message.
 */
export function decodeJobFailure(text: string): { code: ErrorCode; message: string } {
  const m = CODE.exec(text);
  const code = m?.[1];
  if (!m || !code || !(code in EXIT_CODES)) return { code: 'E_REGISTRY', message: text };
  return { code: code as ErrorCode, message: text.slice(m[0].length) };
}

/** A failure line read back as an error (with the message it had; the artifact stays in it). */
export function jobFailureError(text: string): AirlockError {
  const { code, message } = decodeJobFailure(text);
  return new AirlockError(code, message);
}

// A flow parent failed by one of its children (`failParentOnFailure`): BullMQ fails it with exactly
// `child <job key> failed`; the register-plugin step, which sees the child first, adds its reason.
const CHILD = /^child (\S+) failed(: |$)/;

/** The parent's failure text for a child that failed, with the child's own reason. */
export function encodeChildFailure(childKey: string, reason: string): string {
  return `child ${childKey} failed: ${reason}`;
}

/** The key of the child that failed the parent, when the text says a child did. */
export function failedChildKey(text: string): string | undefined {
  return CHILD.exec(text)?.[1];
}

/** BullMQ's own text for a parent its child failed (no reason: the processor never ran to add one). */
export function isBullmqChildFailure(text: string): boolean {
  return CHILD.exec(text)?.[2] === '';
}
