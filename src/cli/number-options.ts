import { AirlockError } from '../core/errors.js';

/**
 * Parsers for numeric options, run by commander as it reads the option: a value that is not the
 * number asked for stops the command with one `[E_USAGE]` line naming the option, before anything
 * runs. `Number.parseInt` alone would read `abc` as NaN and `3x` as 3, and NaN or 0 then silently
 * meant "the default" (or "nothing") further on.
 */
export function wholeNumber(flag: string, min: 0 | 1 = 1): (value: string) => number {
  return (value) => {
    const n = /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!(n >= min))
      throw new AirlockError(
        'E_USAGE',
        `${flag} must be a ${min === 1 ? 'positive' : 'non-negative'} whole number, got "${value}"`,
      );
    return n;
  };
}

/** A number of seconds, 0 or more, fractions allowed (`--unclaimed-after 0.5`). */
export function seconds(flag: string): (value: string) => number {
  return (value) => {
    const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isFinite(n)) throw new AirlockError('E_USAGE', `${flag} must be a number of seconds, got "${value}"`);
    return n;
  };
}
