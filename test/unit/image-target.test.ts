import { describe, expect, it } from 'vitest';
import { parseRegistryRef } from '../../src/oci/reference.js';
import { targetRepository } from '../../src/targets/image-target.js';

describe('target paths', () => {
  it('keeps the source host as a path component by default, and follows a custom rule', () => {
    const src = parseRegistryRef('127.0.0.1:5000/team/app', { defaultTag: false });
    expect(targetRepository(src, { registry: 'mirror.local', path: '{host}/{repository}' })).toBe(
      'docker://mirror.local/127.0.0.1-5000/team/app',
    );
    expect(
      targetRepository(parseRegistryRef('redis', { defaultTag: false }), {
        registry: 'mirror.local/base/',
        path: 'hub/{name}',
      }),
    ).toBe('docker://mirror.local/base/hub/redis');
    expect(targetRepository(src, { registry: 'oci:/srv/store', path: '{host}/{repository}' })).toBe(
      'oci:/srv/store/127.0.0.1-5000/team/app',
    );
    expect(() => targetRepository(src, { registry: 'm', path: '{owner}/x' })).toThrow(/unknown placeholder/);
  });
});
