import pLimit from 'p-limit';
import { toAirlockError, type AirlockError } from '../core/errors.js';
import type { ChartTarget } from '../targets/chart-target.js';
import { parseChartTarget, type ChartTargetAccess, type ChartTargetOptions } from '../targets/parse-chart-target.js';
import type { Addon } from './addon.js';
import type { PackagedAddon } from './package-addon.js';
import type { ItemStatus } from '../model/report.js';

export interface AddonPublishResult {
  addon: Addon;
  version: string;
  status: Exclude<ItemStatus, 'planned'>;
  /** Where the archive is (or would be): a file, a ChartMuseum URL, `oci://…:tag`. */
  location: string;
  /** Absent when the addon failed before its archive was made. */
  digest?: string;
  error?: AirlockError;
}

export interface PublishAddonRegistryOptions {
  /** Addons published at once (default 4). */
  concurrency?: number;
  onResult?: (result: AddonPublishResult) => void;
}

/** The `{registry}` placeholder of a chart target spec, so official and experimental get their own location. */
const REGISTRY_PLACEHOLDER = '{registry}';

/** Substitutes `{registry}` in a chart target spec (and a directory target's base URL) with an addon registry's name. */
export function addonRegistryTargetSpec(spec: string, registryName: string): string {
  return spec.split(REGISTRY_PLACEHOLDER).join(registryName);
}

/** The chart target one addon registry is published to; without `{registry}` in the spec, every registry shares it. */
export function addonRegistryTarget(
  engine: ChartTargetAccess,
  spec: string,
  registryName: string,
  options: ChartTargetOptions = {},
): ChartTarget {
  const { baseUrl, ...rest } = options;
  return parseChartTarget(engine, addonRegistryTargetSpec(spec, registryName), {
    ...rest,
    ...(baseUrl ? { baseUrl: addonRegistryTargetSpec(baseUrl, registryName) } : {}),
  });
}

/**
 * An addon to publish that is packaged only when needed: when the target already holds the
 * archive `knownDigest` names (what the same files packaged to last time), nothing is packaged.
 */
export interface AddonPublishEntry {
  addon: Addon;
  name: string;
  version: string;
  knownDigest?: string;
  pack: () => PackagedAddon | Promise<PackagedAddon>;
}

function asEntry(item: PackagedAddon | AddonPublishEntry): AddonPublishEntry {
  if ('pack' in item) return item;
  return { addon: item.addon, name: item.name, version: item.version, knownDigest: item.digest, pack: () => item };
}

/**
 * Publishes addons to one chart target (one addon registry). An addon whose archive is already
 * there with the same digest is `unchanged` and nothing is uploaded; a failure (packaging
 * included) is reported for that addon and the others go on.
 */
export async function publishAddonRegistry(
  items: Array<PackagedAddon | AddonPublishEntry>,
  target: ChartTarget,
  options: PublishAddonRegistryOptions = {},
): Promise<AddonPublishResult[]> {
  const limit = pLimit(options.concurrency ?? 4);
  return Promise.all(
    items.map((item) =>
      limit(async () => {
        const entry = asEntry(item);
        let digest = entry.knownDigest;
        let result: AddonPublishResult;
        let location = `${target.label} ${entry.name}-${entry.version}.tgz`;
        try {
          // One has() per addon: for the known digest when there is one, else for the fresh package's.
          let checked: string | undefined;
          if (entry.knownDigest) {
            const there = await target.has(entry.name, entry.version, entry.knownDigest);
            location = there.location;
            checked = entry.knownDigest;
            if (there.present)
              return done({
                addon: entry.addon,
                version: entry.version,
                digest: entry.knownDigest,
                status: 'unchanged',
                location,
              });
          }
          const pkg = await entry.pack();
          digest = pkg.digest;
          const there = checked === pkg.digest ? undefined : await target.has(pkg.name, pkg.version, pkg.digest);
          if (there) location = there.location;
          if (there?.present) {
            result = { addon: entry.addon, version: entry.version, digest: pkg.digest, status: 'unchanged', location };
          } else {
            const pushed = await target.push({
              name: pkg.name,
              version: pkg.version,
              tgz: pkg.tgz,
              metadata: pkg.metadata,
            });
            result = {
              addon: entry.addon,
              version: entry.version,
              digest: pkg.digest,
              status: pushed.status,
              location: pushed.location,
            };
          }
        } catch (e) {
          result = {
            addon: entry.addon,
            version: entry.version,
            ...(digest ? { digest } : {}),
            status: 'failed',
            location,
            error: toAirlockError(e, `${entry.addon.registry}/${entry.name}@${entry.version}`),
          };
        }
        return done(result);
      }),
    ),
  );

  function done(result: AddonPublishResult): AddonPublishResult {
    options.onResult?.(result);
    return result;
  }
}
