import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/defaults.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';

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
