import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/defaults.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { createEngine } from '../../src/app/engine.js';
import { AirlockError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { loadRunConfig, type RunConfigOptions } from '../../src/plan/config-check.js';

describe('config', () => {
  it('applies defaults and names the key path of a problem', () => {
    const c = parseConfig({ images: [{ source: 'redis', tags: ['7'] }] });
    expect(c.concurrency).toEqual({ images: 8, blobs: 8 });
    expect(() => parseConfig({ images: [{ source: 'redis', newest: -1 }] }, 'a.yaml')).toThrow(
      /a\.yaml: images\[0\]\.newest/,
    );
    expect(() => parseConfig({ registries: [{ host: 'x', username: 'u', password: 'plain' }] })).toThrow(
      /registries\[0\]\.password: must be \{ env: VAR \} or \{ file: PATH \}/,
    );
    expect(() => parseConfig({ images: [{ source: 'x', regex: '(' }] })).toThrow(
      /images\[0\]\.regex: invalid regular expression/,
    );
    expect(() => parseConfig({ imagez: [] })).toThrow(/imagez/);
  });

  it('runs without a config file on exactly the defaults the schema gives an empty document', () => {
    expect(defaultConfig()).toStrictEqual(parseConfig({}));
    // Each call is a fresh object: commands change concurrency in place.
    const a = defaultConfig();
    a.concurrency.images = 1;
    expect(defaultConfig().concurrency.images).toBe(8);
  });

  it('reports unreadable and non-YAML files with E_CONFIG', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'images: [\n  - source: x\n');
    expect(() => loadConfig(path.join(dir, 'bad.yaml'))).toThrow(/not valid YAML at line/);
    expect(() => loadConfig(path.join(dir, 'missing.yaml'))).toThrow(/cannot read config .* ENOENT/);
  });

  it('validates the example config shipped in config/', () => {
    const c = loadConfig(path.join(import.meta.dirname, '..', '..', 'config', 'airlock.example.yaml'));
    expect(c.images.length).toBeGreaterThan(0);
  });
});

