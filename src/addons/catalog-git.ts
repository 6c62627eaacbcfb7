import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { withFileLock } from '../core/file-lock.js';
import {
  gitIn,
  localGitError,
  localRefs,
  parseGitRemote,
  parseLsRemote,
  remoteGitError,
  type GitRemote,
  type RemoteRefs,
} from './git-exec.js';

export interface CheckoutCatalogOptions {
  /** https://, http://, git://, ssh://, scp-like `user@host:path`, file:// or a local path. `user:token@` in https URLs is accepted and never shown. */
  url: string;
  /** Branch, tag, full ref name (`refs/...`) or commit id; default: the remote's default branch. */
  ref?: string;
  /** Holds the cache clone and the materialised trees. */
  cacheDir: string;
  logger?: Logger;
  /** Kill a network git command after this long without output (default 5 min). */
  timeoutMs?: number;
}

export interface CatalogCheckout {
  /** The commit's files, read-only by convention: shared by every sync of that commit. */
  dir: string;
  commit: string;
  /** What `ref` resolved to: `refs/heads/...`, `refs/tags/...`, or the commit id itself. */
  ref: string;
  /** The bare cache clone (all upstream branches and tags), for the git mirror. */
  repoDir: string;
}

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
const HEX_ID = /^[0-9a-f]{7,64}$/i;

