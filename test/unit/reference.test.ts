import { describe, expect, it } from 'vitest';
import { formatRef, isLoopbackRegistry, parseImageRef, parseRegistryRef } from '../../src/oci/reference.js';

describe('image references', () => {
  it.each([
    ['redis', 'docker.io', 'library/redis', 'latest'],
    ['redis:7.2', 'docker.io', 'library/redis', '7.2'],
    ['bitnami/redis', 'docker.io', 'bitnami/redis', 'latest'],
    ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1'],
    ['docker://ghcr.io/fluxcd/helm-controller:v0.36.0', 'ghcr.io', 'fluxcd/helm-controller', 'v0.36.0'],
    ['localhost:5000/app', 'localhost:5000', 'app', 'latest'],
    ['localhost/app:1', 'localhost', 'app', '1'],
    ['127.0.0.1:5000/a/b/c:x', '127.0.0.1:5000', 'a/b/c', 'x'],
  ])('normalises %s like Docker', (input, registry, repository, tag) => {
    expect(parseRegistryRef(input)).toEqual({ transport: 'docker', registry, repository, tag });
  });

  it('keeps digests and drops the default tag when a digest is given', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseRegistryRef(`quay.io/x/y@${d}`)).toEqual({
      transport: 'docker',
      registry: 'quay.io',
      repository: 'x/y',
      digest: d,
    });
    expect(formatRef(parseRegistryRef(`quay.io/x/y:1@${d}`))).toBe(`docker://quay.io/x/y@${d}`);
  });

  it.each([
    ['docker://foo/Bar', /lowercase/],
    ['1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', /image id/],
    ['docker://ghcr.io/', /missing repository/],
    ['docker://ghcr.io/x:bad tag', /whitespace/],
    ['ghcr.io/x@sha256:abc', /digest/],
    ['ghcr.io/x:' + 'a'.repeat(200), /not a valid tag/],
  ])('rejects %s with E_REFERENCE', (input, why) => {
    expect(() => parseImageRef(input)).toThrow(why);
    try {
      parseImageRef(input);
    } catch (e) {
      expect(e).toMatchObject({ code: 'E_REFERENCE', artifact: input });
    }
  });

  it('rejects unknown transports and parses oci: layouts', () => {
    expect(() => parseImageRef('docker-archive:/tmp/x.tar')).toThrow(/unknown transport/);
    expect(() => parseImageRef('https://ghcr.io/x')).toThrow(/unknown transport/);
    expect(parseImageRef('oci:/tmp/store:1.0')).toEqual({ transport: 'oci', dir: '/tmp/store', tag: '1.0' });
    expect(parseImageRef('oci:/tmp/store')).toEqual({ transport: 'oci', dir: '/tmp/store' });
  });

  it('treats loopback registries as plain HTTP candidates', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.local:5000')).toBe(false);
  });
});
