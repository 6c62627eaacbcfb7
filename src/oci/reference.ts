import path from 'node:path';
import { AirlockError } from '../errors.js';

/** An image in a registry: `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`. */
export interface RegistryImageRef {
  transport: 'docker';
  /** Registry name as users write it after normalisation (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** An image in an OCI image layout directory: `oci:DIR[:TAG]` or `oci:DIR@DIGEST`. */
export interface LayoutImageRef {
  transport: 'oci';
  dir: string;
  tag?: string;
  digest?: string;
}

export type ImageRef = RegistryImageRef | LayoutImageRef;

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

export function isValidTag(s: string): boolean {
  return TAG.test(s);
}

function bad(input: string, why: string): AirlockError {
  return new AirlockError('E_REFERENCE', `invalid image reference: ${why}`, { artifact: input });
}

/**
 * Parses an image reference the way Docker does: no host means Docker Hub, a single-component
 * name on Docker Hub gets `library/`, and no tag or digest means `latest` (unless `defaultTag`
 * is false, for callers that select tags themselves).
 */
export function parseRegistryRef(input: string, opts: { defaultTag?: boolean } = {}): RegistryImageRef {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  if (raw === '') throw bad(input, 'empty reference');
  if (/\s/.test(raw)) throw bad(input, 'contains whitespace');

  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, `"${digest}" is not a sha256/sha512 digest`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }

  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) throw bad(input, `"${registry}" is not a valid registry host`);
  }
  if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => p === '')) throw bad(input, 'missing repository name');
  for (const p of parts) {
    if (!NAME_COMPONENT.test(p)) throw bad(input, `repository component "${p}" must be lowercase letters, digits and separators`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw bad(input, 'repository name longer than 255 characters');

  if (!tag && !digest && opts.defaultTag !== false) tag = 'latest';
  return { transport: 'docker', registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** `oci:DIR[:TAG]` / `oci:DIR@DIGEST`; a trailing `:x` is a tag only when it is a valid tag and not a path. */
export function parseLayoutRef(input: string): LayoutImageRef {
  let rest = input.slice('oci:'.length);
  if (rest === '') throw bad(input, 'oci: needs a directory');
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0 && DIGEST.test(rest.slice(at + 1))) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > 0) {
      const candidate = rest.slice(colon + 1);
      if (!candidate.includes('/') && candidate !== '') {
        if (!TAG.test(candidate)) throw bad(input, `"${candidate}" is not a valid tag`);
        tag = candidate;
        rest = rest.slice(0, colon);
      }
    }
  }
  return { transport: 'oci', dir: path.resolve(rest), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

const OTHER_TRANSPORTS = ['dir', 'docker-archive', 'docker-daemon', 'oci-archive', 'containers-storage', 'sif', 'tarball'];

/** Parses a CLI reference; a reference without transport is a registry reference. */
export function parseImageRef(input: string, opts: { defaultTag?: boolean } = {}): ImageRef {
  if (input.startsWith('oci:')) return parseLayoutRef(input);
  if (input.startsWith('docker://')) return parseRegistryRef(input, opts);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input) ?? /^([a-z-]+):/.exec(input);
  if (scheme && (input.includes('://') || OTHER_TRANSPORTS.includes(scheme[1] ?? ''))) {
    throw new AirlockError('E_TRANSPORT', `unknown transport "${scheme[1]}:" (use docker:// or oci:)`, { artifact: input });
  }
  return parseRegistryRef(input, opts);
}

export function formatRef(ref: ImageRef): string {
  const suffix = ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : '';
  if (ref.transport === 'oci') return `oci:${ref.dir}${suffix}`;
  return `docker://${ref.registry}/${ref.repository}${suffix}`;
}

/** `registry/repository` without transport, tag or digest. */
export function repoName(ref: RegistryImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The host actually contacted for a registry name (Docker Hub is served elsewhere). */
export function registryEndpointHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Loopback registries are plain HTTP unless configured otherwise. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : (registry.split(':')[0] ?? '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
