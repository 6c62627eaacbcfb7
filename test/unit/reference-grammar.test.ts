import { describe, expect, it } from 'vitest';
import { parseRegistryRef, type RegistryImageRef } from '../../src/oci/reference.js';

// The tables below are transcribed as data from distribution/reference, `normalize_test.go` at
// commit 4894124079e525c3c3c5c8aacaa653b5499004e9 (TestValidateReferenceName,
// TestValidateRemoteName, TestParseRepositoryInfo, TestNormalizedSplitHostname,
// TestParseAnyReference, TestParseReferenceWithTagAndDigest), which run them against
// ParseNormalizedNamed; airlock's parseRegistryRef must agree with it.

const hex64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

// TestValidateReferenceName
const validRepoNames = [
  'docker/docker',
  'library/debian',
  'debian',
  'docker.io/docker/docker',
  'docker.io/library/debian',
  'docker.io/debian',
  'index.docker.io/docker/docker',
  'index.docker.io/library/debian',
  'index.docker.io/debian',
  '127.0.0.1:5000/docker/docker',
  '127.0.0.1:5000/library/debian',
  '127.0.0.1:5000/debian',
  '192.168.0.1',
  '192.168.0.1:80',
  '192.168.0.1:8/debian',
  '192.168.0.2:25000/debian',
  'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  '[fc00::1]:5000/docker',
  '[fc00::1]:5000/docker/docker',
  '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
  `docker.io/${hex64}`,
  'Docker/docker',
  'DOCKER/docker',
];
const invalidRepoNames = [
  'https://github.com/docker/docker',
  'docker/Docker',
  '-docker',
  '-docker/docker',
  '-docker.io/docker/docker',
  'docker///docker',
  'docker.io/docker/Docker',
  'docker.io/docker///docker',
  '[fc00::1]',
  '[fc00::1]:5000',
  'fc00::1:5000/debian',
  '[fe80::1%eth0]:5000/debian',
  '[2001:db8:3:4::192.0.2.33]:5000/debian',
  hex64,
];

// TestValidateRemoteName
const validRemoteNames = [
  'docker/docker',
  'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  'docker-rules/docker',
  'docker---rules/docker',
  'doc/docker',
  'd/docker',
  'jess/t',
  'dock__er/docker',
];
const invalidRemoteNames = [
  'docker/Docker',
  'docker///docker',
  hex64,
  '-docker/docker',
  'docker-/docker',
  '-docker-/docker',
  '____/____',
  '_docker/_docker',
  'dock..er/docker',
  'dock_.er/docker',
  'dock-.er/docker',
  'docker/',
  'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
];

