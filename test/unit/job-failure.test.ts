import { afterEach, describe, expect, it } from 'vitest';
import { AirlockError, EXIT_CODES, type ErrorCode } from '../../src/core/errors.js';
import { clearSecrets, registerSecret } from '../../src/core/secrets.js';
import {
  decodeJobFailure,
  encodeChildFailure,
  encodeJobFailure,
  failedChildKey,
  isBullmqChildFailure,
  jobFailureError,
} from '../../src/queue/failure-text.js';

// The failure text is all BullMQ keeps of an error: what the worker writes must read back as the
// same code, whatever the artifact and message hold, and must never carry a secret.

afterEach(() => clearSecrets());

describe('job failure text', () => {
  const roundTrips: Array<{ name: string; error: AirlockError; text: string; message: string }> = [
    {
      name: 'a code, an artifact and a message',
      error: new AirlockError('E_NOT_FOUND', 'manifest unknown', { artifact: 'docker://ghcr.io/org/app:1.0' }),
      text: '[E_NOT_FOUND] docker://ghcr.io/org/app:1.0: manifest unknown',
      message: 'docker://ghcr.io/org/app:1.0: manifest unknown',
    },
    {
      name: 'no artifact',
      error: new AirlockError('E_CONFIG', 'run 7 was queued for config abc'),
      text: '[E_CONFIG] run 7 was queued for config abc',
      message: 'run 7 was queued for config abc',
    },
    {
      name: 'brackets and colons in the message',
      error: new AirlockError('E_REGISTRY', '[E_DENIED] upstream said: {"errors":[{"code":"DENIED"}]}', {
        artifact: 'https://charts.example.com chart@1.0.0',
      }),
      text: '[E_REGISTRY] https://charts.example.com chart@1.0.0: [E_DENIED] upstream said: {"errors":[{"code":"DENIED"}]}',
      message: 'https://charts.example.com chart@1.0.0: [E_DENIED] upstream said: {"errors":[{"code":"DENIED"}]}',
    },
    {
      name: 'line breaks in the message and the artifact',
      error: new AirlockError('E_UPLOAD', 'first line\n  second line\r\nthird', { artifact: 'docker://a/b:1\nx' }),
      text: '[E_UPLOAD] docker://a/b:1 x: first line second line third',
      message: 'docker://a/b:1 x: first line second line third',
    },
  ];

  for (const c of roundTrips) {
    it(`round trip: ${c.name}`, () => {
      const text = encodeJobFailure(c.error);
      expect(text).toBe(c.text);
      expect(text).not.toMatch(/[\r\n]/);
      expect(decodeJobFailure(text)).toEqual({ code: c.error.code, message: c.message });
      const back = jobFailureError(text);
      expect(back).toBeInstanceOf(AirlockError);
      expect([back.code, back.message, back.permanent]).toEqual([c.error.code, c.message, c.error.permanent]);
    });
  }

  it('reads every code this version knows back as itself', () => {
    for (const code of Object.keys(EXIT_CODES) as ErrorCode[]) {
      expect(decodeJobFailure(encodeJobFailure(new AirlockError(code, 'why', { artifact: 'a' }))).code).toBe(code);
    }
  });

  it('reads a code it does not know, or none, as E_REGISTRY with the whole text kept', () => {
    expect(decodeJobFailure('[E_FROM_A_NEWER_WORKER] a: b')).toEqual({
      code: 'E_REGISTRY',
      message: '[E_FROM_A_NEWER_WORKER] a: b',
    });
    expect(decodeJobFailure('unknown job name "x"')).toEqual({ code: 'E_REGISTRY', message: 'unknown job name "x"' });
    expect(decodeJobFailure('[e_lower] a')).toEqual({ code: 'E_REGISTRY', message: '[e_lower] a' });
    expect(decodeJobFailure('[E_CONFIG]no space')).toEqual({ code: 'E_REGISTRY', message: '[E_CONFIG]no space' });
    expect(decodeJobFailure('')).toEqual({ code: 'E_REGISTRY', message: '' });
    expect(decodeJobFailure(' [E_CONFIG] leading space')).toEqual({
      code: 'E_REGISTRY',
      message: ' [E_CONFIG] leading space',
    });
  });

  it('keeps secrets out of the text', () => {
    registerSecret('s3cr3t-token-value');
    const text = encodeJobFailure(
      new AirlockError(
        'E_UNAUTHORIZED',
        'token s3cr3t-token-value refused; password=hunter22 sent to https://user:pw123@example.com/x',
        { artifact: 'docker://example.com/a:1' },
      ),
    );
    expect(text).not.toContain('s3cr3t-token-value');
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('pw123');
    expect(decodeJobFailure(text).code).toBe('E_UNAUTHORIZED');
  });
});

describe('a parent failed by its child', () => {
  it('names the child, with the reason the step adds', () => {
    const text = encodeChildFailure('{airlock}:airlock:run-1-abc', '[E_NOT_FOUND] docker://a/b:1: manifest unknown');
    expect(text).toBe('child {airlock}:airlock:run-1-abc failed: [E_NOT_FOUND] docker://a/b:1: manifest unknown');
    expect(failedChildKey(text)).toBe('{airlock}:airlock:run-1-abc');
    expect(isBullmqChildFailure(text)).toBe(false);
  });

  it("tells BullMQ's own text (no reason) from the step's", () => {
    expect(isBullmqChildFailure('child {airlock}:airlock:run-1-abc failed')).toBe(true);
    expect(failedChildKey('child {airlock}:airlock:run-1-abc failed')).toBe('{airlock}:airlock:run-1-abc');
    expect(failedChildKey('[E_CONFIG] child x failed')).toBeUndefined();
    expect(failedChildKey('child x failedly')).toBeUndefined();
    expect(isBullmqChildFailure('a child x failed')).toBe(false);
  });
});
