import { AirlockError, type ErrorCode } from './errors.js';

/**
 * The grammars of everything a value from an upstream or an operator may come to name: a file or
 * directory, an OCI repository or tag, a digest, a chart, a version. Every such value is checked
 * here where it enters, before it names anything, because a name that reaches `path.join`, a URL
 * path or a Redis key unchecked can point outside what it was meant to name (`../`, `/`, NUL).
 */
export type NameKind = 'digest' | 'repository' | 'tag' | 'path-segment' | 'chart-name' | 'version' | 'registry-host';

/** Digest algorithms airlock verifies, with the length of their lowercase hex encoding. */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

// OCI distribution spec: path components joined by `/`, the whole at most 255 characters (ours).
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
// Docker's `domainAndPort` (distribution/reference regexp.go): DNS-like labels (any case, IPv4
// included) or a bracketed IPv6 address without zone, then an optional port.
const REGISTRY_HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::([0-9]+))?$/;
// Helm's own rule for chart names in metadata (letters, digits, `.`, `_`, `-`), one path segment.
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,249}$/;
// Versions name files (`chart-1.0.0.tgz`) and tags: SemVer's characters only, `v` prefix allowed.
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `value` is not a valid `kind`, or undefined when it is. */
export function nameProblem(kind: NameKind, value: unknown): string | undefined {
  if (typeof value !== 'string') return `is ${value === null ? 'null' : typeof value}, not a string`;
  if (value === '') return 'is empty';
  switch (kind) {
    case 'digest':
      return digestProblem(value);
    case 'repository':
      if (value.length > 255) return 'is longer than 255 characters';
      return REPOSITORY.test(value) ? undefined : 'is not an OCI repository name (lowercase components joined by /)';
    case 'tag':
      return TAG.test(value) ? undefined : 'is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128)';
    case 'path-segment':
      return segmentProblem(value);
    case 'chart-name':
      return (
        segmentProblem(value) ??
        (CHART_NAME.test(value) ? undefined : 'is not a chart name (letters, digits, ".", "_", "-")')
      );
    case 'version':
      return (
        segmentProblem(value) ??
        (VERSION.test(value) ? undefined : 'is not a version (letters, digits, ".", "+", "_", "-")')
      );
    case 'registry-host': {
      const m = REGISTRY_HOST.exec(value);
      if (!m) return 'is not a registry host (host name, IPv4 or [IPv6] address, optional :port)';
      // Docker's grammar takes any digits; a port past 65535 could never be dialled.
      return m[1] !== undefined && Number(m[1]) > 65535 ? 'has a port above 65535' : undefined;
    }
  }
}

function segmentProblem(value: string): string | undefined {
  if (value === '.' || value === '..') return 'is a relative path';
  if (/[/\\]/.test(value)) return 'contains a path separator';
  if (CONTROL.test(value)) return 'contains a control character';
  if (value.length > 255) return 'is longer than 255 characters';
  return undefined;
}

function digestProblem(value: string): string | undefined {
  const colon = value.indexOf(':');
  if (colon <= 0) return 'is not a digest (algorithm:hex)';
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const length = DIGEST_ALGORITHMS[algorithm];
  if (length === undefined) return `uses an unsupported digest algorithm "${printable(algorithm)}" (sha256, sha512)`;
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex))
    return `is not a ${algorithm} digest (${length} lowercase hex digits)`;
  return undefined;
}

export function isValidName(kind: NameKind, value: unknown): value is string {
  return nameProblem(kind, value) === undefined;
}

export interface NameCheck {
  /** What the value is, for the message: `chart name in index.yaml`, `layer digest`. */
  field: string;
  /** The artifact the value belongs to. */
  artifact?: string;
  /** Error code when invalid; upstream content defaults to E_UNSUPPORTED. */
  code?: ErrorCode;
}

/** Returns `value` when it is a valid `kind`; else throws a one-line AirlockError naming field and cause. */
export function checkName(kind: NameKind, value: unknown, check: NameCheck): string {
  const problem = nameProblem(kind, value);
  if (problem === undefined) return value as string;
  const shown = typeof value === 'string' ? `"${printable(value)}"` : String(value);
  return fail(check, `${check.field} ${shown} ${problem}`);
}

function fail(check: NameCheck, message: string): never {
  throw new AirlockError(check.code ?? 'E_UNSUPPORTED', message, check.artifact ? { artifact: check.artifact } : {});
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** A value safe to print on one terminal line: control characters escaped, long values cut. */
export function printable(value: string, max = 200): string {
  const escaped = value.replace(CONTROL_CHARACTERS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}
