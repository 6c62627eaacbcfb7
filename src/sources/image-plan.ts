import type { AirlockConfig, ImageEntry } from '../config/schema.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { formatRef, parseImageRef, parseRegistryRef, type RegistryImageRef } from '../oci/reference.js';
import { targetRepository } from '../targets/image-target.js';
import { needsTagList, selectTags } from './tag-selection.js';
import type { PlanFailure } from '../model/plan-failure.js';

export interface ImagePlan {
  payloads: MirrorImagePayload[];
  failures: PlanFailure[];
}

/** Expands the config's `images:` into one copy per tag. A source that cannot be listed fails alone. */
export async function planImages(
  config: AirlockConfig,
  engine: RegistryAccess,
  options: { dryRun?: boolean } = {},
): Promise<ImagePlan> {
  const payloads: MirrorImagePayload[] = [];
  const failures: PlanFailure[] = [];
  const seen = new Set<string>();
  await Promise.all(
    config.images.map(async (entry, i) => {
      try {
        for (const p of await planEntry(entry, i, config, engine)) {
          const key = `${p.source} ${p.target}`;
          if (seen.has(key)) continue;
          seen.add(key);
          payloads.push({ ...p, ...(options.dryRun ? { dryRun: true } : {}) });
        }
      } catch (e) {
        failures.push({ artifact: entry.source, error: toAirlockError(e, entry.source) });
      }
    }),
  );
  payloads.sort((a, b) => a.source.localeCompare(b.source));
  return { payloads, failures };
}

async function planEntry(
  entry: ImageEntry,
  index: number,
  config: AirlockConfig,
  engine: RegistryAccess,
): Promise<MirrorImagePayload[]> {
  const ref = parseRegistryRef(entry.source, { defaultTag: false });
  const targetRepo = entryTarget(entry, config);
  if (!targetRepo)
    throw new AirlockError(
      'E_CONFIG',
      `images[${index}]: no target: set images[${index}].target or targets.images.registry`,
    );
  const common = entryCopyOptions(entry);
  const base = formatRef({ ...ref, tag: undefined, digest: undefined });
  if (ref.digest) return [{ source: `${base}@${ref.digest}`, target: targetRepo, ...common }];
  let tags = namedTags(entry, ref);
  if (!tags) {
    const available = await engine.client.listTags({ registry: ref.registry, repository: ref.repository });
    tags = selectTags(available, entry);
    if (tags.length === 0)
      throw new AirlockError('E_NOT_FOUND', `no tag of ${available.length} matches the selection`, {
        artifact: entry.source,
      });
  }
  return [...new Set(tags)].map((tag) => ({ source: `${base}:${tag}`, target: targetRepo, ...common }));
}

/**
 * The normalised target repository of an entry (no tag), as sync and the registry webhook both
 * name it: job ids are built from it, so a webhook copy and a sync copy of one tag dedupe.
 * Undefined when neither the entry nor targets.images says where it goes.
 */
export function entryTarget(entry: ImageEntry, config: AirlockConfig): string | undefined {
  if (entry.target) {
    const t = parseImageRef(entry.target, { defaultTag: false });
    return formatRef({ ...t, tag: undefined, digest: undefined });
  }
  const rule = config.targets.images;
  return rule ? targetRepository(parseRegistryRef(entry.source, { defaultTag: false }), rule) : undefined;
}

/** The copy options an entry passes to each of its jobs. */
export function entryCopyOptions(entry: ImageEntry): Pick<MirrorImagePayload, 'platforms' | 'referrers' | 'immutable'> {
  return {
    ...(entry.platforms ? { platforms: entry.platforms } : {}),
    ...(entry.referrers !== undefined ? { referrers: entry.referrers } : {}),
    ...(entry.immutable !== undefined ? { immutable: entry.immutable } : {}),
  };
}

/**
 * Whether a sync of this entry would copy `tag`. A digest-pinned entry copies no tag at all. With
 * a semver/regex/newest selection the tag is judged alone: `newest: N` cannot tell without the
 * tag list whether it is among the newest, so any version-like tag counts.
 */
export function entryWantsTag(entry: ImageEntry, tag: string): boolean {
  const named = namedTags(entry, parseRegistryRef(entry.source, { defaultTag: false }));
  return named ? named.includes(tag) : selectTags([tag], entry).includes(tag);
}

/** The tags an entry names outright, or undefined when its selection needs the repository's tag list. */
function namedTags(entry: ImageEntry, ref: RegistryImageRef): string[] | undefined {
  if (ref.digest) return [];
  if (ref.tag) return [ref.tag, ...(entry.tags ?? [])];
  if (needsTagList(entry)) return undefined;
  return entry.tags?.length ? entry.tags : ['latest'];
}
