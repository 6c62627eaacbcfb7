import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Addon } from '../../src/addons/addon.js';
import { readCatalogDir, type CatalogContents } from '../../src/addons/catalog-dir.js';
import { discoverAddon, normaliseImage } from '../../src/addons/discover.js';
import { rewriteAddon, type ImageTarget, type RewriteTargets } from '../../src/addons/rewrite.js';
import { parseRegistryRef } from '../../src/oci/reference.js';
import { targetParts, type TargetRule } from '../../src/targets/image-target.js';

const CATALOG = path.resolve(import.meta.dirname, '..', 'fixtures', 'kubevela-catalog');
let catalog: CatalogContents;
beforeAll(async () => {
  catalog = await readCatalogDir(CATALOG);
});

const REGISTRY = 'registry.airgap:5000/platform';
const RULES = ['{host}/{repository}', '{repository}', '{name}', 'mirror/{repository}', 'mirror/{host}/{name}'];

function targetsFor(rule: TargetRule): RewriteTargets {
  return {
    image: (n): ImageTarget => targetParts(parseRegistryRef(n), rule),
    chart: () => ({ url: 'https://charts.airgap', repoType: 'helm' }),
  };
}

/** The reference an image must read after the rewrite: the mirrored repository, the source's tag or digest. */
function mirrored(normalised: string, rule: TargetRule): string {
  const t = targetParts(parseRegistryRef(normalised), rule);
  const name = parseRegistryRef(normalised);
  return normaliseImage(`${t.registry}/${t.repository}${name.digest ? `@${name.digest}` : `:${name.tag}`}`);
}

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));
const addonOf = (name: string, entries: Record<string, string>): Addon => ({
  registry: 'official',
  dir: name,
  metadata: { name, version: '1.0.0' },
  files: files({ 'metadata.yaml': `name: ${name}\nversion: 1.0.0\n`, ...entries }),
});

describe('every reference of the real catalog points at its mirror, whatever the path rule', () => {
  for (const p of RULES) {
    it(`targets.images.path "${p}"`, () => {
      const rule = { registry: REGISTRY, path: p };
      for (const a of catalog.addons) {
        const scan = discoverAddon(a);
        const rw = rewriteAddon(scan, targetsFor(rule));
        expect(rw.errors, a.dir).toEqual([]);
        const again = discoverAddon({ ...a, files: rw.files }).plan;
        expect(again.images, a.dir).toEqual([...new Set(scan.plan.images.map((i) => mirrored(i, rule)))].sort());
      }
    });
  }
});

// The scenario of issue 15 part 6: a chart's Helm values split the image over three values.
const SOURCE = '127.0.0.1:5001';
const helmTemplate = (image: string) =>
  [
    'output: {',
    '\tapiVersion: "core.oam.dev/v1beta1"',
    '\tkind:       "Application"',
    '\tspec: components: [{',
    '\t\tname: "demo"',
    '\t\ttype: "helm"',
    '\t\tproperties: {',
    '\t\t\turl:   "https://charts.example.com"',
    '\t\t\tchart: "demo"',
    '\t\t\tvalues: image: {',
    image,
    '\t\t\t}',
    '\t\t}',
    '\t}]',
    '}',
    '',
  ].join('\n');

