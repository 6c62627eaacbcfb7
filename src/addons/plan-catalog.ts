import type { AddonWarning } from './addon.js';
import type { CatalogContents } from './catalog-dir.js';
import { discoverAddon, type AddonPlan, type AddonScan } from './discover.js';

export interface CatalogPlan {
  scans: AddonScan[];
  plans: AddonPlan[];
  /** Problems not tied to an addon that was planned (a folder without metadata.yaml, a missing catalog folder). */
  warnings: AddonWarning[];
}

/**
 * The addons a selection needs: the named ones and, transitively, their dependencies — looked up
 * first in the addon's own registry, then in the others, as KubeVela installs them.
 */
export function selectWithDependencies(
  contents: CatalogContents,
  names: string[] | undefined,
): { selected: CatalogContents['addons']; warnings: AddonWarning[] } {
  const warnings: AddonWarning[] = [];
  const all = contents.addons;
  const find = (name: string, preferRegistry?: string) =>
    all.find((a) => a.metadata.name === name && a.registry === preferRegistry) ??
    all.find((a) => a.metadata.name === name);
  const chosen = new Set<(typeof all)[number]>();
  const visit = (addon: (typeof all)[number]) => {
    if (chosen.has(addon)) return;
    chosen.add(addon);
    for (const dep of addon.metadata.dependencies ?? []) {
      const found = find(dep.name, addon.registry);
      if (found) visit(found);
      else
        warnings.push({
          registry: addon.registry,
          addon: addon.metadata.name,
          file: `${addon.dir}/metadata.yaml`,
          message: `dependency "${dep.name}" is in no registry of this catalog`,
        });
    }
  };
  if (!names || names.length === 0) {
    for (const a of all) visit(a);
  } else {
    for (const n of names) {
      const a = find(n);
      if (a) visit(a);
      else warnings.push({ registry: '*', addon: n, message: `addon "${n}" is not in the catalog` });
    }
  }
  return { selected: all.filter((a) => chosen.has(a)), warnings };
}

/** Discovers every selected addon; reading problems land in the addon's warnings, never abort the plan. */
export function planCatalog(contents: CatalogContents, options: { addons?: string[] } = {}): CatalogPlan {
  const { selected, warnings: selectionWarnings } = selectWithDependencies(contents, options.addons);
  const scans = selected.map((a) => discoverAddon(a));
  const leftover: AddonWarning[] = [];
  for (const w of [...contents.warnings, ...selectionWarnings]) {
    const scan = scans.find((s) => s.plan.addon === w.addon && s.plan.registry === w.registry);
    if (scan) scan.plan.warnings.unshift(w.file ? `${w.file}: ${w.message}` : w.message);
    // Warnings about catalog addons outside the selection are not the caller's concern.
    else if (!contents.addons.some((a) => a.metadata.name === w.addon && a.registry === w.registry)) leftover.push(w);
  }
  return { scans, plans: scans.map((s) => s.plan), warnings: leftover };
}
