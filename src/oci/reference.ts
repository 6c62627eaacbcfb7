import path from 'node:path';
import { AirlockError } from '../core/errors.js';
import { isValidName, nameProblem, printable } from '../core/names.js';
import { DOCKER_HUB } from '../http/registry-host.js';

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

// Docker's legacy name for the Hub; airlock also folds in the host the Hub is served at, so
// `registry-1.docker.io/x` and `x` name one repository (and one state key).
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io']);
// distribution/reference `identifier`: a bare image id, which Docker refuses as a name.
const IMAGE_ID = /^[a-f0-9]{64}$/;

export function isDigest(s: string): boolean {
  return isValidName('digest', s);
}

export function isValidTag(s: string): boolean {
  return isValidName('tag', s);
}

function bad(input: string, why: string): AirlockError {
  return new AirlockError('E_REFERENCE', `invalid image reference: ${why}`, { artifact: input });
}

/**
 * Docker's splitDockerDomain (distribution/reference normalize.go): the first component names a
 * registry when it is `localhost`, holds a `.` or `:`, or has an uppercase letter (repository
 * names are lowercase, so `Foo/bar` can only mean a host `Foo`); otherwise the name is on the Hub.
 */
function splitDomain(name: string): { registry: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { registry: DOCKER_HUB, remainder: `library/${name}` };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let registry: string;
  let remainder: string;
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    registry = DOCKER_HUB_ALIASES.has(first) ? DOCKER_HUB : first;
    remainder = rest;
  } else {
    registry = DOCKER_HUB;
    remainder = name;
  }
  if (registry === DOCKER_HUB && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { registry, remainder };
}

/**
 * Parses an image reference the way Docker does (distribution/reference ParseNormalizedNamed):
 * no host means Docker Hub, a single-component name on Docker Hub gets `library/`, and no tag or
 * digest means `latest` (unless `defaultTag` is false, for callers that select tags themselves).
 * Stricter than Docker where airlock must be: digests only of the algorithms airlock verifies,
 * ports that can be dialled.
 */
export function parseRegistryRef(input: string, opts: { defaultTag?: boolean } = {}): RegistryImageRef {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  if (raw === '') throw bad(input, 'empty reference');
  if (/\s/.test(raw)) throw bad(input, 'contains whitespace');
  if (IMAGE_ID.test(raw))
    throw bad(input, `"${raw}" is a 64-hex image id, not a repository name (write a repository, or name@sha256:…)`);

  const { registry, remainder } = splitDomain(raw);
  // A name holds no `@` or `:`: the first `@` starts the digest, the first `:` before it the tag.
  let rest = remainder;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const repository = rest;
  if (repository.toLowerCase() !== repository)
    throw bad(input, `repository name "${printable(repository)}" must be lowercase`);
  if (registry !== DOCKER_HUB) {
    const hostProblem = nameProblem('registry-host', registry);
    if (hostProblem) throw bad(input, `"${printable(registry)}" ${hostProblem}`);
  }
  if (repository === '' || repository.split('/').includes('')) throw bad(input, 'missing repository name');
  const repoProblem = nameProblem('repository', repository);
  if (repoProblem) throw bad(input, `repository name "${printable(repository)}" ${repoProblem}`);
  if (tag !== undefined && !isValidName('tag', tag)) throw bad(input, `"${printable(tag)}" is not a valid tag`);
  if (digest !== undefined) {
    const digestProblem = nameProblem('digest', digest);
    if (digestProblem) throw bad(input, `digest "${printable(digest)}" ${digestProblem}`);
  }

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
  if (at >= 0 && isDigest(rest.slice(at + 1))) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > 0) {
      const candidate = rest.slice(colon + 1);
      if (!candidate.includes('/') && candidate !== '') {
        if (!isValidTag(candidate)) throw bad(input, `"${printable(candidate)}" is not a valid tag`);
        tag = candidate;
        rest = rest.slice(0, colon);
      }
    }
  }
  return { transport: 'oci', dir: path.resolve(rest), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

const OTHER_TRANSPORTS = [
  'dir',
  'docker-archive',
  'docker-daemon',
  'oci-archive',
  'containers-storage',
  'sif',
  'tarball',
];

/** Parses a CLI reference; a reference without transport is a registry reference. */
export function parseImageRef(input: string, opts: { defaultTag?: boolean } = {}): ImageRef {
  if (input.startsWith('oci:')) return parseLayoutRef(input);
  if (input.startsWith('docker://')) return parseRegistryRef(input, opts);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input) ?? /^([a-z-]+):/.exec(input);
  if (scheme && (input.includes('://') || OTHER_TRANSPORTS.includes(scheme[1] ?? ''))) {
    throw new AirlockError('E_TRANSPORT', `unknown transport "${scheme[1]}:" (use docker:// or oci:)`, {
      artifact: input,
    });
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

/** Loopback registries are plain HTTP unless configured otherwise. */
export function isLoopbackRegistry(registry: string): boolean {
  const name = registry.toLowerCase();
  const host = name.startsWith('[') ? name.slice(0, name.indexOf(']') + 1) : (name.split(':')[0] ?? '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
