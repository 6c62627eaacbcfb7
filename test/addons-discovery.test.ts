import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AddonPlan } from '../src/addons/discover.js';
import { airlock } from './support/cli.js';

const CATALOG = path.resolve(import.meta.dirname, 'fixtures', 'kubevela-catalog');

// The rest of addon discovery runs without the CLI, in test/unit/addons-discovery.test.ts.
describe('bad input in addon folders', () => {
  it('a folder without metadata.yaml and a folder named unlike its addon are reported, others continue', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
    fs.mkdirSync(path.join(root, 'addons', 'nometa'), { recursive: true });
    fs.writeFileSync(path.join(root, 'addons', 'nometa', 'template.cue'), 'x: 1\n');
    fs.mkdirSync(path.join(root, 'addons', 'folder'), { recursive: true });
    fs.writeFileSync(path.join(root, 'addons', 'folder', 'metadata.yaml'), 'name: other\nversion: 1.0.0\n');
    fs.cpSync(path.join(CATALOG, 'addons', 'velaux'), path.join(root, 'addons', 'velaux'), { recursive: true });
    const r = await airlock(['addons', 'plan', '--catalog', root, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as AddonPlan[];
    expect(out.map((p) => p.addon).sort()).toEqual(['other', 'velaux']);
    expect(r.stderr).toMatch(/official\/nometa \(nometa\/metadata\.yaml\): metadata\.yaml is missing/);
    expect(out.find((p) => p.addon === 'other')!.warnings[0]).toMatch(
      /folder "folder" differs from metadata name "other"/,
    );
  });
});
