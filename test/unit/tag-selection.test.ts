import { describe, expect, it } from 'vitest';
import { selectTags } from '../../src/sources/tag-selection.js';

describe('tag selection', () => {
  const tags = ['latest', '1.0.0', '1.1.0', '1.2.0-rc.1', '1.2.0', 'v2.0.0', '2.1', 'main', 'sha-abc'];
  it('combines exact tags, semver ranges, regexes and newest N', () => {
    expect(selectTags(tags, { tags: ['latest'] })).toEqual(['latest']);
    expect(selectTags(tags, { semver: '>=1.1.0 <2' }).sort()).toEqual(['1.1.0', '1.2.0']);
    expect(selectTags(tags, { regex: '^sha-' })).toEqual(['sha-abc']);
    expect(selectTags(tags, { newest: 2 })).toEqual(['2.1', 'v2.0.0']);
    expect(selectTags(tags, { semver: '^1', newest: 1, tags: ['main'] })).toEqual(['main', '1.2.0']);
  });
});
