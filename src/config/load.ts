import fs from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { AirlockError } from '../errors.js';
import type { AirlockConfig } from './schema.js';
import { parseConfig } from './parse.js';

export { parseConfig };

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
