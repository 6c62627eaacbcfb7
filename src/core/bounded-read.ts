import fs from 'node:fs';

/** Secrets are passwords, tokens and URLs: anything larger is not one (`{ file: /dev/zero }`). */
export const SECRET_FILE_LIMIT = 64 * 1024;
/** Config files, docker config.json, values files, image lists, plugin manifests. */
export const CONFIG_FILE_LIMIT = 16 * 1024 * 1024;

/** Thrown by readFileBounded when the file holds more than the limit; its message reads on after "cannot read X: ". */
export class FileTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${formatLimit(limit)}`);
  }
}

export function formatLimit(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

/**
 * Reads a file the operator named, at most `limit` bytes: a device (`/dev/zero`), a pipe or a
 * huge file fails with FileTooLargeError after `limit + 1` bytes instead of filling memory. It
 * reads to the end rather than trusting a size from stat, which devices and pipes do not have.
 * Other failures are Node's own errors (ENOENT, EACCES, EISDIR).
 */
export function readFileBounded(file: string, limit: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
      if (total > limit) throw new FileTooLargeError(limit);
    }
    return Buffer.concat(chunks, total);
  } finally {
    fs.closeSync(fd);
  }
}

/** The same, as UTF-8 text. */
export function readTextBounded(file: string, limit: number): string {
  return readFileBounded(file, limit).toString('utf8');
}
