import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutCatalog } from '../src/addons/catalog-git.js';
import { readCatalogDir } from '../src/addons/catalog-dir.js';
import { mirrorCatalogGit } from '../src/addons/git-mirror.js';
import { AirlockError, formatErrorLine } from '../src/core/errors.js';
import { startGitHttpServer, type GitHttpServer } from './support/git-http.js';
import { freePort, waitFor } from './support/ports.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'kubevela-catalog');
const ROOT = path.resolve(import.meta.dirname, '..');
const execFileP = promisify(execFile);

// The test's own git, independent of the code under test; fixed identity, no user config.
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Upstream',
  GIT_AUTHOR_EMAIL: 'upstream@example.test',
  GIT_COMMITTER_NAME: 'Upstream',
  GIT_COMMITTER_EMAIL: 'upstream@example.test',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function lsRemote(url: string): Record<string, string> {
  const out = execFileSync('git', ['ls-remote', url], { env: GIT_ENV, encoding: 'utf8' });
  const refs: Record<string, string> = {};
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [id, ref] = line.split('\t');
    if (ref && id && !ref.endsWith('^{}') && ref !== 'HEAD' && !ref.startsWith('refs/pull/')) refs[ref] = id;
  }
  return refs;
}

function bare(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--bare', '--quiet', '-b', 'main');
  return dir;
}

async function caught(p: Promise<unknown>): Promise<AirlockError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AirlockError);
    return e as AirlockError;
  }
  throw new Error('expected an error');
}

let work: string;
let upstream: string;
let c1: string;
let c2: string;
let releaseTip: string;
let daemon: ChildProcess;
let daemonPort: number;
let served: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-addongit-'));
  served = path.join(work, 'served');
  upstream = path.join(served, 'catalog');
  fs.mkdirSync(upstream, { recursive: true });
  git(upstream, 'init', '--quiet', '-b', 'main');
  // Commit 1: the official addons, plus an executable helper script (mode must survive rewriting).
  fs.cpSync(path.join(FIXTURES, 'addons'), path.join(upstream, 'addons'), { recursive: true });
  fs.mkdirSync(path.join(upstream, 'hack'));
  fs.writeFileSync(path.join(upstream, 'hack', 'sync.sh'), '#!/bin/sh\necho https://charts.jetstack.io\n', {
    mode: 0o755,
  });
  git(upstream, 'add', '-A');
  git(upstream, 'commit', '--quiet', '-m', 'official addons');
  c1 = git(upstream, 'rev-parse', 'HEAD');
  git(upstream, 'tag', '-a', 'v1.0.0', '-m', 'release 1.0.0');
  git(upstream, 'branch', 'release-1.0');
  // Commit 2 on main: the experimental addons.
  fs.cpSync(path.join(FIXTURES, 'experimental'), path.join(upstream, 'experimental'), { recursive: true });
  git(upstream, 'add', '-A');
  git(upstream, 'commit', '--quiet', '-m', 'experimental addons');
  c2 = git(upstream, 'rev-parse', 'HEAD');
  // The second branch moves on its own.
  git(upstream, 'checkout', '--quiet', 'release-1.0');
  fs.appendFileSync(path.join(upstream, 'addons', 'fluxcd', 'readme.md'), '\nBackport note.\n');
  git(upstream, 'commit', '--quiet', '-am', 'backport');
  releaseTip = git(upstream, 'rev-parse', 'HEAD');
  git(upstream, 'checkout', '--quiet', 'main');
  // Like GitHub: pull-request refs, which are neither fetched nor mirrored.
  git(upstream, 'update-ref', 'refs/pull/1/head', releaseTip);
  bare(path.join(served, 'private-net.git'));

  daemonPort = await freePort();
  daemon = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      `--base-path=${served}`,
      '--export-all',
      '--enable=receive-pack',
      `--port=${daemonPort}`,
      '--listen=127.0.0.1',
      '--informative-errors',
    ],
    { env: GIT_ENV, stdio: 'ignore' },
  );
  await waitFor(async () => {
    await execFileP('git', ['ls-remote', `git://127.0.0.1:${daemonPort}/catalog`], { env: GIT_ENV });
    return true;
  }, 'git daemon');
});

