import { parse as parseYaml, YAMLParseError } from 'yaml';
import { AirlockError } from '../core/errors.js';
import { CONFIG_FILE_LIMIT, FileTooLargeError, readTextBounded } from '../core/bounded-read.js';
import { checkSchedules } from './schedule-check.js';
import { configSchema, type AirlockConfig } from './schema.js';
import { unknownScopes } from './scope.js';

export interface LoadOptions {
  /**
   * Also check every schedule's cron pattern and time zone with the scheduler's own parser
   * (`config check`, `scheduler`). Off elsewhere: loading that parser costs more than a one-shot
   * command's whole start-up, and no other command reads schedules.
   */
  checkSchedules?: boolean;
}

export function loadConfig(file: string, options: LoadOptions = {}): AirlockConfig {
  let text: string;
  try {
    text = readTextBounded(file, CONFIG_FILE_LIMIT);
  } catch (e) {
    if (e instanceof FileTooLargeError)
      throw new AirlockError('E_CONFIG', `cannot read config ${file}: ${e.message}, too large for a config file`);
    throw new AirlockError(
      'E_CONFIG',
      `cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new AirlockError('E_CONFIG', `${file}: not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  const config = parseConfig(doc, file);
  if (options.checkSchedules && config.schedules.length > 0) checkSchedules(config.schedules, file);
  return config;
}

/** `images[0].source` from `['images', 0, 'source']`. */
export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.reduce<string>(
      (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
      '',
    ) || '(root)'
  );
}

/** Validates a parsed document; the first problem is reported with its key path. */
export function parseConfig(doc: unknown, file = 'config'): AirlockConfig {
  const r = configSchema.safeParse(doc ?? {});
  const problems = r.success ? unknownScopes(r.data) : r.error.issues;
  if (problems.length > 0)
    throw configError(
      file,
      problems.map((i) => `${keyPath(i.path)}: ${i.message}`),
    );
  return r.data as AirlockConfig;
}

/** One E_CONFIG for a config's problems, each beginning with its key path: the first three, and how many more. */
export function configError(file: string, problems: string[]): AirlockError {
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
  return new AirlockError('E_CONFIG', `${file}: ${problems.slice(0, 3).join('; ')}${more}`);
}
