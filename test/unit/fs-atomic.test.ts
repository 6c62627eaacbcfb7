import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeStreamAtomic } from '../../src/core/fs-atomic.js';
import { createVerifyingStream } from '../../src/oci/verify-stream.js';

describe('atomic stream writes', () => {
  it('renames a verified stream into place and leaves nothing behind when a transform fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
    try {
      const body = Buffer.from('layer bytes');
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const good = path.join(dir, 'good');
      await writeStreamAtomic(
        good,
        Readable.from([body]),
        createVerifyingStream({ digest, size: body.length }, 'test'),
      );
      expect(fs.readFileSync(good)).toEqual(body);

      const bad = path.join(dir, 'bad');
      const wrong = createVerifyingStream({ digest: `sha256:${'0'.repeat(64)}`, size: body.length }, 'test');
      await expect(writeStreamAtomic(bad, Readable.from([body]), wrong)).rejects.toMatchObject({
        code: 'E_DIGEST_MISMATCH',
      });
      expect(fs.readdirSync(dir)).toEqual(['good']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
