import { describe, expect, it } from 'vitest';
import { readAddonMetadata, type Addon } from '../../src/addons/addon.js';
import { discoverAddon } from '../../src/addons/discover.js';
import { rewriteAddon } from '../../src/addons/rewrite.js';
import { formatGoFloat32, readGoYaml, resolvePlain } from '../../src/core/go-yaml.js';

/**
 * KubeVela reads addon YAML with sigs.k8s.io/yaml v1.4.0 over go-yaml v2 (kubevela/kubevela
 * pkg/addon/addon.go readMetadata, readTemplate, renderObject; pkg/utils/helm/helm_helper.go
 * GetIndexInfo, at 5a44b5f10c59f80a4fcd1990f59e024856c78cd8). The expected values below are what
 * that library gives for each text (`yaml.YAMLToJSON`, `yaml.Unmarshal` into KubeVela's `Meta`),
 * read from its sources (goyaml.v2 decode.go, scannerc.go, resolve.go; yaml.go) and checked
 * against a build of it.
 */
const GO: Array<[string, string, unknown]> = [
  ['a repeated key: the last one', 'a: 1\nb: 2\na: 3\n', { a: 3, b: 2 }],
  ['a repeated map is replaced, not merged', 'a:\n  b: 1\n  c: 2\na:\n  d: 3\n', { a: { d: 3 } }],
  [
    '<< after a key replaces it',
    'base: &b {x: 1, z: 2}\nm:\n  x: 9\n  <<: *b\n',
    { base: { x: 1, z: 2 }, m: { x: 1, z: 2 } },
  ],
  [
    'a key after << replaces the merged one',
    'base: &b {x: 1, z: 2}\nm:\n  <<: *b\n  x: 9\n',
    { base: { x: 1, z: 2 }, m: { x: 9, z: 2 } },
  ],
  [
    '<< of a list: the first map wins',
    'a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n',
    { a: { x: 1 }, b: { x: 2, z: 2 }, m: { x: 1, z: 2 } },
  ],
  ['a quoted "<<" is a key', 'a: &a {x: 1}\nm:\n  "<<": *a\n', { a: { x: 1 }, m: { '<<': { x: 1 } } }],
  [
    'an alias repeats its anchor',
    'img: &i nginx:1.25\nc:\n  image: *i\n',
    { img: 'nginx:1.25', c: { image: 'nginx:1.25' } },
  ],
  ['the first document only', 'a: 1\n---\nb: 2\n', { a: 1 }],
  ['a broken second document is never read', 'a: 1\n---\nb: [\n', { a: 1 }],
  ['an empty first document', '---\n---\nb: 2\n', null],
  ['comments before the first ---', '# c\n---\nb: 2\n', { b: 2 }],
  ['a tab after key:', 'a:\tb\n', { a: 'b' }],
  ['a tab before a comment', 'a: b\t# c\n', { a: 'b' }],
  ['tabs in a flow map', 'a: {\tb: 1,\tc: 2}\n', { a: { b: 1, c: 2 } }],
  ['a tab inside a plain scalar', 'a: b\tc\n', { a: 'b\tc' }],
  ['a tab in block scalar content', 'a: |\n  x\n  \ty\n', { a: 'x\n\ty\n' }],
  ['a tab at the indentation of a plain scalar', 'a: 1\n \t\nb: 2\n', { a: 1, b: 2 }],
  [
    'YAML 1.1 scalars',
    'a: yes\nb: on\nc: 0777\nd: 1.10\ne: 1e3\nf: 0x1F\ng: 2001-12-14\nh: ~\ni: 1_000\nj: n\n',
    { a: true, b: true, c: 511, d: 1.1, e: 1000, f: 31, g: '2001-12-14', h: null, i: 1000, j: false },
  ],
  ['keys become strings', 'y: 1\n2: b\n1.5: c\n', { true: 1, '2': 'b', '1.5': 'c' }],
];
const GO_ERRORS: Array<[string, string, RegExp]> = [
  ['a tab as indentation', 'a:\n\tb: 1\n', /line 2: found character that cannot start any token/],
  [
    'a line holding a tab after a plain scalar',
    'a: 1\n\t\nb: 2\n',
    /line 2: found a tab character that violates indentation/,
  ],
  ['a tab after -', 'a:\n-\tb\n', /line 2: found character that cannot start any token/],
  ['a tab after spaces before a key', 'a:\n  \tb: 1\n', /line 2: found character that cannot start any token/],
  [
    'a tab before a block scalar line',
    'a: |\n\tx\n',
    /line 2: found a tab character where an indentation space is expected/,
  ],
  ['a tab-only line after a quoted value', 'a: "x"\n\t\nb: 2\n', /line 2: found character that cannot start any token/],
];

