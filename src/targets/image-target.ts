import { AirlockError } from '../core/errors.js';
import type { RegistryImageRef } from '../oci/reference.js';

export interface TargetRule {
  /** `host[:port][/prefix]` or `oci:DIR`. */
  registry: string;
  /** `{host}/{repository}` by default: two upstreams never collide at the target. */
  path: string;
}

export const DEFAULT_TARGET_PATH = '{host}/{repository}';

/** `127.0.0.1:5000` → `127.0.0.1-5000`: a port is not allowed in a repository path. */
export function hostComponent(registry: string): string {
  return registry.toLowerCase().replace(/[[\]]/g, '').replace(/:/g, '-');
}

const PLACEHOLDER = /\{(host|repository|name)\}/g;

/** Why a path rule would fail for every image, or undefined: braces left once its placeholders are filled. */
export function pathRuleProblem(path: string): string | undefined {
  return /[{}]/.test(path.replace(PLACEHOLDER, ''))
    ? `unknown placeholder in "${path}" (use {host}, {repository}, {name})`
    : undefined;
}

/**
 * The two parts of where a source repository lands in a registry: the registry as configured
 * (`host[:port][/prefix]`) and the path the rule renders below it. A reference split over
 * several values (Helm's `image: {registry, repository}`) gets one part in each; joined with `/`
 * they are the mirrored repository (for an `oci:` store, the registry part is `oci:DIR`).
 */
export function targetParts(source: RegistryImageRef, rule: TargetRule): { registry: string; repository: string } {
  const name = source.repository.split('/').pop() ?? source.repository;
  const problem = pathRuleProblem(rule.path);
  if (problem) throw new AirlockError('E_CONFIG', `targets.images.path: ${problem}`);
  const rendered = rule.path.replace(PLACEHOLDER, (_m, k: string) =>
    k === 'host' ? hostComponent(source.registry) : k === 'repository' ? source.repository : name,
  );
  const base = rule.registry.replace(/^docker:\/\//, '').replace(/\/+$/, '');
  return { registry: base, repository: rendered };
}

/**
 * Where a source repository lands: `docker://` + the target registry + the path rule, or a
 * directory per repository below an `oci:` store. Returns a reference without tag.
 */
export function targetRepository(source: RegistryImageRef, rule: TargetRule): string {
  const { registry, repository } = targetParts(source, rule);
  if (registry.startsWith('oci:')) return `${registry}/${repository}`;
  return `docker://${registry}/${repository}`;
}
