import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheKey, checkoutCatalog } from '../src/addons/catalog-git.js';

describe('git catalog cache', () => {
  it('keeps the newest materialised trees, prunes old ones, and reads a cached commit offline', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'git-prune-'));
    try {
      const repo = path.join(work, 'upstream');
      fs.mkdirSync(path.join(repo, 'addons', 'a'), { recursive: true });
      fs.writeFileSync(path.join(repo, 'addons', 'a', 'metadata.yaml'), 'name: a\nversion: 1.0.0\n');
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      };
      execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
      execFileSync('git', ['add', '-A'], { cwd: repo, env });
      execFileSync('git', ['commit', '-q', '-m', 'one'], { cwd: repo, env });
      const cacheDir = path.join(work, 'cache');
      const url = `file://${repo}`;
      const trees = path.join(cacheDir, 'git', `${cacheKey(url)}.trees`);
      fs.mkdirSync(trees, { recursive: true });
      const hour = 3600_000;
      // Seven trees of earlier commits, last used 2 to 8 hours ago, and one used a minute ago.
      for (let i = 0; i < 7; i++) {
        const d = path.join(trees, `old${i}`);
        fs.mkdirSync(d);
        const t = new Date(Date.now() - (2 + i) * hour);
        fs.utimesSync(d, t, t);
      }
      fs.mkdirSync(path.join(trees, 'recent'));
      const first = await checkoutCatalog({ url, cacheDir });
      expect(fs.existsSync(path.join(first.dir, 'addons', 'a', 'metadata.yaml'))).toBe(true);
      expect(
        fs
          .readdirSync(trees)
          .filter((n) => !n.startsWith('.'))
          .sort(),
      ).toEqual([first.commit, 'old0', 'old1', 'old2', 'recent'].sort());

      // A commit the cache holds is read without asking the remote, even when it is gone.
      fs.renameSync(repo, `${repo}-moved`);
      const pinned = await checkoutCatalog({ url, cacheDir, ref: first.commit });
      expect(pinned).toMatchObject({ commit: first.commit, dir: first.dir });
      await expect(checkoutCatalog({ url, cacheDir })).rejects.toMatchObject({
        code: expect.stringMatching(/^E_(NOT_FOUND|UNREACHABLE)$/),
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
