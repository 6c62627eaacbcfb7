import { describe, expect, it } from 'vitest';
import { parseMirrorImagePayload } from '../../src/model/image-payload.js';

describe('mirror-image payloads', () => {
  it('accepts what the planners and webhooks enqueue', () => {
    const p = {
      source: 'docker://docker.io/library/redis:7',
      target: 'docker://127.0.0.1:5000/redis',
      platforms: ['linux/amd64'],
      referrers: true,
      immutable: false,
    };
    expect(parseMirrorImagePayload(p)).toEqual(p);
  });

  it('names what is wrong with anything else', () => {
    const bad = (payload: unknown) => () => parseMirrorImagePayload(payload);
    expect(bad(null)).toThrow(/mirror-image payload invalid: not an object/);
    expect(bad(['docker://a/b:1'])).toThrow(/not an object/);
    expect(bad({ target: 'docker://x/y' })).toThrow(/source must be a non-empty string/);
    expect(bad({ source: 'docker://a/b:1', target: '' })).toThrow(/target must be a non-empty string/);
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', platforms: 'linux/amd64' })).toThrow(
      /platforms must be a list of strings/,
    );
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', dryRun: 'yes' })).toThrow(
      /dryRun must be true or false/,
    );
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', tag: 'v1' })).toThrow(/unknown key "tag"/);
  });
});
