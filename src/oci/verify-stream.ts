import type { Hash } from 'node:crypto';
import { createHash } from '../core/lazy-crypto.js';
import { Transform, type TransformCallback } from 'node:stream';
import { AirlockError } from '../core/errors.js';

export interface VerifyingStream extends Transform {
  /** Bytes that went through so far. */
  readonly bytes: number;
  /** The verification failure, if the stream failed because of one. */
  readonly failure: AirlockError | undefined;
  /**
   * Counts and hashes bytes that are already where the stream's output goes (the start of a
   * partial download being resumed) without passing them on: the check still covers the whole.
   */
  seed(chunk: Buffer): void;
  /**
   * The verdict once every declared byte went through, without waiting for the end of the input:
   * for a consumer that stopped reading when it had them all (a registry that refused a PUT).
   * Undefined while bytes are missing, or when they match.
   */
  verdict(): AirlockError | undefined;
}

/**
 * Passes bytes through while hashing and counting them. The stream fails before it ends when the
 * content is longer or shorter than the descriptor or hashes to another digest, so a consumer that
 * uploads it never completes an upload of bad content.
 */
export function createVerifyingStream(
  expected: { digest: string; size: number },
  artifact: string,
  onBytes?: (n: number) => void,
): VerifyingStream {
  const algorithm = expected.digest.split(':')[0] ?? 'sha256';
  const hash: Hash = createHash(algorithm);
  let bytes = 0;
  let failure: AirlockError | undefined;
  const fail = (message: string): AirlockError => {
    failure = new AirlockError('E_DIGEST_MISMATCH', message, { artifact });
    return failure;
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      if (expected.size >= 0 && bytes > expected.size) {
        cb(fail(`blob ${expected.digest} is longer than the ${expected.size} bytes its descriptor declares`));
        return;
      }
      hash.update(chunk);
      // Counted here, not with a 'data' listener: that would switch the stream to flowing mode
      // and take bytes away from the consumer.
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (expected.size >= 0 && bytes !== expected.size) {
        cb(fail(`blob ${expected.digest} ended after ${bytes} of ${expected.size} bytes`));
        return;
      }
      cb(checkDigest());
    },
  });
  // The hash can be read once: whoever asks first (the end of the stream, or verdict()) keeps the answer.
  let checked: { failure: AirlockError | undefined } | undefined;
  const checkDigest = (): AirlockError | undefined => {
    if (!checked) {
      const actual = `${algorithm}:${hash.digest('hex')}`;
      checked = {
        failure:
          actual === expected.digest
            ? undefined
            : fail(`blob digest mismatch from the source: expected ${expected.digest}, got ${actual}`),
      };
    }
    return checked.failure;
  };
  Object.defineProperty(t, 'bytes', { get: () => bytes });
  Object.defineProperty(t, 'seed', {
    value: (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    },
  });
  Object.defineProperty(t, 'failure', { get: () => failure });
  Object.defineProperty(t, 'verdict', {
    value: () => failure ?? (expected.size >= 0 && bytes === expected.size ? checkDigest() : undefined),
  });
  return t as VerifyingStream;
}