afterAll(() => {
  daemon?.kill();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('checkoutCatalog', () => {
  it('clones over git:// into the cache and materialises the default branch', async () => {
    const cacheDir = path.join(work, 'cache-net');
    const co = await checkoutCatalog({ url: `git://127.0.0.1:${daemonPort}/catalog`, cacheDir });
    expect(co.commit).toBe(c2);
    expect(co.ref).toBe('refs/heads/main');
    expect(path.basename(co.dir)).toBe(c2);
    expect(co.repoDir.startsWith(path.join(cacheDir, 'git'))).toBe(true);
    // Byte-identical to the fixture, and readable as a catalog with both registries.
    const rel = 'addons/fluxcd/metadata.yaml';
    expect(fs.readFileSync(path.join(co.dir, rel))).toEqual(fs.readFileSync(path.join(FIXTURES, rel)));
    expect(fs.statSync(path.join(co.dir, 'hack', 'sync.sh')).mode & 0o111).not.toBe(0);
    const catalog = await readCatalogDir(co.dir);
    expect(catalog.addons.some((a) => a.registry === 'official' && a.metadata.name === 'fluxcd')).toBe(true);
    expect(catalog.addons.some((a) => a.registry === 'experimental')).toBe(true);
    expect(fs.existsSync(path.join(co.dir, '.git'))).toBe(false);
    // The cache holds every upstream branch and tag, for the mirror.
    const refs = lsRemote(co.repoDir);
    expect(refs).toEqual(lsRemote(upstream));
  });

  it('resolves a tag, a branch and commit ids; rejects an unknown ref with a one-line E_NOT_FOUND', async () => {
    const cacheDir = path.join(work, 'cache-refs');
    const url = `file://${upstream}`;
    const tag = await checkoutCatalog({ url, cacheDir, ref: 'v1.0.0' });
    expect(tag).toMatchObject({ commit: c1, ref: 'refs/tags/v1.0.0' });
    expect(fs.existsSync(path.join(tag.dir, 'addons', 'fluxcd'))).toBe(true);
    expect(fs.existsSync(path.join(tag.dir, 'experimental'))).toBe(false);

    const branch = await checkoutCatalog({ url, cacheDir, ref: 'release-1.0' });
    expect(branch).toMatchObject({ commit: releaseTip, ref: 'refs/heads/release-1.0' });
    expect(fs.readFileSync(path.join(branch.dir, 'addons', 'fluxcd', 'readme.md'), 'utf8')).toContain('Backport note.');

    expect(await checkoutCatalog({ url, cacheDir, ref: c1 })).toMatchObject({ commit: c1, ref: c1, dir: tag.dir });
    expect(await checkoutCatalog({ url, cacheDir, ref: c2.slice(0, 10) })).toMatchObject({ commit: c2 });

    const e = await caught(checkoutCatalog({ url, cacheDir, ref: 'no-such-branch' }));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.artifact).toBe(url);
    expect(e.message).toContain('no-such-branch');
    expect(formatErrorLine(e)).not.toContain('\n');
  });

  it('reuses the checkout of an unchanged catalog without fetching, and fetches a new upstream commit', async () => {
    const cacheDir = path.join(work, 'cache-resync');
    // A plain path works like a URL.
    const first = await checkoutCatalog({ url: upstream, cacheDir });
    expect(first.commit).toBe(c2);
    const fetchHead = path.join(first.repoDir, 'FETCH_HEAD');
    const fetchedAt = fs.statSync(fetchHead).mtimeMs;
    const dirIno = fs.statSync(first.dir).ino;

    const again = await checkoutCatalog({ url: upstream, cacheDir });
    expect(again).toEqual(first);
    expect(fs.statSync(fetchHead).mtimeMs).toBe(fetchedAt);
    expect(fs.statSync(again.dir).ino).toBe(dirIno);

    fs.writeFileSync(path.join(upstream, 'addons', 'fluxcd', 'NOTES.cue'), 'notes: "hello"\n');
    git(upstream, 'add', '-A');
    git(upstream, 'commit', '--quiet', '-m', 'notes');
    const c3 = git(upstream, 'rev-parse', 'HEAD');
    try {
      const next = await checkoutCatalog({ url: upstream, cacheDir });
      expect(next.commit).toBe(c3);
      expect(next.dir).not.toBe(first.dir);
      expect(fs.readFileSync(path.join(next.dir, 'addons', 'fluxcd', 'NOTES.cue'), 'utf8')).toBe('notes: "hello"\n');
      // The earlier checkout stays intact for whoever still reads it.
      expect(fs.existsSync(path.join(first.dir, 'addons', 'fluxcd', 'NOTES.cue'))).toBe(false);
      expect(fs.existsSync(path.join(first.dir, 'addons', 'fluxcd', 'metadata.yaml'))).toBe(true);
    } finally {
      git(upstream, 'reset', '--quiet', '--hard', c2);
    }
  });

  it('lets two processes sync the same catalog into one cache at once', async () => {
    const cacheDir = path.join(work, 'cache-concurrent');
    const url = `file://${upstream}`;
    const mod = path.join(ROOT, 'dist', 'src', 'addons', 'catalog-git.js');
    const script = `import(${JSON.stringify(mod)}).then(async (m) => { const r = await m.checkoutCatalog({ url: ${JSON.stringify(url)}, cacheDir: ${JSON.stringify(cacheDir)} }); process.stdout.write(JSON.stringify(r)); })`;
    const child = execFileP(process.execPath, ['-e', script], { env: process.env });
    const [inProc, inProc2, other] = await Promise.all([
      checkoutCatalog({ url, cacheDir }),
      checkoutCatalog({ url, cacheDir }),
      child,
    ]);
    const fromChild = JSON.parse(other.stdout) as { dir: string; commit: string };
    expect(fromChild).toEqual(inProc);
    expect(inProc2).toEqual(inProc);
    expect(inProc.commit).toBe(c2);
    // Exactly one materialised tree, no leftovers, no lock file, and a sound clone.
    const trees = fs.readdirSync(path.dirname(inProc.dir));
    expect(trees).toEqual([c2]);
    expect(fs.readdirSync(path.join(cacheDir, 'git')).filter((n) => n.endsWith('.lock'))).toEqual([]);
    git(inProc.repoDir, 'fsck', '--no-progress');
    expect(fs.readFileSync(path.join(inProc.dir, 'addons', 'fluxcd', 'metadata.yaml'))).toEqual(
      fs.readFileSync(path.join(FIXTURES, 'addons', 'fluxcd', 'metadata.yaml')),
    );

    // A lock left behind by a process that died is taken over, not waited on for minutes.
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(`${inProc.repoDir}.lock`, JSON.stringify({ pid: dead, host: os.hostname() }));
    const started = Date.now();
    expect((await checkoutCatalog({ url, cacheDir })).commit).toBe(c2);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fs.existsSync(`${inProc.repoDir}.lock`)).toBe(false);
  });

  it('reports an unreachable remote as one line of E_UNREACHABLE, with credentials redacted', async () => {
    const port = await freePort();
    const e = await caught(
      checkoutCatalog({ url: `git://127.0.0.1:${port}/catalog`, cacheDir: path.join(work, 'cache-down') }),
    );
    expect(e.code).toBe('E_UNREACHABLE');
    expect(e.artifact).toBe(`git://127.0.0.1:${port}/catalog`);
    expect(e.message).not.toContain('\n');

    const secretUrl = `http://mirror-bot:s3cr3t-t0ken@127.0.0.1:${port}/kubevela/catalog.git`;
    const e2 = await caught(checkoutCatalog({ url: secretUrl, cacheDir: path.join(work, 'cache-down') }));
    expect(e2.code).toBe('E_UNREACHABLE');
    expect(formatErrorLine(e2)).not.toContain('s3cr3t-t0ken');
    expect(e2.artifact).toBe(`http://mirror-bot:***@127.0.0.1:${port}/kubevela/catalog.git`);
    expect(formatErrorLine(e2)).toMatch(
      /^\[E_UNREACHABLE\] http:\/\/mirror-bot:\*\*\*@127\.0\.0\.1:\d+\/kubevela\/catalog\.git: cannot read the catalog repository: .*Failed to connect/,
    );
    // No trace of the token on disk either (it travels in the environment, never in the clone's config).
    for (const name of fs.readdirSync(path.join(work, 'cache-down', 'git'))) {
      const cfg = path.join(work, 'cache-down', 'git', name, 'config');
      if (fs.existsSync(cfg)) expect(fs.readFileSync(cfg, 'utf8')).not.toContain('s3cr3t');
    }
  });

  it('reports a repository that does not exist as E_NOT_FOUND', async () => {
    const missing = path.join(work, 'nowhere');
    const e = await caught(checkoutCatalog({ url: missing, cacheDir: path.join(work, 'cache-missing') }));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.artifact).toBe(missing);
    expect(e.message).not.toContain('\n');
  });
});

