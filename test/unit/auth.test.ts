import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../src/oci/auth.js';

describe('protocol helpers', () => {
  it('parses challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', realm: 'x' });
  });
});
