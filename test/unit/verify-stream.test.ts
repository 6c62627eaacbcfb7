import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createVerifyingStream } from '../../src/oci/verify-stream.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes `chunks` into the stream and lets them through, without ending it. */
async function feed(stream: ReturnType<typeof createVerifyingStream>, chunks: Buffer[]): Promise<void> {
  stream.resume();
  for (const c of chunks)
    await new Promise<void>((resolve, reject) => stream.write(c, (e) => (e ? reject(e) : resolve())));
}

describe('verifying stream: the verdict before the end', () => {
  it('names a digest mismatch once every declared byte went through, before the input ends', async () => {
    const body = randomBytes(4096);
    const wrong = createVerifyingStream({ digest: sha(randomBytes(4096)), size: body.length }, 'repo@blob');
    await feed(wrong, [body.subarray(0, 1000)]);
    expect(wrong.verdict()).toBeUndefined();
    await feed(wrong, [body.subarray(1000)]);
    expect(wrong.verdict()).toMatchObject({
      code: 'E_DIGEST_MISMATCH',
      message: expect.stringMatching(/expected sha256:/),
    });
    expect(wrong.failure?.code).toBe('E_DIGEST_MISMATCH');
  });

  it('finds matching bytes good, and the stream still ends cleanly after it was asked', async () => {
    const body = randomBytes(4096);
    const right = createVerifyingStream({ digest: sha(body), size: body.length }, 'repo@blob');
    const out: Buffer[] = [];
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        if (Buffer.concat(out).length === body.length) expect(right.verdict()).toBeUndefined();
        cb();
      },
    });
    await pipeline(Readable.from([body.subarray(0, 2048), body.subarray(2048)]), right, sink);
    expect(Buffer.concat(out).equals(body)).toBe(true);
    expect(right.failure).toBeUndefined();
  });
});
