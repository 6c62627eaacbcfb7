import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'cloudforet-managed-plugins');

describe('plugin manifests', () => {
  it('airlock plugins sync --dry-run refuses image: ../../etc/passwd in a manifest with one line and registers the rest', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugins-evil-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'evil.yaml'),
        'plugin_id: plugin-evil\nname: Evil\nresource_type: inventory.Collector\nimage: ../../etc/passwd\n',
      );
      fs.writeFileSync(
        path.join(dir, 'good.yaml'),
        'plugin_id: plugin-good\nname: Good\nresource_type: inventory.Collector\nimage: plugin-good\n',
      );
      const r = await airlock([
        'plugins',
        'sync',
        '--manifests',
        dir,
        '--dry-run',
        '--json',
        '--image-prefix',
        'cloudforet',
      ]);
      expect(r.code).toBe(2);
      expect(
        (JSON.parse(r.stdout) as Array<{ request: { plugin_id: string; image: string } }>).map((c) => [
          c.request.plugin_id,
          c.request.image,
        ]),
      ).toEqual([['plugin-good', 'cloudforet/plugin-good']]);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toEqual([
        `airlock: [E_USAGE] ${path.join(dir, 'evil.yaml')} (plugin-evil): image "../../etc/passwd" is not an OCI repository name (lowercase components joined by /)`,
      ]);
      const prefixed = await airlock([
        'plugins',
        'sync',
        '--manifests',
        dir,
        '--dry-run',
        '--image-prefix',
        '../../tmp',
      ]);
      expect(prefixed.code).toBe(2);
      expect(prefixed.stdout).toMatch(/^0 plugins valid, 2 invalid$/m);
      expect(prefixed.stderr).toContain(
        `${path.join(dir, 'good.yaml')} (plugin-good): image prefix (plugins.target.path or --image-prefix) "../../tmp" is not an OCI repository name`,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('airlock plugins sync --manifests DIR --dry-run --json prints one register per valid plugin and reports bad files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugins-'));
    for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
    fs.writeFileSync(
      path.join(dir, 'zz-bad-image.yaml'),
      'name: Bad\nresource_type: inventory.Collector\nimage: plugin_bad:latest\n',
    );
    fs.writeFileSync(path.join(dir, 'zz-not-yaml.yaml'), 'name: [unclosed\n');
    const r = await airlock([
      'plugins',
      'sync',
      '--manifests',
      dir,
      '--dry-run',
      '--json',
      '--image-prefix',
      'cloudforet',
    ]);
    expect(r.code).toBe(2);
    const calls = JSON.parse(r.stdout) as Array<{ method: string; request: { plugin_id: string; image: string } }>;
    expect(calls).toHaveLength(35);
    expect(calls.every((c) => c.method === 'register')).toBe(true);
    expect(r.stderr).toMatch(
      /\[E_USAGE\] .*zz-bad-image\.yaml \(Bad\): image "plugin_bad:latest" must not carry a tag or digest/,
    );
    expect(r.stderr).toMatch(/zz-not-yaml\.yaml: not valid YAML/);
    const live = await airlock(['plugins', 'sync', '--manifests', dir]);
    expect(live.code).toBe(2);
    expect(live.stderr).toMatch(/needs --config/);
  });
});
