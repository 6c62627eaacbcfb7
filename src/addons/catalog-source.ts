import fsp from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../core/errors.js';
import { withGitCredentials } from './git-credentials.js';
import {
  DEFAULT_CATALOG_REGISTRIES,
  readCatalogDir,
  type CatalogContents,
  type CatalogRegistry,
} from './catalog-dir.js';

/** Where a catalog comes from: a directory, or (see catalog-git.ts) a git remote. */
export interface CatalogSourceSpec {
  /** A local directory, or a git URL (https://, ssh://, git://, file://, user@host:path). */
  catalog: string;
  ref?: string;
  registries?: CatalogRegistry[];
}

export interface ResolvedCatalog extends CatalogContents {
  /** The directory the addons were read from. */
  root: string;
  /** The commit, when the catalog is a git repository. */
  commit?: string;
  /** The bare cache clone of a git catalog (for the git mirror). */
  repoDir?: string;
}

function isGitUrl(s: string): boolean {
  return /^(https?|ssh|git|file):\/\//.test(s) || /^[\w.-]+@[\w.-]+:/.test(s);
}

export async function readCatalog(
  spec: CatalogSourceSpec,
  options: { cacheDir?: string } = {},
): Promise<ResolvedCatalog> {
  const registries = spec.registries ?? DEFAULT_CATALOG_REGISTRIES;
  if (!isGitUrl(spec.catalog)) {
    const root = path.resolve(spec.catalog);
    const st = await fsp.stat(root).catch(() => undefined);
    if (!st?.isDirectory())
      throw new AirlockError('E_USAGE', 'catalog is neither a directory nor a git URL', { artifact: spec.catalog });
    if (spec.ref)
      throw new AirlockError(
        'E_USAGE',
        'a ref (--ref, catalogs[].ref) needs a git catalog; a directory is read as it is',
        { artifact: spec.catalog },
      );
    return { root, ...(await readCatalogDir(root, registries)) };
  }
  if (!options.cacheDir)
    throw new AirlockError('E_USAGE', 'a git catalog needs a cache directory', { artifact: spec.catalog });
  const { checkoutCatalog } = await import('./catalog-git.js');
  const checkout = await checkoutCatalog({
    url: withGitCredentials(spec.catalog),
    ...(spec.ref ? { ref: spec.ref } : {}),
    cacheDir: options.cacheDir,
  });
  return {
    root: checkout.dir,
    commit: checkout.commit,
    repoDir: checkout.repoDir,
    ...(await readCatalogDir(checkout.dir, registries)),
  };
}
