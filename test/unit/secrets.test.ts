import { describe, expect, it } from 'vitest';
import { clearSecrets, redact, registerSecret } from '../../src/core/secrets.js';

describe('protocol helpers', () => {
  it('redacts registered secrets, basic credentials and token-looking fields', () => {
    clearSecrets();
    registerSecret('hunter2-long');
    expect(redact('password is hunter2-long')).toBe('password is ***');
    expect(redact('Authorization: Bearer eyJabc.def')).toBe('Authorization: Bearer ***');
    expect(redact('https://user:pw@host/x')).toBe('https://user:***@host/x');
    expect(redact('{"token":"abc123"}')).toBe('{"token":"***"}');
  });
});