describe('a reference split over Helm values gets each piece of its mirror', () => {
  const cases: Array<{ rule: string; registry: string; repository: string }> = [
    { rule: 'mirror/{repository}', registry: REGISTRY, repository: 'mirror/team/demo-server' },
    { rule: '{repository}', registry: REGISTRY, repository: 'team/demo-server' },
    { rule: '{name}', registry: REGISTRY, repository: 'demo-server' },
    // The default rule with a source port: `{host}` turns `:` into `-`, so the written name is no suffix.
    { rule: '{host}/{repository}', registry: REGISTRY, repository: '127.0.0.1-5001/team/demo-server' },
  ];
  for (const c of cases) {
    it(`CUE values, rule "${c.rule}": registry → ${c.registry}, repository → ${c.repository}`, () => {
      const a = addonOf('demo', {
        'template.cue': helmTemplate(
          `\t\t\t\tregistry:   "${SOURCE}"\n\t\t\t\trepository: "team/demo-server"\n\t\t\t\ttag:        "1.4.2"`,
        ),
      });
      const rule = { registry: REGISTRY, path: c.rule };
      const rw = rewriteAddon(discoverAddon(a), targetsFor(rule));
      expect(rw.errors).toEqual([]);
      const out = rw.files.get('template.cue')!.toString();
      expect(out).toContain(`registry:   "${c.registry}"`);
      expect(out).toContain(`repository: "${c.repository}"`);
      expect(out).toContain('tag:        "1.4.2"');
      expect(discoverAddon({ ...a, files: rw.files }).plan.images).toEqual([`${c.registry}/${c.repository}:1.4.2`]);
      expect(rw.changes.filter((x) => x.kind === 'image')).toEqual([
        {
          kind: 'image',
          file: 'template.cue',
          from: `${SOURCE}/team/demo-server:1.4.2`,
          to: `${c.registry}/${c.repository}:1.4.2`,
        },
      ]);
    });
  }

  it('YAML values keep their quoting; a parameter default holding the registry is rewritten at the default', () => {
    const yaml = addonOf('demo', {
      'template.yaml': `spec:\n  components:\n    - type: helm\n      properties:\n        url: https://charts.example.com\n        chart: demo\n        values:\n          image:\n            registry: '${SOURCE}'\n            repository: "team/demo-server"\n            tag: 1.4.2\n`,
    });
    const rule = { registry: REGISTRY, path: 'mirror/{repository}' };
    const out = rewriteAddon(discoverAddon(yaml), targetsFor(rule)).files.get('template.yaml')!.toString();
    expect(out).toContain(
      `registry: '${REGISTRY}'\n            repository: "mirror/team/demo-server"\n            tag: 1.4.2`,
    );

    const param = addonOf('demo', {
      'parameter.cue': `parameter: {\n\tregistry: *"${SOURCE}" | string\n}\n`,
      'template.cue': helmTemplate(
        '\t\t\t\tregistry:   parameter.registry\n\t\t\t\trepository: "team/demo-server"\n\t\t\t\ttag:        "1.4.2"',
      ),
    });
    const rw = rewriteAddon(discoverAddon(param), targetsFor(rule));
    expect(rw.errors).toEqual([]);
    expect(rw.files.get('parameter.cue')!.toString()).toContain(`registry: *"${REGISTRY}" | string`);
    expect(rw.files.get('template.cue')!.toString()).toContain('repository: "mirror/team/demo-server"');
  });

  it('a registry prefix concatenated in front of a literal: the prefix takes the registry, the literal the path', () => {
    const a = addonOf('demo', {
      'template.cue': `_base: "${SOURCE}/"\noutput: {\n\tapiVersion: "core.oam.dev/v1beta1"\n\tkind: "Application"\n\tspec: components: [{\n\t\tname: "demo"\n\t\ttype: "webservice"\n\t\tproperties: image: _base + "team/demo-server:1.4.2"\n\t}]\n}\n`,
    });
    const rule = { registry: REGISTRY, path: '{name}' };
    const rw = rewriteAddon(discoverAddon(a), targetsFor(rule));
    expect(rw.errors).toEqual([]);
    const out = rw.files.get('template.cue')!.toString();
    expect(out).toContain(`_base: "${REGISTRY}/"`);
    expect(out).toContain('_base + "demo-server:1.4.2"');
    expect(discoverAddon({ ...a, files: rw.files }).plan.images).toEqual([`${REGISTRY}/demo-server:1.4.2`]);
  });

  it('where a piece cannot be rewritten the addon gets an error, not a warning: a computed registry, one value two mirrors', () => {
    // The repository is the addon's name (`context.metadata.name`): discovery knows it, no literal holds it.
    const computed = addonOf('demo', {
      'template.cue': helmTemplate(
        `\t\t\t\tregistry:   "${SOURCE}"\n\t\t\t\trepository: context.metadata.name\n\t\t\t\ttag:        "1.4.2"`,
      ),
    });
    const scan = discoverAddon(computed);
    expect(scan.plan.images).toEqual([`${SOURCE}/demo:1.4.2`]);
    const failed = rewriteAddon(scan, targetsFor({ registry: REGISTRY, path: 'mirror/{repository}' }));
    expect(failed.errors).toEqual([
      expect.stringMatching(
        /^demo\/template\.cue: image 127\.0\.0\.1:5001\/demo:1\.4\.2 cannot point at its mirror registry\.airgap:5000\/platform\/mirror\/demo: "demo" in the name is computed/,
      ),
    ]);
    expect(failed.warnings).toEqual([]);

    // One repository value shared by two images of different registries: one literal, two different rewrites.
    const component = (name: string, registry: string) =>
      `{\n\tname: "${name}"\n\ttype: "helm"\n\tproperties: {\n\t\turl: "https://charts.example.com"\n\t\tchart: "${name}"\n\t\tvalues: image: {\n\t\t\tregistry: "${registry}"\n\t\t\trepository: parameter.repo\n\t\t\ttag: "1.4.2"\n\t\t}\n\t}\n}`;
    const shared = addonOf('demo', {
      'parameter.cue': 'parameter: {\n\trepo: *"team/demo-server" | string\n}\n',
      'template.cue': `output: {\n\tapiVersion: "core.oam.dev/v1beta1"\n\tkind: "Application"\n\tspec: components: [${component('a', SOURCE)}, ${component('b', 'quay.io')}]\n}\n`,
    });
    const rw = rewriteAddon(discoverAddon(shared), targetsFor({ registry: REGISTRY, path: '{host}/{repository}' }));
    expect(discoverAddon(shared).plan.images.sort()).toEqual([
      `${SOURCE}/team/demo-server:1.4.2`,
      'quay.io/team/demo-server:1.4.2',
    ]);
    expect(rw.errors).toHaveLength(1);
    expect(rw.errors[0]).toMatch(/would be .* instead of .*one value serves references with different mirrors/);
  });
});
