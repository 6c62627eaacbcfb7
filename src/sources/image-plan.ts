import type { AirlockConfig, ImageEntry } from '../config/schema.js';
import type { Engine } from '../engine.js';
import { AirlockError, toAirlockError } from '../errors.js';
import type { MirrorImagePayload } from '../jobs/mirror-image.js';
import { formatRef, parseImageRef, parseRegistryRef } from '../oci/reference.js';
import { targetRepository } from '../targets/image-target.js';
import { needsTagList, selectTags } from './tag-selection.js';

export interface PlanFailure {
  artifact: string;
  error: AirlockError;
}

export interface ImagePlan {
  payloads: MirrorImagePayload[];
  failures: PlanFailure[];
}

/** Expands the config's `images:` into one copy per tag. A source that cannot be listed fails alone. */
export async function planImages(config: AirlockConfig, engine: Engine, options: { dryRun?: boolean } = {}): Promise<ImagePlan> {
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

async function planEntry(entry: ImageEntry, index: number, config: AirlockConfig, engine: Engine): Promise<MirrorImagePayload[]> {
  const ref = parseRegistryRef(entry.source, { defaultTag: false });
  let targetRepo: string;
  if (entry.target) {
    const t = parseImageRef(entry.target, { defaultTag: false });
    targetRepo = formatRef({ ...t, tag: undefined, digest: undefined });
  } else {
    const rule = config.targets.images;
    if (!rule) throw new AirlockError('E_CONFIG', `images[${index}]: no target: set images[${index}].target or targets.images.registry`);
    targetRepo = targetRepository(ref, rule);
  }
  const common = {
    ...(entry.platforms ? { platforms: entry.platforms } : {}),
    ...(entry.referrers !== undefined ? { referrers: entry.referrers } : {}),
    ...(entry.immutable !== undefined ? { immutable: entry.immutable } : {}),
  };
  const base = formatRef({ ...ref, tag: undefined, digest: undefined });
  if (ref.digest) return [{ source: `${base}@${ref.digest}`, target: targetRepo, ...common }];
  let tags: string[];
  if (ref.tag) tags = [ref.tag, ...(entry.tags ?? [])];
  else if (needsTagList(entry)) {
    const available = await engine.client.listTags({ registry: ref.registry, repository: ref.repository });
    tags = selectTags(available, entry);
    if (tags.length === 0) throw new AirlockError('E_NOT_FOUND', `no tag of ${available.length} matches the selection`, { artifact: entry.source });
  } else tags = entry.tags?.length ? entry.tags : ['latest'];
  return [...new Set(tags)].map((tag) => ({ source: `${base}:${tag}`, target: targetRepo, ...common }));
}
