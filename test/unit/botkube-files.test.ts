import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePluginIndex, validatePluginIndex } from '../../src/botkube/plugin-index.js';
import { staticPathFor } from '../../src/files/static-mirror.js';

const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'botkube');

describe('Botkube plugin index validation (the real fixtures)', () => {
  it('accepts the valid index and reports every problem of the invalid one', () => {
    const valid = parsePluginIndex(fs.readFileSync(path.join(FIXTURES, 'plugins-index.yaml'), 'utf8'), 'fixture');
    expect(validatePluginIndex(valid)).toEqual([]);
    const invalid = parsePluginIndex(
      fs.readFileSync(path.join(FIXTURES, 'plugins-index-invalid.yaml'), 'utf8'),
      'fixture',
    );
    const problems = validatePluginIndex(invalid);
    expect(problems).toEqual([
      'entries[0] (executor/kubectl@v1.0.0): at least one url is required',
      'entries[2] (executor/kubectl@v1.5.0): duplicates another entry with the same type, name and version',
      'entries[4] (source/kubernetes@v1.0.0): duplicates another entry with the same type, name and version',
      'entries[5] (source/kubernetes): version is required',
      'entries[6] (?/kubernetes@v1.0.0): type is required',
      'entries[7]: name is required',
      'entries[8] (exec/kubectl@v1.0.0): type "exec" is not executor or source',
      'entries[9] (executor/kubectl@v2.0.0): dependency kubectl has no url',
    ]);
  });

  it('keeps file names and drops query strings in static paths', () => {
    expect(staticPathFor('https://get.helm.sh/helm-v3.10.3-darwin-amd64.tar.gz')).toBe(
      'get.helm.sh/helm-v3.10.3-darwin-amd64.tar.gz',
    );
    const withQuery = staticPathFor('https://x.io/a/b.tar.gz?filename=evil&checksum=1');
    expect(withQuery).toMatch(/^x\.io\/a\/q-[0-9a-f]{10}\/b\.tar\.gz$/);
    expect(staticPathFor('http://127.0.0.1:8080/../../etc/passwd')).toBe('127.0.0.1-8080/etc/passwd');
    // A name that had to be cleaned keeps its extension; the hash that keeps it apart is a directory.
    expect(staticPathFor('https://x.io/rel/executor_x%2B1_linux_amd64.tar.gz')).toMatch(
      /^x\.io\/rel\/h-[0-9a-f]{10}\/executor_x\+1_linux_amd64\.tar\.gz$/,
    );
    expect(staticPathFor('https://x.io/rel/a%20b.tgz')).not.toBe(staticPathFor('https://x.io/rel/a_b.tgz'));
  });
});