// TestParseRepositoryInfo: every one of FamiliarName, FullName and AmbiguousName parses to the same repository.
const repositoryInfo: Array<{
  RemoteName: string;
  FamiliarName: string;
  FullName: string;
  AmbiguousName: string;
  Domain: string;
}> = [
  {
    RemoteName: 'fooo/bar',
    FamiliarName: 'fooo/bar',
    FullName: 'docker.io/fooo/bar',
    AmbiguousName: 'index.docker.io/fooo/bar',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'library/ubuntu',
    FamiliarName: 'ubuntu',
    FullName: 'docker.io/library/ubuntu',
    AmbiguousName: 'library/ubuntu',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'nonlibrary/ubuntu',
    FamiliarName: 'nonlibrary/ubuntu',
    FullName: 'docker.io/nonlibrary/ubuntu',
    AmbiguousName: '',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'other/library',
    FamiliarName: 'other/library',
    FullName: 'docker.io/other/library',
    AmbiguousName: '',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'private/moonbase',
    FamiliarName: '127.0.0.1:8000/private/moonbase',
    FullName: '127.0.0.1:8000/private/moonbase',
    AmbiguousName: '',
    Domain: '127.0.0.1:8000',
  },
  {
    RemoteName: 'privatebase',
    FamiliarName: '127.0.0.1:8000/privatebase',
    FullName: '127.0.0.1:8000/privatebase',
    AmbiguousName: '',
    Domain: '127.0.0.1:8000',
  },
  {
    RemoteName: 'private/moonbase',
    FamiliarName: 'example.com/private/moonbase',
    FullName: 'example.com/private/moonbase',
    AmbiguousName: '',
    Domain: 'example.com',
  },
  {
    RemoteName: 'privatebase',
    FamiliarName: 'example.com/privatebase',
    FullName: 'example.com/privatebase',
    AmbiguousName: '',
    Domain: 'example.com',
  },
  {
    RemoteName: 'private/moonbase',
    FamiliarName: 'example.com:8000/private/moonbase',
    FullName: 'example.com:8000/private/moonbase',
    AmbiguousName: '',
    Domain: 'example.com:8000',
  },
  {
    RemoteName: 'privatebasee',
    FamiliarName: 'example.com:8000/privatebasee',
    FullName: 'example.com:8000/privatebasee',
    AmbiguousName: '',
    Domain: 'example.com:8000',
  },
  {
    RemoteName: 'library/ubuntu-12.04-base',
    FamiliarName: 'ubuntu-12.04-base',
    FullName: 'docker.io/library/ubuntu-12.04-base',
    AmbiguousName: 'index.docker.io/library/ubuntu-12.04-base',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'library/foo',
    FamiliarName: 'foo',
    FullName: 'docker.io/library/foo',
    AmbiguousName: 'docker.io/foo',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'library/foo/bar',
    FamiliarName: 'library/foo/bar',
    FullName: 'docker.io/library/foo/bar',
    AmbiguousName: '',
    Domain: 'docker.io',
  },
  {
    RemoteName: 'store/foo/bar',
    FamiliarName: 'store/foo/bar',
    FullName: 'docker.io/store/foo/bar',
    AmbiguousName: '',
    Domain: 'docker.io',
  },
  { RemoteName: 'bar', FamiliarName: 'Foo/bar', FullName: 'Foo/bar', AmbiguousName: '', Domain: 'Foo' },
  { RemoteName: 'bar', FamiliarName: 'FOO/bar', FullName: 'FOO/bar', AmbiguousName: '', Domain: 'FOO' },
];

// TestNormalizedSplitHostname
const splitHostname = [
  { input: 'test.com/foo', domain: 'test.com', path: 'foo' },
  { input: 'test_com/foo', domain: 'docker.io', path: 'test_com/foo' },
  { input: 'docker/migrator', domain: 'docker.io', path: 'docker/migrator' },
  { input: 'test.com:8080/foo', domain: 'test.com:8080', path: 'foo' },
  { input: 'test-com:8080/foo', domain: 'test-com:8080', path: 'foo' },
  { input: 'foo', domain: 'docker.io', path: 'library/foo' },
  { input: 'xn--n3h.com/foo', domain: 'xn--n3h.com', path: 'foo' },
  { input: 'xn--n3h.com:18080/foo', domain: 'xn--n3h.com:18080', path: 'foo' },
  { input: 'docker.io/foo', domain: 'docker.io', path: 'library/foo' },
  { input: 'docker.io/library/foo', domain: 'docker.io', path: 'library/foo' },
  { input: 'docker.io/library/foo/bar', domain: 'docker.io', path: 'library/foo/bar' },
];