describe('mirrorCatalogGit', () => {
  const fluxTemplate = 'addons/fluxcd/template.cue';
  const addedFile = 'addons/fluxcd/airlock-notes.txt';
  const removedFile = 'addons/cloudshell/readme.md';

  async function checkout(cache: string) {
    return checkoutCatalog({ url: upstream, cacheDir: path.join(work, cache) });
  }

  function rewrites(): Map<string, Buffer> {
    const original = fs.readFileSync(path.join(upstream, fluxTemplate), 'utf8');
    return new Map([
      [fluxTemplate, Buffer.from(`${original}// mirrored\n`)],
      ['hack/sync.sh', Buffer.from('#!/bin/sh\necho http://chartmuseum.airgap.local\n')],
      [addedFile, Buffer.from('rewritten by airlock\n')],
    ]);
  }

  /**
   * What a user of the mirror does: a plain `git clone` into a fresh directory (no cache, no config
   * of ours), then `git checkout airgap`. The working tree must be the upstream commit's files with
   * the rewrites applied, modes kept, the removed file gone, and nothing left modified.
   */
  function expectFreshClone(
    remote: string,
    branchCommit: string,
    rewritten: Map<string, Buffer>,
    removed: string[] = [],
  ): void {
    const clone = path.join(fs.mkdtempSync(path.join(work, 'fresh-')), 'catalog');
    execFileSync('git', ['clone', '--quiet', remote, clone], {
      cwd: work,
      env: GIT_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(c2);
    git(clone, 'checkout', '--quiet', 'airgap');
    expect(git(clone, 'symbolic-ref', '--short', 'HEAD')).toBe('airgap');
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(branchCommit);
    expect(git(clone, 'rev-parse', 'origin/main')).toBe(c2);
    expect(git(clone, 'rev-parse', 'v1.0.0^{commit}')).toBe(c1);
    // path → "mode blob" of the upstream commit and of the clone's index; a clean status then ties the files on disk to them.
    const entries = (out: string, re: RegExp) =>
      new Map(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => re.exec(l))
          .map((m) => [m?.[3] ?? '', `${m?.[1]} ${m?.[2]}`]),
      );
    const upstreamTree = entries(git(upstream, 'ls-tree', '-r', c2), /^(\d+) blob ([0-9a-f]+)\t(.+)$/);
    const cloneIndex = entries(git(clone, 'ls-files', '-s'), /^(\d+) ([0-9a-f]+) \d\t(.+)$/);
    const expected = [
      ...new Set([...[...upstreamTree.keys()].filter((f) => !removed.includes(f)), ...rewritten.keys()]),
    ].sort();
    expect([...cloneIndex.keys()].sort()).toEqual(expected);
    for (const [f, entry] of upstreamTree)
      if (!rewritten.has(f) && !removed.includes(f)) expect(cloneIndex.get(f), f).toBe(entry);
    expect(git(clone, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    for (const [p, bytes] of rewritten) expect(fs.readFileSync(path.join(clone, p)).equals(bytes), p).toBe(true);
    for (const f of removed) expect(fs.existsSync(path.join(clone, f)), f).toBe(false);
    expect(fs.statSync(path.join(clone, 'hack/sync.sh')).mode & 0o111).not.toBe(0);
    git(clone, 'fsck', '--no-progress');
  }

  it('pushes branches and tags unchanged plus the rewritten branch; an identical re-run pushes nothing', async () => {
    const co = await checkout('cache-mirror');
    const remoteDir = bare(path.join(work, 'private.git'));
    const remote = `file://${remoteDir}`;
    // A branch that only the private remote has must survive.
    git(remoteDir, 'fetch', '--quiet', '--no-tags', upstream, `${c1}:refs/heads/local-only`);

    const r = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote,
      branch: 'airgap',
      rewritten: rewrites(),
      removed: [removedFile],
    });
    expect(r.status).toBe('pushed');
    const up = lsRemote(upstream);
    expect(r.pushedRefs).toBe(Object.keys(up).length + 1);
    const mine = lsRemote(remoteDir);
    for (const [ref, id] of Object.entries(up)) expect(mine[ref], ref).toBe(id);
    expect(mine['refs/tags/v1.0.0']).toBe(git(upstream, 'rev-parse', 'refs/tags/v1.0.0'));
    expect(git(remoteDir, 'cat-file', '-t', 'refs/tags/v1.0.0')).toBe('tag');
    expect(mine['refs/heads/local-only']).toBe(c1);
    expect(mine['refs/heads/airgap']).toBe(r.branchCommit);
    expect(git(remoteDir, 'for-each-ref', 'refs/pull')).toBe('');

    expect(git(remoteDir, 'rev-parse', 'airgap^')).toBe(c2);
    expect(git(remoteDir, 'rev-list', '--count', 'airgap')).toBe('3');
    expect(git(remoteDir, 'diff', '--name-only', c2, 'airgap').split('\n')).toEqual(
      [fluxTemplate, addedFile, removedFile, 'hack/sync.sh'].sort(),
    );
    for (const [p, bytes] of rewrites())
      expect(execFileSync('git', ['show', `airgap:${p}`], { cwd: remoteDir, env: GIT_ENV })).toEqual(bytes);
    expect(git(remoteDir, 'ls-tree', 'airgap', 'hack/sync.sh').split(' ')[0]).toBe('100755');
    expect(git(remoteDir, 'ls-tree', 'airgap', addedFile).split(' ')[0]).toBe('100644');
    // Committed with the upstream commit's date, so the id is reproducible.
    expect(git(remoteDir, 'log', '-1', '--format=%ct|%an', 'airgap')).toBe(
      `${git(upstream, 'log', '-1', '--format=%ct', c2)}|airlock`,
    );
    expectFreshClone(remote, r.branchCommit, rewrites(), [removedFile]);

    const again = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote,
      branch: 'airgap',
      rewritten: rewrites(),
      removed: [removedFile],
    });
    expect(again).toEqual({ status: 'unchanged', pushedRefs: 0, branchCommit: r.branchCommit });
    expect(lsRemote(remoteDir)).toEqual(mine);

    // A different rewrite moves only the airgap branch.
    const changed = rewrites();
    changed.set(addedFile, Buffer.from('second version\n'));
    const third = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote,
      branch: 'airgap',
      rewritten: changed,
    });
    expect(third.status).toBe('pushed');
    expect(third.pushedRefs).toBe(1);
    expect(git(remoteDir, 'rev-parse', 'airgap^')).toBe(c2);
    expect(git(remoteDir, 'diff', '--name-only', c2, 'airgap').split('\n')).toEqual(
      [fluxTemplate, addedFile, 'hack/sync.sh'].sort(),
    );
  });

  it('follows an upstream force-push and a moved tag', async () => {
    const scratch = path.join(work, 'upstream-force');
    git(work, 'clone', '--quiet', '--bare', upstream, scratch);
    const co = await checkoutCatalog({ url: scratch, cacheDir: path.join(work, 'cache-force') });
    const remoteDir = bare(path.join(work, 'private-force.git'));
    await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote: remoteDir,
      branch: 'airgap',
      rewritten: rewrites(),
    });
    expect(lsRemote(remoteDir)['refs/heads/main']).toBe(c2);

    // Upstream rewrites main (not a fast-forward) and re-points the tag.
    git(scratch, 'update-ref', 'refs/heads/main', c1);
    git(scratch, 'tag', '-f', 'v1.0.0', releaseTip);
    const co2 = await checkoutCatalog({ url: scratch, cacheDir: path.join(work, 'cache-force') });
    expect(co2.commit).toBe(c1);
    const r = await mirrorCatalogGit({
      repoDir: co2.repoDir,
      upstreamCommit: co2.commit,
      remote: remoteDir,
      branch: 'airgap',
      rewritten: rewrites(),
    });
    expect(r.pushedRefs).toBe(3);
    const mine = lsRemote(remoteDir);
    expect(mine['refs/heads/main']).toBe(c1);
    expect(mine['refs/tags/v1.0.0']).toBe(releaseTip);
    expect(git(remoteDir, 'rev-parse', 'airgap^')).toBe(c1);
  });

  it('pushes over git:// to a network remote', async () => {
    const co = await checkout('cache-mirror-net');
    const remote = `git://127.0.0.1:${daemonPort}/private-net.git`;
    const r = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote,
      branch: 'airgap',
      rewritten: rewrites(),
    });
    expect(r.status).toBe('pushed');
    const mine = lsRemote(remote);
    expect(mine['refs/heads/main']).toBe(c2);
    expect(mine['refs/heads/release-1.0']).toBe(releaseTip);
    expect(mine['refs/heads/airgap']).toBe(r.branchCommit);
    expectFreshClone(remote, r.branchCommit, rewrites());
    expect(
      (
        await mirrorCatalogGit({
          repoDir: co.repoDir,
          upstreamCommit: co.commit,
          remote,
          branch: 'airgap',
          rewritten: rewrites(),
        })
      ).status,
    ).toBe('unchanged');
  });

  it('turns a refusing remote into one line of E_DENIED naming the ref, and updates no ref at all', async () => {
    const co = await checkout('cache-mirror-hook');
    const remoteDir = bare(path.join(work, 'private-hook.git'));
    // Per-ref hook that refuses only the airgap branch: with an atomic push, main must not move either.
    fs.writeFileSync(
      path.join(remoteDir, 'hooks', 'update'),
      '#!/bin/sh\nif [ "$1" = refs/heads/airgap ]; then echo "GL-HOOK-ERR: airgap is protected" >&2; exit 1; fi\nexit 0\n',
      { mode: 0o755 },
    );
    const e = await caught(
      mirrorCatalogGit({
        repoDir: co.repoDir,
        upstreamCommit: co.commit,
        remote: remoteDir,
        branch: 'airgap',
        rewritten: rewrites(),
      }),
    );
    expect(e.code).toBe('E_DENIED');
    expect(e.artifact).toBe(remoteDir);
    expect(e.message).toContain('refs/heads/airgap');
    expect(e.message).toContain('airgap is protected');
    expect(formatErrorLine(e)).not.toContain('\n');
    expect(lsRemote(remoteDir)).toEqual({});

    // A pre-receive hook refusing everything, on a remote that already holds a mirror.
    const r = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote: bare(path.join(work, 'private-hook2.git')),
      branch: 'airgap',
      rewritten: rewrites(),
    });
    const hook2 = path.join(work, 'private-hook2.git');
    const before = lsRemote(hook2);
    fs.writeFileSync(path.join(hook2, 'hooks', 'pre-receive'), '#!/bin/sh\necho "mirror is frozen" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const changed = rewrites();
    changed.set(addedFile, Buffer.from('another\n'));
    const e2 = await caught(
      mirrorCatalogGit({
        repoDir: co.repoDir,
        upstreamCommit: co.commit,
        remote: hook2,
        branch: 'airgap',
        rewritten: changed,
      }),
    );
    expect(e2.code).toBe('E_DENIED');
    expect(e2.message).toMatch(
      /refused refs\/heads\/airgap: pre-receive hook declined \(remote said: mirror is frozen\)/,
    );
    expect(lsRemote(hook2)).toEqual(before);
    expect(before['refs/heads/airgap']).toBe(r.branchCommit);
  });

  it('redacts credentials of the mirror remote and refuses an upstream branch of the same name', async () => {
    const co = await checkout('cache-mirror-misc');
    const port = await freePort();
    const e = await caught(
      mirrorCatalogGit({
        repoDir: co.repoDir,
        upstreamCommit: co.commit,
        remote: `https://robot:gl-pat-9f8e7d6c@127.0.0.1:${port}/mirror/catalog.git`,
        branch: 'airgap',
        rewritten: rewrites(),
      }),
    );
    expect(e.code).toBe('E_UNREACHABLE');
    expect(formatErrorLine(e)).not.toContain('gl-pat-9f8e7d6c');
    expect(e.artifact).toBe(`https://robot:***@127.0.0.1:${port}/mirror/catalog.git`);

    const e2 = await caught(
      mirrorCatalogGit({
        repoDir: co.repoDir,
        upstreamCommit: co.commit,
        remote: bare(path.join(work, 'private-misc.git')),
        branch: 'release-1.0',
        rewritten: rewrites(),
      }),
    );
    expect(e2.code).toBe('E_CONFLICT');
    expect(e2.message).toContain('release-1.0');

    const e3 = await caught(
      mirrorCatalogGit({
        repoDir: co.repoDir,
        upstreamCommit: co.commit,
        remote: path.join(work, 'private-misc.git'),
        branch: 'airgap',
        rewritten: new Map([['../escape', Buffer.from('x')]]),
      }),
    );
    expect(e3.code).toBe('E_USAGE');
    expect(lsRemote(path.join(work, 'private-misc.git'))).toEqual({});
  });
});