/** Cache entry name: readable, and unique per URL (credentials are not part of it). */
export function cacheKey(url: string): string {
  const slug = url
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\.git$/, '')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(-48);
  return `${slug || 'repo'}-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

function sameRefs(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

async function revParseCommit(git: SimpleGit, rev: string): Promise<string | undefined> {
  try {
    const out = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : undefined;
  } catch {
    return undefined;
  }
}

function refNameFor(ref: string | undefined, remote: RemoteRefs): string | undefined {
  if (!ref) {
    if (remote.head && remote.refs.has(remote.head)) return remote.head;
    return remote.headId ? 'HEAD' : undefined;
  }
  const candidates = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
  return candidates.find((c) => remote.refs.has(c));
}

async function syncCache(
  repoDir: string,
  remote: GitRemote,
  ref: string | undefined,
  timeoutMs: number,
  logger?: Logger,
): Promise<{ commit: string; ref: string }> {
  const parent = path.dirname(repoDir);
  if (!fs.existsSync(path.join(repoDir, 'HEAD'))) {
    // `init` on a half-initialised directory left by a crash simply completes it.
    await gitIn(parent)
      .raw(['init', '--bare', '--quiet', repoDir])
      .catch((e) => {
        throw localGitError(e, 'cannot create the cache clone', repoDir);
      });
  }
  const git = gitIn(repoDir);
  // A full commit id the cache already holds never changes: no network (the finish step of a
  // queued run reads the catalog again at the commit its plan step pinned).
  if (ref && /^[0-9a-f]{40}$/i.test(ref)) {
    const known = await revParseCommit(git, ref);
    if (known) return { commit: known, ref: known };
  }
  const net = gitIn(repoDir, { env: remote.env, timeoutMs });
  let listed: RemoteRefs;
  try {
    listed = parseLsRemote(await net.raw(['ls-remote', '--symref', remote.url]));
  } catch (e) {
    throw remoteGitError(e, 'cannot read the catalog repository', remote);
  }
  if (listed.refs.size === 0 && !listed.headId)
    throw new AirlockError('E_NOT_FOUND', 'the repository has no branches or tags', { artifact: remote.display });

  // An unchanged upstream costs this one ls-remote: the cache already holds every ref.
  if (!sameRefs(listed.refs, await localRefs(git))) {
    logger?.info({ catalog: remote.display }, 'fetching catalog');
    try {
      // --progress keeps stderr busy, so a long download is not taken for a hung connection.
      await net.raw(['fetch', '--progress', '--prune', '--no-tags', remote.url, ...FETCH_REFSPECS]);
    } catch (e) {
      throw remoteGitError(e, 'cannot fetch the catalog', remote);
    }
  }
  if (listed.head && listed.refs.has(listed.head))
    await git.raw(['symbolic-ref', 'HEAD', listed.head]).catch(() => undefined);

  const refName = refNameFor(ref, listed);
  if (refName) {
    const rev = refName === 'HEAD' ? listed.headId! : refName;
    const commit = await revParseCommit(git, rev);
    if (!commit)
      throw new AirlockError('E_NOT_FOUND', `${ref ?? 'HEAD'} does not point at a commit`, {
        artifact: remote.display,
      });
    return { commit, ref: refName };
  }
  if (ref && HEX_ID.test(ref)) {
    let commit = await revParseCommit(git, ref);
    if (!commit && ref.length >= 40) {
      // A commit on no branch or tag: servers that allow fetching by id hand it out.
      await net.raw(['fetch', '--progress', '--no-tags', remote.url, ref]).catch(() => undefined);
      commit = await revParseCommit(git, ref);
    }
    if (commit) return { commit, ref: commit };
  }
  throw new AirlockError(
    'E_NOT_FOUND',
    ref ? `ref "${ref}" is no branch, tag or commit of the repository` : 'the repository has no default branch',
    {
      artifact: remote.display,
    },
  );
}

const PRUNE_AFTER_MS = 60 * 60_000;

async function removeOldTemps(treesDir: string): Promise<void> {
  const entries = await fsp.readdir(treesDir).catch(() => [] as string[]);
  for (const name of entries) {
    if (!name.startsWith('.tmp-')) continue;
    const p = path.join(treesDir, name);
    const st = await fsp.stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > PRUNE_AFTER_MS) await fsp.rm(p, { recursive: true, force: true });
  }
}

const KEEP_TREES = 5;

/**
 * A long-running worker materialises a tree per upstream commit: keep the newest few, and never
 * one used within the last hour (a run may still read it; a removed one is rebuilt on demand).
 */
async function pruneTrees(treesDir: string, current: string): Promise<void> {
  const names = (await fsp.readdir(treesDir).catch(() => [] as string[])).filter(
    (n) => !n.startsWith('.') && n !== current,
  );
  const trees = await Promise.all(
    names.map(async (n) => ({
      n,
      mtime: (await fsp.stat(path.join(treesDir, n)).catch(() => undefined))?.mtimeMs ?? 0,
    })),
  );
  trees.sort((a, b) => b.mtime - a.mtime);
  for (const t of trees.slice(KEEP_TREES - 1)) {
    if (Date.now() - t.mtime > PRUNE_AFTER_MS) await fsp.rm(path.join(treesDir, t.n), { recursive: true, force: true });
  }
}

/**
 * Writes the commit's tree into `treesDir/<commit>` unless it is there already. It is built in a
 * temporary directory and renamed into place, so a directory under its final name is always
 * complete, whoever built it.
 */
async function materialise(repoDir: string, treesDir: string, commit: string): Promise<string> {
  const final = path.join(treesDir, commit);
  if (fs.existsSync(final)) {
    // Marked as in use: pruning goes by this time.
    const now = new Date();
    await fsp.utimes(final, now, now).catch(() => undefined);
    return final;
  }
  await fsp.mkdir(treesDir, { recursive: true });
  await removeOldTemps(treesDir);
  const tmp = path.join(treesDir, `.tmp-${commit.slice(0, 12)}-${randomUUID()}`);
  const tree = path.join(tmp, 'tree');
  await fsp.mkdir(tree, { recursive: true });
  try {
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index'), GIT_WORK_TREE: tree };
    const git = gitIn(repoDir, { env });
    await git.raw(['read-tree', commit]);
    await git.raw(['checkout-index', '--all', '--force']);
    try {
      await fsp.rename(tree, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      // Another process materialised the same commit first; its copy is identical.
    }
    await pruneTrees(treesDir, commit);
    return final;
  } catch (e) {
    throw localGitError(e, `cannot write the files of commit ${commit}`, repoDir);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Brings a catalog repository into the cache (clone once, then fetch branches and tags) and
 * returns a directory with the files of `ref`. Processes sharing `cacheDir` take turns on the
 * clone through a lock file; materialised trees are keyed by commit and reused.
 */
export async function checkoutCatalog(options: CheckoutCatalogOptions): Promise<CatalogCheckout> {
  const remote = parseGitRemote(options.url);
  const base = path.join(path.resolve(options.cacheDir), 'git');
  const key = cacheKey(remote.url);
  const repoDir = path.join(base, `${key}.git`);
  await fsp.mkdir(base, { recursive: true });
  const { commit, ref } = await withFileLock(`${repoDir}.lock`, () =>
    syncCache(repoDir, remote, options.ref, options.timeoutMs ?? 5 * 60_000, options.logger),
  );
  const dir = await materialise(repoDir, path.join(base, `${key}.trees`), commit);
  options.logger?.info({ catalog: remote.display, ref, commit }, 'catalog checked out');
  return { dir, commit, ref, repoDir };
}
