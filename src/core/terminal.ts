import { printable } from './names.js';

/**
 * Output that reaches a terminal carries text from outside (a webhook's `reason`, an upstream's
 * error message): control characters in it could move the cursor, rewrite earlier lines or set
 * the window title. Text lines get them escaped (`\x1b`), whole, without the cut printable() makes.
 */
export function terminalText(value: string): string {
  return printable(value, Number.POSITIVE_INFINITY);
}

/**
 * Text for a fixed-width cell (the runs table, the live progress display): each control character
 * becomes one `?`, so the text keeps the width it will be padded and cut to; an escape would not.
 */
export function terminalCell(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Every string of a plain value escaped by terminalText, for printing as text lines. */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => terminalSafe(v)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, terminalSafe(v)])) as T;
  return value;
}

/**
 * JSON for stdout: JSON.stringify escapes C0 controls but writes DEL and the C1 range (U+0080-U+009F,
 * where U+009B is a one-character CSI) as they are; those become `\u00XX` too. The data is unchanged.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
