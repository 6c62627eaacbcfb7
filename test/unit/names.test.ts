import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/core/errors.js';
import { checkName, isValidName, nameProblem, printable } from '../../src/core/names.js';

describe('name grammars', () => {
  const hex64 = 'a'.repeat(64);
  it.each([
    ['digest', `sha256:${hex64}`, true],
    ['digest', `sha512:${'0'.repeat(128)}`, true],
    ['digest', 'sha256:../../../../tmp/x', false],
    ['digest', `sha256:${hex64.toUpperCase()}`, false],
    ['digest', `md5:${'a'.repeat(32)}`, false],
    ['digest', `sha999:${hex64}`, false],
    ['repository', 'charts/nginx', true],
    ['repository', 'a/b__c/d-e.f', true],
    ['repository', '../charts', false],
    ['repository', 'charts//x', false],
    ['repository', 'Charts/x', false],
    ['tag', '1.0.0_build', true],
    ['tag', '.hidden', false],
    ['tag', 'a/b', false],
    ['path-segment', 'botkube', true],
    ['path-segment', '..', false],
    ['path-segment', 'a\\b', false],
    ['path-segment', 'a\u0000b', false],
    ['chart-name', 'ingress-nginx', true],
    ['chart-name', '../../../../../../tmp/escape', false],
    ['chart-name', '..', false],
    ['version', '1.2.3-rc.1+build.5', true],
    ['version', 'v0.36.0', true],
    ['version', '1.0.0/../../x', false],
    ['registry-host', 'LOCALDOMAIN', true],
    ['registry-host', '[fc00::1]:5000', true],
    ['registry-host', '127.0.0.1:5000', true],
    ['registry-host', '-docker.io', false],
    ['registry-host', 'a_b.com', false],
    ['registry-host', '[fe80::1%eth0]:5000', false],
    ['registry-host', 'host:65536', false],
  ] as const)('%s %j valid: %s', (kind, value, valid) => {
    expect(isValidName(kind, value)).toBe(valid);
  });

  it('refuses values that are not strings, naming their type', () => {
    expect(nameProblem('digest', 123)).toBe('is number, not a string');
    expect(nameProblem('tag', null)).toBe('is null, not a string');
  });

  it('throws one line naming the field, the value and the cause, with the artifact', () => {
    let error: unknown;
    try {
      checkName('digest', 'md5:abc', { field: 'layer digest', artifact: 'docker://h/r:1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AirlockError);
    const e = error as AirlockError;
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.artifact).toBe('docker://h/r:1');
    expect(e.message).toBe('layer digest "md5:abc" uses an unsupported digest algorithm "md5" (sha256, sha512)');
    expect(checkName('tag', 'v1', { field: 'tag' })).toBe('v1');
  });

  it('escapes control characters and cuts long values for printing', () => {
    expect(printable('a\u001b[31mb\nc')).toBe('a\\x1b[31mb\\x0ac');
    expect(printable('x'.repeat(10), 4)).toBe('xxxx…');
  });
});