describe('YAML as sigs.k8s.io/yaml over go-yaml v2 reads it', () => {
  for (const [what, text, want] of GO) {
    it(what, () => {
      const doc = readGoYaml(text);
      expect(doc.error).toBeUndefined();
      expect(doc.toValue()).toEqual(want);
    });
  }
  for (const [what, text, error] of GO_ERRORS) {
    it(`refused: ${what}`, () => {
      expect(readGoYaml(text).error).toMatch(error);
    });
  }

  it('notes each repeated key once, with the line whose value is used; strict reading refuses it', () => {
    const doc = readGoYaml('a: 1\nb:\n  c: 1\n  c: 2\na: 3\n');
    expect(doc.notes).toEqual([
      'key "a" is written twice (lines 1 and 5); the last one, line 5, is used',
      'key "b.c" is written twice (lines 3 and 4); the last one, line 4, is used',
    ]);
    expect(readGoYaml('a: 1\na: 2\n', { strict: true }).error).toMatch(/line 2: key "a" already set in map/);
    expect(readGoYaml('base: &b {x: 1}\nm:\n  x: 2\n  <<: *b\n').notes).toEqual([
      'key "m.x" (line 3) is replaced by the value merged with << on line 4 (go-yaml v2 applies << where it stands)',
    ]);
  });

  it('a text starting with { is JSON for the object decoders, the last of repeated keys winning', () => {
    const doc = readGoYaml('{"kind": "Pod", "image": "a:1", "image": "b:2"}', { jsonPrefix: true });
    expect(doc.toValue()).toEqual({ kind: 'Pod', image: 'b:2' });
    expect(readGoYaml('{"kind": "Pod"}\n---\nx: 1\n', { jsonPrefix: true }).error).toMatch(/not JSON/);
  });

  it('an alias bomb stops', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    expect(() => readGoYaml(bomb).toValue()).toThrow(/excessive aliasing/);
  });

  it('plain scalars and float text as go-yaml resolve.go and strconv.FormatFloat(f, g, -1, 32) give them', () => {
    expect([
      resolvePlain('0o17'),
      resolvePlain('-0b11'),
      resolvePlain('+12'),
      resolvePlain('Off'),
      resolvePlain('NULL'),
      resolvePlain('1.2.3'),
      resolvePlain('v1'),
    ]).toEqual([15, -3, 12, false, null, '1.2.3', 'v1']);
    expect([1e7, 0.000012345, 1234567.5, 1.1, 100000, 0.0001, 1.5e-5].map(formatGoFloat32)).toEqual([
      '1e+07',
      '1.2345e-05',
      '1.2345675e+06',
      '1.1',
      '100000',
      '0.0001',
      '1.5e-05',
    ]);
  });
});

