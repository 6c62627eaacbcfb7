import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { resolveScope } from '../src/config/scope.js';
import { airlock } from './support/cli.js';
import { buildManifest, pushImage } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let work: string;

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(upstream.url, 'scope/a', '1', buildManifest({}));
  await pushImage(upstream.url, 'scope/b', '1', buildManifest({}));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'scope-'));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('run scopes', () => {
  const base = {
    targets: { files: { dir: '/tmp/x', baseUrl: 'https://files' } },
    images: [
      { source: 'ghcr.io/acme/a:1', target: 'reg/a' },
      { source: 'ghcr.io/acme/b:1', target: 'reg/b' },
    ],
    botkube: [{ name: 'botkube', url: 'https://example.com/index.yaml' }],
    addons: {
      catalogs: [
        { name: 'kubevela', source: '/srv/catalog' },
        { name: 'other', source: '/srv/other' },
      ],
    },
  };

  it('all, a kind, or one named source with the config narrowed to it', () => {
    const config = parseConfig(base);
    expect(resolveScope(config, 'all')?.kinds).toEqual(['addons', 'charts', 'images', 'files', 'plugins']);
    expect(resolveScope(config, 'images')?.kinds).toEqual(['images']);
    const catalog = resolveScope(config, 'addons:kubevela')!;
    expect(catalog.kinds).toEqual(['addons']);
    expect(catalog.config.addons?.catalogs.map((c) => c.name)).toEqual(['kubevela']);
    const image = resolveScope(config, 'images:ghcr.io/acme/b:1')!;
    expect(image.config.images.map((i) => i.source)).toEqual(['ghcr.io/acme/b:1']);
    expect(resolveScope(config, 'botkube:botkube')?.kinds).toEqual(['files']);
    expect(resolveScope(config, 'addons:nope')).toBeUndefined();
    expect(resolveScope(config, 'bundles')).toBeUndefined();
  });

  it('a schedule or watched repository with an unknown scope is a config error naming the key', () => {
    expect(() => parseConfig({ ...base, schedules: [{ name: 'n', cron: '* * * * *', scope: 'addons:typo' }] })).toThrow(
      /schedules\[0\]\.scope: unknown scope "addons:typo"/,
    );
    expect(() =>
      parseConfig({
        ...base,
        serve: {
          github: { secret: { env: 'S' }, repositories: [{ repo: 'kubevela/catalog', scope: 'addons:kubevela' }] },
        },
      }),
    ).not.toThrow();
  });

  it('airlock sync --source images:SOURCE copies that entry only', async () => {
    const cfg = path.join(work, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      [
        'images:',
        `  - source: ${upstream.host}/scope/a:1`,
        `    target: ${target.host}/scope/a`,
        `  - source: ${upstream.host}/scope/b:1`,
        `    target: ${target.host}/scope/b`,
      ].join('\n'),
    );
    const r = await airlock([
      'sync',
      '--config',
      cfg,
      '--source',
      `images:${upstream.host}/scope/b:1`,
      '--json',
      '--state',
      path.join(work, 'state.json'),
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { items: Array<{ source: string; status: string }> };
    expect(report.items.map((i) => `${i.status} ${i.source}`)).toEqual([`copied docker://${upstream.host}/scope/b:1`]);
    const bad = await airlock(['sync', '--config', cfg, '--source', 'addons:none']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--source: "addons:none" names nothing/);
  });
});