describe('config checks a run would make, at load (loadRunConfig: every command and config check)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-run-'));
  let n = 0;
  /** The E_CONFIG (exit 2) that loading `yaml` gives, or undefined when it loads. */
  async function refusal(yaml: string, options: RunConfigOptions = {}): Promise<string | undefined> {
    const file = path.join(dir, `c${n++}.yaml`);
    fs.writeFileSync(file, yaml);
    try {
      await loadRunConfig(file, options);
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(AirlockError);
      expect((e as AirlockError).code).toBe('E_CONFIG');
      expect((e as AirlockError).exitCode).toBe(2);
      return (e as Error).message.slice(file.length + 2);
    }
  }
  const target = 'targets:\n  images:\n    registry: 127.0.0.1:5001\n';

  it('image sources and targets are references by the run’s grammar', async () => {
    expect(await refusal(`${target}images:\n  - source: 127.0.0.1:5000/Team/App\n`)).toBe(
      'images[0].source: invalid image reference: repository name "Team/App" must be lowercase',
    );
    expect(await refusal('images:\n  - source: 127.0.0.1:5000/team/app\n    target: 127.0.0.1:5001/UPPER/app\n')).toBe(
      'images[0].target: invalid image reference: repository name "UPPER/app" must be lowercase',
    );
    expect(await refusal('images:\n  - source: x\n    target: s3://bucket/x\n')).toMatch(
      /^images\[0\]\.target: unknown transport "s3:"/,
    );
    expect(await refusal(`${target}images:\n  - source: redis\n    tags: ["bad tag", "-lead", "ok"]\n`)).toBe(
      'images[0].tags[0]: tag "bad tag" is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128); ' +
        'images[0].tags[1]: tag "-lead" is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128)',
    );
  });

  it('targets.images: its registry, its path rule, and an image with no target at all', async () => {
    expect(
      await refusal('targets:\n  images:\n    registry: http://127.0.0.1:5001/x\nimages:\n  - source: redis\n'),
    ).toMatch(/^targets\.images\.registry: invalid image reference: "http:" is not a registry host/);
    expect(
      await refusal('targets:\n  images:\n    registry: 127.0.0.1:5001/UPPER\nimages:\n  - source: redis\n'),
    ).toMatch(/^targets\.images\.registry: .*must be lowercase/);
    expect(
      await refusal(
        'targets:\n  images:\n    registry: 127.0.0.1:5001\n    path: "{hst}/{repository}"\nimages:\n  - source: redis\n',
      ),
    ).toBe('targets.images.path: unknown placeholder in "{hst}/{repository}" (use {host}, {repository}, {name})');
    expect(
      await refusal(
        'targets:\n  images:\n    registry: 127.0.0.1:5001\n    path: "Mirror/{name}"\nimages:\n  - source: redis\n',
      ),
    ).toMatch(/^targets\.images\.path: for images\[0\] \(redis\): .*must be lowercase/);
    expect(await refusal('images:\n  - source: redis\n  - source: nginx\n    target: 127.0.0.1:5001/nginx\n')).toBe(
      'images[0]: no target: set images[0].target or targets.images.registry',
    );
    expect(
      await refusal(`${target}images:\n  - source: redis\n  - source: oci:/x\n    target: oci:/store/x\n`),
    ).toMatch(/^images\[1\]\.source: /);
  });

  it('charts need targets.charts, and each target is a kind a run can write to', async () => {
    expect(await refusal('charts:\n  - repo: https://charts.example\n    name: app\n')).toBe(
      'charts: is set but targets.charts is empty (every chart version goes to each targets.charts entry)',
    );
    expect(
      await refusal(
        'targets:\n  charts: ["s3://bucket/x", { url: "oci://127.0.0.1:5001/Charts" }, "cm+http://[bad/x", /srv/charts]\n',
      ),
    ).toBe(
      'targets.charts[0]: a chart target is oci://HOST/PATH, cm+http(s)://HOST[/TENANT] or a directory; ' +
        'targets.charts[1].url: repository path "Charts" is not an OCI repository name (lowercase components joined by /); ' +
        'targets.charts[2]: expected cm+http(s)://HOST[:PORT][/TENANT]',
    );
    expect(await refusal('charts:\n  - repo: oci://ghcr.io/Org\n    name: app\ntargets:\n  charts: [/srv/c]\n')).toBe(
      'charts[0].repo: repository path "Org" is not an OCI repository name (lowercase components joined by /)',
    );
  });

  it('addon registries are chart targets; plugin source and target registry are image references', async () => {
    expect(
      await refusal(
        'addons:\n  catalogs:\n    - { name: c, source: /srv/catalog }\n  publish:\n    registries: ["oci://127.0.0.1:5001/addons/{registry}", { url: "s3://b/{registry}" }]\n',
      ),
    ).toBe(
      'addons.publish.registries[1].url: a chart target is oci://HOST/PATH, cm+http(s)://HOST[/TENANT] or a directory',
    );
    expect(
      await refusal('plugins:\n  source: docker.io/CloudForet\n  target:\n    registry: http://harbor.internal\n'),
    ).toBe(
      'plugins.source: invalid image reference: repository name "CloudForet/x" must be lowercase; ' +
        'plugins.target.registry: invalid image reference: "http:" is not a registry host (host name, IPv4 or [IPv6] address, optional :port)',
    );
    expect(await refusal('plugins:\n  target:\n    registry: harbor.internal:8443/mirror\n')).toBeUndefined();
  });

  it('semver ranges are read as the run reads them, regex and semver alike at load', async () => {
    expect(
      await refusal(
        `images:\n  - source: redis\n    semver: "not-a-range!!"\n  - source: nginx\n    semver: ">=1.2 <2"\n` +
          'charts:\n  - repo: https://c.example\n    name: a\n    semver: "1.x || >=2.1.0"\n  - repo: https://c.example\n    name: b\n    semver: "latest"\n' +
          'targets:\n  images:\n    registry: 127.0.0.1:5001\n  charts: [/srv/c]\n',
      ),
    ).toBe('images[0].semver: "not-a-range!!" is not a semver range; charts[1].semver: "latest" is not a semver range');
  });

  it('secrets are read only when asked (config check), each named by its key path', async () => {
    const yaml =
      'registries:\n  - host: a.example\n    username: u\n    password: { env: AIRLOCK_TEST_UNSET_SECRET }\n' +
      `  - host: b.example\n    username: u\n    password: { file: ${path.join(dir, 'missing-token')} }\n` +
      'serve:\n  generic:\n    token: { env: AIRLOCK_TEST_UNSET_SECRET }\n';
    expect(await refusal(yaml)).toBeUndefined();
    expect(await refusal(yaml, { checkSecrets: true })).toBe(
      'registries[0].password reads environment variable AIRLOCK_TEST_UNSET_SECRET, which is not set; ' +
        `registries[1].password reads secret file ${path.join(dir, 'missing-token')}, which cannot be read (ENOENT); ` +
        'serve.generic.token reads environment variable AIRLOCK_TEST_UNSET_SECRET, which is not set',
    );
  });

  it('the example config passes every check but its secrets', async () => {
    const example = path.join(import.meta.dirname, '..', '..', 'config', 'airlock.example.yaml');
    const c = await loadRunConfig(example);
    expect(c.images.length).toBeGreaterThan(0);
  });
});

describe('an engine starting on a config', () => {
  it('names every registry password it cannot read, not only the first', () => {
    const config = parseConfig({
      registries: [
        { host: 'a.example', username: 'u', password: { env: 'AIRLOCK_TEST_UNSET_A' } },
        { host: 'b.example', username: 'u', password: { file: '/nonexistent/airlock-token' } },
      ],
    });
    expect(() => createEngine({ config, logger: silentLogger(), env: {} })).toThrow(
      new AirlockError(
        'E_CONFIG',
        'registries[0].password reads environment variable AIRLOCK_TEST_UNSET_A, which is not set; ' +
          'registries[1].password reads secret file /nonexistent/airlock-token, which cannot be read (ENOENT)',
      ),
    );
  });
});
