import { AirlockError } from '../errors.js';
import { configSchema, type AirlockConfig } from './schema.js';

// Apart from load.ts so that callers without a config file do not load the YAML parser.

function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '') || '(root)';
}

/** Validates a parsed document; the first problem is reported with its key path. */
export function parseConfig(doc: unknown, file = 'config'): AirlockConfig {
  const r = configSchema.safeParse(doc ?? {});
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${keyPath(i.path)}: ${i.message}`);
    const more = r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : '';
    throw new AirlockError('E_CONFIG', `${file}: ${issues.join('; ')}${more}`);
  }
  return r.data;
}
