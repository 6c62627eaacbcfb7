import type { CatalogContents } from '../addons/catalog-dir.js';
import { readCatalog, type ResolvedCatalog } from '../addons/catalog-source.js';
import { addonChartGroups, type AddonArtifacts } from '../addons/artifacts.js';
import type { AddonChartGroup } from '../model/addon-chart-payload.js';
import { planCatalog } from '../addons/plan-catalog.js';
import type { HostAccess } from '../oci/auth.js';
import type { AddonCatalogConfig, AirlockConfig } from '../config/schema.js';
import type { CacheDirs } from '../config/cache-dirs.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { HelmRepoReader } from '../sources/helm-repo.js';
import { imageNeedPayloads } from './image-payloads.js';

async function readConfiguredCatalog(
  c: AddonCatalogConfig,
  engine: HostAccess,
  cacheDir: string,
  repos: HelmRepoReader | undefined,
): Promise<ResolvedCatalog> {
  if (c.helm) {
    const { readHelmAddonRegistry } = await import('../addons/helm-addon-registry.js');
    const name = c.registries?.[0]?.name ?? 'official';
    const contents: CatalogContents = await readHelmAddonRegistry(engine, c.helm, name, {
      ...(c.addons ? { addons: c.addons } : {}),
      ...(repos ? { repos } : {}),
    });
    return { root: c.helm, ...contents };
  }
  return readCatalog(
    { catalog: c.source!, ...(c.ref ? { ref: c.ref } : {}), ...(c.registries ? { registries: c.registries } : {}) },
    { cacheDir },
  );
}

/**
 * Reads every configured catalog and turns the addons' needs into artifacts for the image,
 * chart and file mirrors. A catalog that cannot be read fails alone.
 */
export async function planAddonArtifacts(
  config: AirlockConfig,
  engine: HostAccess,
  cacheDirs: Pick<CacheDirs, 'catalogs'>,
  options: {
    dryRun?: boolean;
    /** The run's chart repository reader: its index cache makes a helm-type catalog's index a conditional GET. */
    repos?: HelmRepoReader;
  } = {},
): Promise<AddonArtifacts> {
  const out: AddonArtifacts = { catalogs: [], images: [], charts: [], urls: [], failures: [] };
  const section = config.addons;
  if (!section) return out;
  const seenImages = new Set<string>();
  const charts = new Map<string, AddonChartGroup>();
  const urls = new Set<string>();
  for (const c of section.catalogs) {
    const label = c.source ?? c.helm ?? c.name;
    try {
      const catalog = await readConfiguredCatalog(c, engine, cacheDirs.catalogs, options.repos);
      const plan = planCatalog(catalog, { ...(c.addons ? { addons: c.addons } : {}) });
      out.catalogs.push({ config: c, catalog, plan });
      for (const w of plan.warnings)
        if (w.registry === '*')
          out.failures.push({
            artifact: `addon ${w.addon}`,
            error: new AirlockError('E_NOT_FOUND', w.message, { artifact: `${c.name}/${w.addon}` }),
          });
      for (const p of plan.plans) {
        const needs = [...p.images, ...(section.definitionImages ? p.definitionImages : [])].map((image) => ({
          image,
          neededBy: `addon ${p.addon}`,
        }));
        const copies = imageNeedPayloads(needs, config.targets.images, seenImages);
        out.failures.push(...copies.failures);
        out.images.push(...copies.payloads.map((c) => ({ ...c, ...(options.dryRun ? { dryRun: true } : {}) })));
        for (const g of addonChartGroups(p)) if (!charts.has(g.key)) charts.set(g.key, g);
        for (const u of p.urls) urls.add(u);
      }
    } catch (e) {
      const error = toAirlockError(e, label);
      out.catalogs.push({ config: c, error });
      out.failures.push({ artifact: `catalog ${c.name}`, error });
    }
  }
  out.charts = [...charts.values()];
  out.urls = [...urls].sort();
  return out;
}
