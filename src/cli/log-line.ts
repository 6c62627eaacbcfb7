import { terminalText } from '../core/terminal.js';

// pino's level numbers, as the lines it writes carry them.
const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warning',
  50: 'error',
  60: 'fatal',
};

// Fields every pino line carries: on a terminal they say nothing the reader needs.
const FRAME = new Set(['level', 'time', 'name', 'pid', 'hostname', 'msg']);

function fieldValue(key: string, value: unknown): string {
  if (typeof value === 'number' && (key === 'wait' || /Ms$/.test(key)))
    return value >= 1000 ? `${(value / 1000).toFixed(1)}s` : `${Math.round(value)}ms`;
  if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string')
    return (value as { message: string }).message;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A JSON log line as one line for a person at a terminal (`airlock: warning: MSG (key=value, …)`),
 * escaped for the terminal. Pipes and files keep the JSON lines: collectors parse those. A line
 * that is not pino's JSON is shown as it came, escaped.
 */
export function formatLogLine(line: string): string {
  const text = line.replace(/\n$/, '');
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    return terminalText(text);
  }
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return terminalText(text);
  const fields = entry as Record<string, unknown>;
  const level = typeof fields.level === 'number' ? (LEVEL_NAMES[fields.level] ?? `level ${fields.level}`) : 'log';
  const msg = typeof fields.msg === 'string' ? fields.msg : '';
  const rest = Object.entries(fields)
    .filter(([k, v]) => !FRAME.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(k, v)}`);
  return terminalText(`airlock: ${level}: ${msg || '(no message)'}${rest.length ? ` (${rest.join(', ')})` : ''}`);
}
