import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { AirlockError } from '../core/errors.js';
import { isPlainRelativePath } from './addon.js';
import type { Logger } from '../core/log.js';
import { redact } from '../core/secrets.js';
import {
  gitIn,
  gitMessage,
  localGitError,
  meaningfulLines,
  localRefs,
  parseGitRemote,
  parseLsRemote,
  remoteGitError,
  type GitRemote,
} from './git-exec.js';

export interface MirrorCatalogGitOptions {
  /** The bare cache clone from checkoutCatalog (holds the upstream branches and tags). */
  repoDir: string;
  /** The upstream commit the rewritten branch is built on. */
  upstreamCommit: string;
  /** The private git remote (URL or path; `user:token@` in https URLs is accepted and never shown). */
  remote: string;
  /** Branch for the rewritten catalog, e.g. `airgap`. */
  branch: string;
  /** Catalog-relative POSIX path → new bytes (added or replaced). */
  rewritten: Map<string, Buffer>;
  /** Catalog-relative POSIX paths to delete. */
  removed?: string[];
  message?: string;
  author?: { name: string; email: string };
  logger?: Logger;
  timeoutMs?: number;
}

export interface MirrorCatalogGitResult {
  /** Refs created or moved on the remote (0 when unchanged). */
  pushedRefs: number;
  /** The commit the rewritten branch points at. */
  branchCommit: string;
  status: 'pushed' | 'unchanged';
}

const DEFAULT_AUTHOR = { name: 'airlock', email: 'airlock@localhost' };
// Many paths per update-index call, but well below the kernel's argument limit.
const CHUNK = 500;

function checkPath(p: string, artifact: string): void {
  // Beyond an addon's own rule: git would take a backslash or a `.git` segment as its own business.
  if (!isPlainRelativePath(p) || p.includes('\\') || p.split('/').some((s) => s.toLowerCase() === '.git')) {
    throw new AirlockError('E_USAGE', `"${p}" is not a relative catalog path`, { artifact });
  }
}

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Mode and object id of the given paths in the index (`100644`, `100755`, `120000`). */
async function indexEntries(git: SimpleGit, paths: string[]): Promise<Map<string, string>> {
  const modes = new Map<string, string>();
  for (const part of chunks(paths)) {
    const out = await git.raw(['ls-files', '--stage', '-z', '--', ...part]);
    for (const rec of out.split('\0')) {
      const m = /^(\d{6}) ([0-9a-f]+) \d\t(.*)$/s.exec(rec);
      if (m && m[1] && m[3]) modes.set(m[3], `${m[1]} ${m[2]}`);
    }
  }
  return modes;
}

/**
 * The upstream tree with the rewritten files swapped in, committed on top of the upstream commit.
 * Author, committer and dates are fixed (dates from the upstream commit), so the same input
 * gives the same commit id on every run and a re-sync finds nothing to push.
 */
async function buildRewriteCommit(
  options: Pick<MirrorCatalogGitOptions, 'repoDir' | 'upstreamCommit' | 'rewritten' | 'removed' | 'message' | 'author'>,
): Promise<string> {
  const { repoDir, upstreamCommit } = options;
  const git = gitIn(repoDir);
  const upstream = (
    await git.raw(['rev-parse', '--verify', '--end-of-options', `${upstreamCommit}^{commit}`]).catch(() => '')
  ).trim();
  if (!upstream)
    throw new AirlockError('E_NOT_FOUND', `commit ${upstreamCommit} is not in the cache clone`, { artifact: repoDir });
  const paths = [...options.rewritten.keys()].sort();
  const removed = [...new Set(options.removed ?? [])].sort();
  for (const p of [...paths, ...removed]) checkPath(p, repoDir);

  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'airlock-gitmirror-'));
  try {
    // update-index refuses to run without a work tree even when it never looks at one: an empty stand-in.
    const wt = path.join(tmp, 'wt');
    await fsp.mkdir(wt);
    const ix = gitIn(repoDir, { env: { GIT_INDEX_FILE: path.join(tmp, 'index'), GIT_WORK_TREE: wt } });
    await ix.raw(['read-tree', upstream]);
    const existing = await indexEntries(ix, paths);
    for (const [n, part] of chunks(paths).entries()) {
      const files = part.map((_, i) => path.join(tmp, `blob-${n}-${i}`));
      await Promise.all(part.map((p, i) => fsp.writeFile(files[i]!, options.rewritten.get(p)!)));
      // --no-filters: the bytes are stored as given, whatever .gitattributes say.
      const ids = (await ix.raw(['hash-object', '-w', '--no-filters', '--', ...files])).trim().split('\n');
      const args: string[] = ['update-index', '--add'];
      part.forEach((p, i) => {
        // A rewritten file keeps its mode (an executable script stays executable).
        const mode = existing.get(p)?.split(' ')[0] ?? '100644';
        args.push('--cacheinfo', `${mode},${ids[i]},${p}`);
      });
      await ix.raw(args);
    }
    for (const part of chunks(removed)) await ix.raw(['update-index', '--force-remove', '--', ...part]);
    const tree = (await ix.raw(['write-tree'])).trim();

    const date = (await git.raw(['log', '-1', '--format=%ct %cz', upstream])).trim();
    const who = options.author ?? DEFAULT_AUTHOR;
    const message =
      options.message ??
      `airlock: catalog ${upstream.slice(0, 12)} with registries rewritten for the air gap\n\nUpstream-Commit: ${upstream}\n`;
    const env = {
      GIT_AUTHOR_NAME: who.name,
      GIT_AUTHOR_EMAIL: who.email,
      GIT_AUTHOR_DATE: `@${date}`,
      GIT_COMMITTER_NAME: who.name,
      GIT_COMMITTER_EMAIL: who.email,
      GIT_COMMITTER_DATE: `@${date}`,
    };
    return (
      await gitIn(repoDir, { env }).raw(['commit-tree', '--no-gpg-sign', tree, '-p', upstream, '-m', message])
    ).trim();
  } catch (e) {
    throw e instanceof AirlockError ? e : localGitError(e, 'cannot build the rewritten catalog commit', repoDir);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

interface Rejection {
  ref: string;
  reason: string;
}

/** `git push --porcelain` lines: `!<TAB>src:dst<TAB>[rejected] (reason)`. */
function rejections(out: string): Rejection[] {
  const list: Rejection[] = [];
  for (const line of out.split('\n')) {
    const m = /^!\t[^:]*:(\S+)\t(.*)$/.exec(line);
    if (!m || !m[1]) continue;
    const reason = /\(([^)]*)\)\s*$/.exec(m[2] ?? '')?.[1] ?? (m[2] ?? '').replace(/^\[[^\]]*\]\s*/, '');
    list.push({ ref: m[1], reason: reason || 'rejected' });
  }
  return list;
}

