import { createHash } from '../core/lazy-crypto.js';
import { AirlockError } from '../core/errors.js';
import { checkName } from '../core/names.js';
import { INDEX_TYPES, MANIFEST_TYPES, MT, SCHEMA1_TYPES } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  subject?: Descriptor;
}

export type ParsedManifest = ImageManifest | ImageIndex;

/** Manifest bytes exactly as the registry served them, with the type it declared. */
export interface RawManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function digestOf(bytes: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function isDescriptor(d: unknown): d is Descriptor {
  const o = d as Descriptor;
  return !!o && typeof o.mediaType === 'string' && typeof o.digest === 'string' && typeof o.size === 'number';
}

/**
 * A descriptor's digest names a blob path in a layout and a URL path at a registry: it is checked
 * against the digest grammar (a known algorithm, its exact hex length) before anything uses it,
 * and its size must be a byte count.
 */
export function checkDescriptor(d: Descriptor, field: string, artifact: string): Descriptor {
  checkName('digest', d.digest, { field: `${field} digest`, artifact });
  if (!Number.isSafeInteger(d.size) || d.size < 0)
    throw new AirlockError('E_UNSUPPORTED', `${field} ${d.digest} has an invalid size ${String(d.size)}`, { artifact });
  return d;
}

/**
 * Reads the parts of a manifest the copier needs; the bytes themselves are never re-serialised.
 * The media type comes from the body when present, else from the Content-Type the registry sent.
 */
export function parseManifest(raw: RawManifest, artifact: string): ParsedManifest {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AirlockError('E_REGISTRY', `manifest is not valid JSON (${raw.mediaType || 'no content type'})`, {
      artifact,
    });
  }
  const declared = typeof body.mediaType === 'string' ? body.mediaType : '';
  const contentType = (raw.mediaType || '').split(';')[0]?.trim() ?? '';
  if (body.schemaVersion === 1 || SCHEMA1_TYPES.has(declared) || SCHEMA1_TYPES.has(contentType)) {
    throw new AirlockError(
      'E_SCHEMA1',
      'Docker schema1 manifest refused: it is deprecated and cannot be copied digest-exact; rebuild or re-push the image with a current client',
      { artifact },
    );
  }
  let mediaType = declared || contentType;
  if (!mediaType || (!INDEX_TYPES.has(mediaType) && !MANIFEST_TYPES.has(mediaType))) {
    // OCI allows mediaType to be absent; the shape tells index from manifest.
    if (Array.isArray(body.manifests)) mediaType = MT.ociIndex;
    else if (body.config) mediaType = MT.ociManifest;
  }
  const subject = isDescriptor(body.subject) ? checkDescriptor(body.subject, 'subject', artifact) : undefined;
  if (INDEX_TYPES.has(mediaType)) {
    const manifests = Array.isArray(body.manifests) ? body.manifests : [];
    if (!manifests.every(isDescriptor))
      throw new AirlockError('E_REGISTRY', 'index has a malformed descriptor', { artifact });
    for (const m of manifests) checkDescriptor(m, 'index child', artifact);
    return { kind: 'index', mediaType, manifests, ...(subject ? { subject } : {}) };
  }
  if (MANIFEST_TYPES.has(mediaType)) {
    const layers = Array.isArray(body.layers) ? body.layers : [];
    if (!isDescriptor(body.config) || !layers.every(isDescriptor)) {
      throw new AirlockError('E_REGISTRY', 'manifest has a malformed config or layer descriptor', { artifact });
    }
    checkDescriptor(body.config, 'config', artifact);
    for (const l of layers) checkDescriptor(l, 'layer', artifact);
    return {
      kind: 'manifest',
      mediaType,
      config: body.config,
      layers,
      ...(subject ? { subject } : {}),
      ...(typeof body.artifactType === 'string' ? { artifactType: body.artifactType } : {}),
    };
  }
  throw new AirlockError('E_UNSUPPORTED', `unsupported manifest media type "${mediaType || 'none'}"`, { artifact });
}

/** Checks served bytes against the digest we asked for or the registry announced. */
export function verifyManifestDigest(raw: RawManifest, expected: string | undefined, artifact: string): void {
  if (!expected) return;
  checkName('digest', expected, { field: 'manifest digest', artifact });
  const algorithm = expected.split(':')[0] ?? 'sha256';
  const actual = digestOf(raw.bytes, algorithm);
  if (actual !== expected) {
    throw new AirlockError('E_DIGEST_MISMATCH', `manifest digest mismatch: expected ${expected}, got ${actual}`, {
      artifact,
    });
  }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** `linux/arm64/v8` style matching; a filter without variant matches every variant. */
export function platformMatches(p: Platform | undefined, filter: string): boolean {
  if (!p) return false;
  const [os, arch, variant] = filter.split('/');
  if (p.os !== os || p.architecture !== arch) return false;
  return variant === undefined || p.variant === variant;
}

export function parsePlatform(filter: string): string {
  if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(filter)) {
    throw new AirlockError('E_USAGE', `invalid platform "${filter}" (expected os/arch[/variant], e.g. linux/amd64)`);
  }
  return filter;
}
