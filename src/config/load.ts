import fs from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { AirlockError } from '../errors.js';
import { configSchema, type AirlockConfig } from './schema.js';
import { unknownScopes } from './scope.js';

export function loadConfig(file: string): AirlockConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new AirlockError('E_CONFIG', `cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new AirlockError('E_CONFIG', `${file}: not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseConfig(doc, file);
}

function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '') || '(root)';
}

/** Validates a parsed document; the first problem is reported with its key path. */
export function parseConfig(doc: unknown, file = 'config'): AirlockConfig {
  const r = configSchema.safeParse(doc ?? {});
  const problems = r.success ? unknownScopes(r.data) : r.error.issues;
  if (problems.length > 0) {
    const issues = problems.slice(0, 3).map((i) => `${keyPath(i.path)}: ${i.message}`);
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new AirlockError('E_CONFIG', `${file}: ${issues.join('; ')}${more}`);
  }
  return r.data as AirlockConfig;
}