function pushError(e: unknown, remote: GitRemote): AirlockError {
  const text = e instanceof Error ? e.message : String(e);
  const all = rejections(text);
  // Under --atomic every other ref reports "atomic push failed": name the one that caused it.
  const cause = all.find((r) => !/atomic push failed/i.test(r.reason)) ?? all[0];
  if (!cause) return remoteGitError(e, 'cannot push to the git mirror', remote);
  // The first thing the remote's hook or policy printed, e.g. GitLab's "You are not allowed to push…".
  const said = meaningfulLines(text)
    .map((l) => /^remote:\s*(.*\S)/.exec(l)?.[1])
    .find((l): l is string => !!l);
  const conflict = /stale info|fetch first|non-fast-forward|already exists/i.test(cause.reason);
  const message = `the remote refused ${cause.ref}: ${cause.reason}${said ? ` (remote said: ${said})` : ''}`;
  return new AirlockError(
    conflict ? 'E_CONFLICT' : 'E_DENIED',
    redact(message.length > 400 ? `${message.slice(0, 397)}...` : message),
    { artifact: remote.display },
  );
}

async function push(
  net: SimpleGit,
  remote: GitRemote,
  updates: Array<{ ref: string; id: string; old?: string }>,
  atomic: boolean,
): Promise<void> {
  const args = ['push', '--porcelain', '--progress', ...(atomic ? ['--atomic'] : []), remote.url];
  // A lease per ref: a ref is overwritten (even non-fast-forward, as the upstream may have
  // force-pushed) only while the remote still holds what ls-remote showed a moment ago.
  for (const u of updates) args.push(`--force-with-lease=${u.ref}:${u.old ?? ''}`);
  for (const u of updates) args.push(`${u.id}:${u.ref}`);
  await net.raw(args);
}

/**
 * Publishes the catalog to a private git remote: every upstream branch and tag of the cache
 * clone with its upstream object id, plus `branch` holding the rewritten catalog (one commit on
 * top of the upstream commit). Only refs whose remote value differs are pushed, in one atomic
 * push; refs that exist only on the remote are left alone.
 */
export async function mirrorCatalogGit(options: MirrorCatalogGitOptions): Promise<MirrorCatalogGitResult> {
  const remote = parseGitRemote(options.remote);
  const git = gitIn(options.repoDir);
  const branchRef = `refs/heads/${options.branch}`;
  try {
    await git.raw(['check-ref-format', branchRef]);
  } catch {
    throw new AirlockError('E_USAGE', `"${options.branch}" is not a valid branch name`, { artifact: remote.display });
  }
  const upstreamRefs = await localRefs(git).catch((e) => {
    throw localGitError(e, 'cannot read the cache clone', options.repoDir);
  });
  if (upstreamRefs.has(branchRef)) {
    throw new AirlockError(
      'E_CONFLICT',
      `the upstream catalog has a branch "${options.branch}" itself; choose another branch for the rewritten catalog`,
      { artifact: remote.display },
    );
  }
  const branchCommit = await buildRewriteCommit(options);

  const net = gitIn(options.repoDir, { env: remote.env, timeoutMs: options.timeoutMs ?? 5 * 60_000 });
  let onRemote: Map<string, string>;
  try {
    onRemote = parseLsRemote(await net.raw(['ls-remote', remote.url])).refs;
  } catch (e) {
    throw remoteGitError(e, 'cannot read the git mirror', remote);
  }
  const wanted = new Map(upstreamRefs);
  wanted.set(branchRef, branchCommit);
  const updates = [...wanted]
    .filter(([ref, id]) => onRemote.get(ref) !== id)
    .map(([ref, id]) => ({ ref, id, old: onRemote.get(ref) }))
    .sort((a, b) => (a.ref < b.ref ? -1 : 1));
  if (updates.length === 0) {
    options.logger?.info(
      { remote: remote.display, branch: options.branch, commit: branchCommit },
      'git mirror unchanged',
    );
    return { pushedRefs: 0, branchCommit, status: 'unchanged' };
  }

  try {
    await push(net, remote, updates, true);
  } catch (e) {
    if (!/does not support --atomic/i.test(gitMessage(e))) throw pushError(e, remote);
    // Old or minimal servers: one non-atomic push (a pre-receive hook still sees all refs at once).
    try {
      await push(net, remote, updates, false);
    } catch (e2) {
      throw pushError(e2, remote);
    }
  }
  options.logger?.info(
    { remote: remote.display, branch: options.branch, commit: branchCommit, refs: updates.length },
    'git mirror pushed',
  );
  return { pushedRefs: updates.length, branchCommit, status: 'pushed' };
}