describe('over HTTP with credentials in the URL', () => {
  const token = 'glpat-Zx81-secret-token';
  let server: GitHttpServer;

  beforeAll(async () => {
    server = await startGitHttpServer(served, 'mirror-bot', token);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('authenticates checkout and mirror with the token, which never lands on disk', async () => {
    const cacheDir = path.join(work, 'cache-http');
    const url = `${server.url.replace('//', `//mirror-bot:${token}@`)}/catalog`;
    const co = await checkoutCatalog({ url, cacheDir });
    expect(co.commit).toBe(c2);
    const expected = `Basic ${Buffer.from(`mirror-bot:${token}`).toString('base64')}`;
    expect(server.authorizations.length).toBeGreaterThan(0);
    expect(server.authorizations.every((a) => a === expected)).toBe(true);

    const remoteDir = bare(path.join(served, 'private-http.git'));
    const remote = `${server.url.replace('//', `//mirror-bot:${token}@`)}/private-http.git`;
    const r = await mirrorCatalogGit({
      repoDir: co.repoDir,
      upstreamCommit: co.commit,
      remote,
      branch: 'airgap',
      rewritten: new Map([['addons/fluxcd/x.txt', Buffer.from('x\n')]]),
    });
    expect(r.status).toBe('pushed');
    expect(lsRemote(remoteDir)['refs/heads/airgap']).toBe(r.branchCommit);
    expect(lsRemote(remoteDir)['refs/heads/main']).toBe(c2);

    const files = (fs.readdirSync(cacheDir, { recursive: true }) as string[])
      .map((f) => path.join(cacheDir, f))
      .filter((f) => fs.statSync(f).isFile());
    expect(files.filter((f) => fs.readFileSync(f).includes(token))).toEqual([]);
  });

  it('reports a wrong token as E_UNAUTHORIZED without showing it', async () => {
    const url = `${server.url.replace('//', '//mirror-bot:wrong-token-123@')}/catalog`;
    const e = await caught(checkoutCatalog({ url, cacheDir: path.join(work, 'cache-http-bad') }));
    expect(e.code).toBe('E_UNAUTHORIZED');
    expect(formatErrorLine(e)).not.toContain('wrong-token-123');
    expect(e.artifact).toBe(`${server.url.replace('//', '//mirror-bot:***@')}/catalog`);
    expect(formatErrorLine(e)).not.toContain('\n');
  });
});
