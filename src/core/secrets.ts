/**
 * Secrets (passwords, tokens) are registered here the moment they are read, so every log line,
 * error message and report can be scrubbed of them in one place.
 */
const known = new Set<string>();

export const REDACTED = '***';

export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact ordinary words; such secrets are rejected by config anyway.
  if (value && value.length >= 4) {
    known.add(value);
    // Basic credentials travel base64-encoded; redact that form too.
    if (value.includes(':')) known.add(Buffer.from(value).toString('base64'));
  }
}

export function registerCredentials(username: string, password: string): void {
  registerSecret(password);
  registerSecret(`${username}:${password}`);
}

const AUTHORIZATION = /((?:authorization|proxy-authorization)["']?\s*[:=]\s*["']?(?:basic|bearer)\s+)[^\s"',}]+/gi;
const SECRET_FIELD = /((?:access_token|refresh_token|token|password|secret)["']?\s*[:=]\s*["']?)[^\s"'&,}]+/gi;
const URL_USERINFO = /(\/\/[^/\s:@]+:)[^/\s@]+(@)/g;

/**
 * Whether a `password: …` match is airlock naming a config key in a message
 * (`registries[0].password: environment variable X is not set`) rather than a value: the name is
 * the last segment of a key path (a `.` or `[…]` in the run of key characters before it) and is
 * followed by a colon and a space, not `=` or quotes. Key paths are how airlock's config errors
 * begin; a secret written as `a.b.password: value` in free text is the price of not garbling them.
 */
function namesConfigKey(text: string, offset: number, pre: string): boolean {
  if (!/^[A-Za-z_]+:\s+$/.test(pre)) return false;
  const run = /[\w.[\]-]*$/.exec(text.slice(Math.max(0, offset - 200), offset))?.[0] ?? '';
  return /[.[\]]/.test(run);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of known) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  out = out.replace(AUTHORIZATION, (_m, pre: string) => `${pre}${REDACTED}`);
  out = out.replace(SECRET_FIELD, (m: string, pre: string, offset: number, whole: string) =>
    namesConfigKey(whole, offset, pre) ? m : `${pre}${REDACTED}`,
  );
  out = out.replace(URL_USERINFO, (_m, pre: string, post: string) => `${pre}${REDACTED}${post}`);
  return out;
}

/**
 * A copy of plain objects and arrays with every string redacted and secret-named keys blanked;
 * an Error becomes its type, redacted message and code. Other class instances (a Fastify request,
 * a socket, a Buffer) pass through as they are: copying them would drop the prototype getters
 * their serializers read and cost a deep walk per log line.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return value;
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) {
    return { type: value.name, message: redact(value.message), code: (value as { code?: unknown }).code };
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = /^(password|token|secret|authorization|access_token|refresh_token|auth)$/i.test(k)
      ? REDACTED
      : redactValue(v, depth + 1);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** For tests: forget registered secrets. */
export function clearSecrets(): void {
  known.clear();
}
