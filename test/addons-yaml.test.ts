import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddonPlan } from '../src/addons/discover.js';
import { readHelmAddonRegistry } from '../src/addons/helm-addon-registry.js';
import { airlock } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { startStaticServer, type StaticServer } from './support/static-server.js';

// How KubeVela reads addon YAML, and the pure cases of it, is in test/unit/addons-yaml.test.ts; here, whole catalogs through the CLI and over HTTP.
const deployment = (body: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n${body}`;

let work: string;
let web: StaticServer;
beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-addons-yaml-'));
  web = await startStaticServer({ dir: work });
});
afterAll(async () => {
  await web?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a catalog KubeVela lists is planned, whatever its YAML leaves to the reader', () => {
  it('an addon repeating dependencies: in metadata.yaml is planned with the last list and one warning', async () => {
    const root = path.join(work, 'catalog');
    const write = (f: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    };
    write(
      'addons/dup/metadata.yaml',
      'name: dup\nversion: 1.0.0\ndependencies:\n  - name: nope\ndescription: repeats a key\ndependencies:\n  - name: base\n',
    );
    write(
      'addons/dup/resources/d.yaml',
      deployment('      containers:\n        - name: c\n          image: team/dup:1.0\n'),
    );
    write('addons/base/metadata.yaml', 'name: base\nversion: 2.0.0\n');
    const r = await airlock(['addons', 'plan', '--catalog', root, '--addon', 'dup', '--json']);
    expect(r.code).toBe(0);
    const plans = JSON.parse(r.stdout) as AddonPlan[];
    expect(plans.map((p) => p.addon).sort()).toEqual(['base', 'dup']);
    const dup = plans.find((p) => p.addon === 'dup')!;
    expect(dup).toMatchObject({ dependencies: ['base'], images: ['docker.io/team/dup:1.0'] });
    expect(dup.warnings.filter((w) => w.includes('dependencies'))).toEqual([
      'dup/metadata.yaml: key "dependencies" is written twice (lines 3 and 6); the last one, line 6, is used (as KubeVela reads it)',
    ]);
  });

  it("a helm-type registry's index.yaml: merge keys and a second document as KubeVela reads them; a repeated key refused as UnmarshalStrict does", async () => {
    const dir = path.join(work, 'registry');
    const src = path.join(work, 'src', 'demo');
    fs.mkdirSync(src, { recursive: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(src, 'metadata.yaml'), 'name: demo\nversion: 1.0.0\n');
    execFileSync('tar', ['-czf', path.join(dir, 'demo-1.0.0.tgz'), 'demo'], { cwd: path.join(work, 'src') });
    const entry = stringify({ name: 'demo', version: '1.0.0', urls: [`${web.url}/registry/demo-1.0.0.tgz`] })
      .trimEnd()
      .replace(/\n/g, '\n      ');
    // The version entry is written once under an anchor and merged: KubeVela's reader sees it whole.
    const index = `apiVersion: v1\nx-common: &common\n      ${entry}\nentries:\n  demo:\n    - <<: *common\n      created: "2024-05-06T07:08:09Z"\n---\napiVersion: ignored\n`;
    fs.writeFileSync(path.join(dir, 'index.yaml'), index);
    const read = await readHelmAddonRegistry(testEngine(), `${web.url}/registry`, 'official');
    expect(read.addons.map((a) => `${a.metadata.name}@${a.metadata.version}`)).toEqual(['demo@1.0.0']);

    fs.writeFileSync(path.join(dir, 'index.yaml'), 'apiVersion: v1\nentries:\n  demo: []\nentries:\n  demo: []\n');
    const err = await readHelmAddonRegistry(testEngine(), `${web.url}/registry`, 'official').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_REGISTRY' });
    expect(String((err as Error).message)).toMatch(
      /index\.yaml is not valid YAML: line 4: key "entries" already set in map/,
    );
  });
});
