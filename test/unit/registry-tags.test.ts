import { describe, expect, it } from 'vitest';
import { nextLink } from '../../src/oci/registry/tags.js';

describe('protocol helpers', () => {
  it('parses Link headers', () => {
    expect(nextLink('</v2/x/tags/list?last=b&n=2>; rel="next"', 'https://r.io/v2/x/tags/list')).toBe(
      'https://r.io/v2/x/tags/list?last=b&n=2',
    );
    expect(nextLink('<https://evil.io/v2/x/tags/list>; rel="next"', 'https://r.io/v2/x/tags/list')).toBeUndefined();
  });
});