describe('metadata.yaml as KubeVela decodes it into Meta', () => {
  it('a repeated dependencies key: the last list, one note', () => {
    const { metadata, notes } = readAddonMetadata(
      'name: a\nversion: 1.0.0\ndependencies:\n  - name: x\ndependencies:\n  - name: fluxcd\n',
    );
    expect(metadata.dependencies).toEqual([{ name: 'fluxcd' }]);
    expect(notes).toEqual(['key "dependencies" is written twice (lines 3 and 5); the last one, line 5, is used']);
  });

  it('numbers and booleans given for strings become their Go text; field names match case-insensitively', () => {
    expect(readAddonMetadata('name: a\nversion: 1e7\ntags: [1, yes, x]\n').metadata).toMatchObject({
      version: '1e+07',
      tags: ['1', 'true', 'x'],
    });
    expect(readAddonMetadata('Name: b\nname: a\nversion: 1\n').metadata.name).toBe('a');
    expect(
      readAddonMetadata('name: a\nversion: 1.0.0\nsystem:\n  vela: ">=1.0"\nSystem:\n  kubernetes: ">=1.20"\n').metadata
        .system,
    ).toEqual({ vela: '>=1.0', kubernetes: '>=1.20' });
  });

  it('what KubeVela cannot decode is refused with its reason: a quoted boolean, a tab-only line', () => {
    expect(() => readAddonMetadata('name: a\nversion: 1.0.0\ninvisible: "false"\n')).toThrow(
      /invisible must be a boolean/,
    );
    expect(() => readAddonMetadata('name: a\nversion: 1.0.0\n\t\ndescription: x\n')).toThrow(
      /not YAML as KubeVela reads it: line 3: found a tab character that violates indentation/,
    );
  });
});

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));
const addon = (entries: Record<string, string>): Addon => ({
  registry: 'official',
  dir: 'demo',
  metadata: { name: 'demo', version: '1.0.0' },
  files: files({ 'metadata.yaml': 'name: demo\nversion: 1.0.0\n', ...entries }),
});
const deployment = (body: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n${body}`;

describe('resources and template YAML read as KubeVela renders them', () => {
  it('a repeated image key: the last image is the one deployed, warned once', () => {
    const scan = discoverAddon(
      addon({
        'resources/d.yaml': deployment(
          '      containers:\n        - name: c\n          image: old/app:1\n          image: new/app:2\n',
        ),
      }),
    );
    expect(scan.plan.images).toEqual(['docker.io/new/app:2']);
    expect(scan.plan.warnings).toEqual([
      'demo/resources/d.yaml: key "spec.template.spec.containers[0].image" is written twice (lines 10 and 11); the last one, line 11, is used (as KubeVela reads it)',
    ]);
  });

  it('only the first document of a resources file is rendered', () => {
    const scan = discoverAddon(
      addon({
        'resources/d.yaml': `${deployment('      containers:\n        - name: c\n          image: first/app:1\n')}---\n${deployment('      containers:\n        - name: c\n          image: second/app:1\n')}`,
      }),
    );
    expect(scan.plan.images).toEqual(['docker.io/first/app:1']);
  });

  it('anchors, aliases and merge keys: the image reached through them is found and rewritten where it is written', () => {
    const text = deployment(
      '      x-defaults: &defaults\n        image: shared/app:1\n        name: base\n      containers:\n        - <<: *defaults\n          name: c\n        - name: d\n          image: own/app:1\n          <<: *defaults\n',
    );
    const scan = discoverAddon(addon({ 'resources/d.yaml': text }));
    // `image` of the second container is replaced by the merge that follows it (go-yaml v2 order).
    expect(scan.plan.images).toEqual(['docker.io/shared/app:1']);
    expect(
      scan.plan.warnings.some((w) =>
        /key "spec\.template\.spec\.containers\[1\]\.image" \(line 15\) is replaced by the value merged with << on line 16/.test(
          w,
        ),
      ),
    ).toBe(true);
    const rw = rewriteAddon(scan, {
      image: (n) => `mirror.local/${n.replace(/:[^:/]+$/, '')}`,
      chart: () => undefined,
    });
    expect(rw.errors).toEqual([]);
    const out = rw.files.get('resources/d.yaml')!.toString();
    expect(out).toContain('image: mirror.local/docker.io/shared/app:1\n        name: base');
    // Not deployed (the merge replaces it): left as written.
    expect(out).toContain('image: own/app:1');
  });

  it('a tab KubeVela refuses makes the file unreadable for KubeVela: warned with the reason, image: lines read', () => {
    const scan = discoverAddon(
      addon({ 'resources/d.yaml': deployment('      containers:\n        -\timage: tabbed/app:1\n') }),
    );
    expect(scan.plan.warnings).toEqual([
      expect.stringMatching(
        /^demo\/resources\/d\.yaml: not plain YAML \(a Helm template\?\): KubeVela cannot read it \(line 9: found character that cannot start any token\)/,
      ),
    ]);
    // A tab after `key:` is fine for both.
    expect(
      discoverAddon(
        addon({
          'resources/d.yaml': deployment('      containers:\n        - name: c\n          image:\ttabbed/app:1\n'),
        }),
      ).plan,
    ).toMatchObject({ images: ['docker.io/tabbed/app:1'], warnings: [] });
  });

  it('template.yaml with a repeated helm url: the last one is the chart source', () => {
    const scan = discoverAddon(
      addon({
        'template.yaml':
          'spec:\n  components:\n    - type: helm\n      properties:\n        url: https://old.example.com\n        chart: c\n        version: 1.0.0\n        url: https://charts.example.com\n',
      }),
    );
    expect(scan.plan.charts).toEqual([
      { repo: 'https://charts.example.com', chart: 'c', version: '1.0.0', repoType: 'helm' },
    ]);
  });
});
