import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../core/errors.js';
import type { ChartResult } from '../jobs/mirror-chart.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { parseRegistryRef } from '../oci/reference.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { targetRepository, type TargetRule } from '../targets/image-target.js';

/** An image something needs, and who needs it (`addon fluxcd`, `chart <repo> <name>@<version>`) for the failure message. */
export interface ImageNeed {
  image: string;
  neededBy: string;
}

/** The repository `targets.images` mirrors a normalised image to (transport included, no tag). */
export function mirroredRepository(image: string, rule: TargetRule): string {
  return targetRepository(parseRegistryRef(image), rule);
}

/**
 * Copies to `targets.images` of the images addons and charts need. `known` is shared by every
 * caller of a run, so an image two of them need is copied (or failed) once.
 */
export function imageNeedPayloads(
  needs: Iterable<ImageNeed>,
  rule: TargetRule | undefined,
  known: Set<string>,
): { payloads: MirrorImagePayload[]; failures: PlanFailure[] } {
  const payloads: MirrorImagePayload[] = [];
  const failures: PlanFailure[] = [];
  for (const { image, neededBy } of needs) {
    if (known.has(image)) continue;
    known.add(image);
    if (!rule) {
      failures.push({
        artifact: image,
        error: new AirlockError('E_CONFIG', `${neededBy} needs this image but targets.images is not set`, {
          artifact: image,
        }),
      });
      continue;
    }
    payloads.push({ source: `docker://${image}`, target: mirroredRepository(image, rule) });
  }
  return { payloads, failures };
}

/** Images that charts need, as copies to `targets.images`; each image once. */
export function chartImagePayloads(
  results: ChartResult[],
  config: AirlockConfig,
  known: Set<string>,
): { payloads: MirrorImagePayload[]; failures: PlanFailure[] } {
  const needs = results.flatMap((r) =>
    (r.images ?? []).map((img) => ({ image: img.image, neededBy: `chart ${r.source}` })),
  );
  return imageNeedPayloads(needs, config.targets.images, known);
}