// TestParseAnyReference, the rows that are names (the two digest-only rows are ParseAnyReference's
// identifier reading, which a name parser refuses: see the 64-hex rows above).
const d = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const anyReference = [
  { Reference: 'redis', Equivalent: 'docker.io/library/redis' },
  { Reference: 'redis:latest', Equivalent: 'docker.io/library/redis:latest' },
  { Reference: 'docker.io/library/redis:latest', Equivalent: 'docker.io/library/redis:latest' },
  { Reference: `redis@${d}`, Equivalent: `docker.io/library/redis@${d}` },
  { Reference: `docker.io/library/redis@${d}`, Equivalent: `docker.io/library/redis@${d}` },
  { Reference: 'dmcgowan/myapp', Equivalent: 'docker.io/dmcgowan/myapp' },
  { Reference: 'dmcgowan/myapp:latest', Equivalent: 'docker.io/dmcgowan/myapp:latest' },
  { Reference: 'docker.io/mcgowan/myapp:latest', Equivalent: 'docker.io/mcgowan/myapp:latest' },
  { Reference: `dmcgowan/myapp@${d}`, Equivalent: `docker.io/dmcgowan/myapp@${d}` },
  { Reference: `docker.io/dmcgowan/myapp@${d}`, Equivalent: `docker.io/dmcgowan/myapp@${d}` },
  {
    Reference: 'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
    Equivalent: 'docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
  },
  { Reference: 'dbcc1', Equivalent: 'docker.io/library/dbcc1' },
];

const parse = (s: string) => parseRegistryRef(s, { defaultTag: false });

/** Docker's String() of a named reference: name, `:tag` if any, `@digest` if any. */
function full(ref: RegistryImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Docker's familiarizeName (normalize.go): the Hub's domain and a single-level `library/` dropped. */
function familiar(ref: RegistryImageRef): string {
  if (ref.registry !== 'docker.io') return `${ref.registry}/${ref.repository}`;
  const rest = ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : undefined;
  return rest !== undefined && !rest.includes('/') ? rest : ref.repository;
}

describe("Docker's reference grammar (distribution/reference normalize_test.go)", () => {
  it.each([...validRepoNames, ...validRemoteNames])('accepts %s', (name) => {
    expect(() => parse(name)).not.toThrow();
  });

  it.each([...invalidRepoNames, ...invalidRemoteNames])('refuses %s with one E_REFERENCE line', (name) => {
    let error: unknown;
    try {
      parse(name);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'E_REFERENCE', artifact: name });
    expect((error as Error).message).not.toContain('\n');
  });

  it('says why a bare 64-hex name is refused: it reads as an image id', () => {
    expect(() => parse(hex64)).toThrow(/image id/);
    expect(parse(`docker.io/${hex64}`)).toMatchObject({ registry: 'docker.io', repository: `library/${hex64}` });
  });

  it.each(
    repositoryInfo.flatMap((tc) =>
      [tc.FamiliarName, tc.FullName, tc.AmbiguousName].filter((r) => r !== '').map((r) => [r, tc] as const),
    ),
  )('repository info of %s', (r, tc) => {
    const ref = parse(r);
    expect(ref.registry).toBe(tc.Domain);
    expect(ref.repository).toBe(tc.RemoteName);
    expect(full(ref)).toBe(tc.FullName);
    expect(familiar(ref)).toBe(tc.FamiliarName);
  });

  it.each(splitHostname)('splits $input into $domain and $path', ({ input, domain, path }) => {
    expect(parse(input)).toMatchObject({ registry: domain, repository: path });
  });

  it.each(anyReference)('normalises $Reference to $Equivalent', ({ Reference, Equivalent }) => {
    expect(full(parse(Reference))).toBe(Equivalent);
  });

  it('keeps both tag and digest of a reference that has both (TestParseReferenceWithTagAndDigest)', () => {
    const short = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
    expect(full(parse(short))).toBe(`docker.io/library/${short}`);
  });

  it('refuses what Docker refuses and airlock cannot use: other digest algorithms, ports that cannot be dialled', () => {
    expect(() => parse(`redis@md5:${'a'.repeat(32)}`)).toThrow(/unsupported digest algorithm "md5"/);
    expect(() => parse('registry.local:99999/x')).toThrow(/port above 65535/);
    // LOCALDOMAIN is a host for Docker (uppercase first component), so it is one here.
    expect(parseRegistryRef('LOCALDOMAIN/debian')).toEqual({
      transport: 'docker',
      registry: 'LOCALDOMAIN',
      repository: 'debian',
      tag: 'latest',
    });
  });
});
