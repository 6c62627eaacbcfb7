import pLimit from 'p-limit';
import type { Engine } from '../engine.js';
import { toAirlockError, type AirlockError } from '../errors.js';
import type { ChartTarget } from '../targets/chart-target.js';
import { parseChartTarget, type ChartTargetOptions } from '../targets/parse-chart-target.js';
import type { Addon } from './addon.js';
import type { PackagedAddon } from './package-addon.js';

export interface AddonPublishResult {
  addon: Addon;
  version: string;
  status: 'copied' | 'unchanged' | 'failed';
  /** Where the archive is (or would be): a file, a ChartMuseum URL, `oci://…:tag`. */
  location: string;
  digest: string;
  error?: AirlockError;
}

export interface PublishAddonRegistryOptions {
  /** Addons published at once (default 4). */
  concurrency?: number;
  onResult?: (result: AddonPublishResult) => void;
}

/** The `{registry}` placeholder of a chart target spec, so official and experimental get their own location. */
export const REGISTRY_PLACEHOLDER = '{registry}';

/** Substitutes `{registry}` in a chart target spec (and a directory target's base URL) with an addon registry's name. */
export function addonRegistryTargetSpec(spec: string, registryName: string): string {
  return spec.split(REGISTRY_PLACEHOLDER).join(registryName);
}

/** The chart target one addon registry is published to; without `{registry}` in the spec, every registry shares it. */
export function addonRegistryTarget(engine: Engine, spec: string, registryName: string, options: ChartTargetOptions = {}): ChartTarget {
  const { baseUrl, ...rest } = options;
  return parseChartTarget(engine, addonRegistryTargetSpec(spec, registryName), {
    ...rest,
    ...(baseUrl ? { baseUrl: addonRegistryTargetSpec(baseUrl, registryName) } : {}),
  });
}

/**
 * Publishes packaged addons to one chart target (one addon registry). An addon whose archive is
 * already there with the same digest is `unchanged` and nothing is uploaded; a failure is reported
 * for that addon and the others go on.
 */
export async function publishAddonRegistry(packages: PackagedAddon[], target: ChartTarget, options: PublishAddonRegistryOptions = {}): Promise<AddonPublishResult[]> {
  const limit = pLimit(options.concurrency ?? 4);
  return Promise.all(
    packages.map((pkg) =>
      limit(async () => {
        const base = { addon: pkg.addon, version: pkg.version, digest: pkg.digest };
        let result: AddonPublishResult;
        let location = `${target.label} ${pkg.fileName}`;
        try {
          const there = await target.has(pkg.name, pkg.version, pkg.digest);
          location = there.location;
          if (there.present) {
            result = { ...base, status: 'unchanged', location };
          } else {
            const pushed = await target.push({ name: pkg.name, version: pkg.version, tgz: pkg.tgz, metadata: pkg.metadata });
            result = { ...base, status: pushed.status, location: pushed.location };
          }
        } catch (e) {
          result = { ...base, status: 'failed', location, error: toAirlockError(e, `${pkg.addon.registry}/${pkg.name}@${pkg.version}`) };
        }
        options.onResult?.(result);
        return result;
      }),
    ),
  );
}
