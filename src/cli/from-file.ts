import { AirlockError } from '../core/errors.js';
import { CONFIG_FILE_LIMIT, readTextBounded } from '../core/bounded-read.js';

export interface CopyPair {
  line: number;
  source: string;
  target: string;
}

/** `SRC DST` per line; blank lines and `#` comments are skipped. A bad line is reported, not fatal. */
export function readCopyList(file: string): { pairs: CopyPair[]; errors: AirlockError[] } {
  let text: string;
  try {
    text = readTextBounded(file, CONFIG_FILE_LIMIT);
  } catch (e) {
    throw new AirlockError(
      'E_USAGE',
      `cannot read copy list ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const pairs: CopyPair[] = [];
  const errors: AirlockError[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      errors.push(
        new AirlockError('E_USAGE', `expected "SRC DST", got ${parts.length} field(s)`, {
          artifact: `${file}:${i + 1}`,
        }),
      );
      return;
    }
    pairs.push({ line: i + 1, source: parts[0] ?? '', target: parts[1] ?? '' });
  });
  return { pairs, errors };
}
