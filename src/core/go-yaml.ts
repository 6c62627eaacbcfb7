import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Node, type Scalar, type YAMLMap } from 'yaml';
import { scanGoYaml } from './go-yaml-scan.js';

/**
 * YAML read as KubeVela and Helm read it: sigs.k8s.io/yaml v1.4.0 (`yaml.Unmarshal`,
 * `YAMLToJSON`, `UnmarshalStrict`), which decodes with go-yaml v2 into `interface{}` and then
 * goes through JSON. What follows from that, and what this module reproduces on top of the
 * `yaml` package's syntax tree:
 *
 * - one document: the first; later ones are never scanned, even when broken;
 * - a repeated key: the last one written wins (goyaml.v2/decode.go `mapping` sets map entries in
 *   order); `UnmarshalStrict` refuses it ("key already set in map");
 * - merge keys `<<` (plain, or tagged `!!merge`) are applied where they stand: a merged key
 *   replaces an earlier explicit one, a later explicit key replaces the merged one; in a list of
 *   maps the first map wins; a quoted `"<<"` is an ordinary key;
 * - tabs: go-yaml v2's scanner rules (go-yaml-scan.ts);
 * - YAML 1.1 plain scalars (goyaml.v2/resolve.go): `y`, `yes`, `on`… are booleans, `0777`
 *   octal, `1_000` an int; map keys become strings (sigs.k8s.io/yaml yaml.go
 *   `convertToJSONableObject`: ints in decimal, floats with `%g` at 32 bits, booleans `true`/`false`);
 * - a text whose first non-space character is `{` goes to the JSON decoder unchanged (k8s.io/
 *   apimachinery util/yaml `ToJSON`, when `jsonPrefix` is set): JSON rules, last duplicate wins.
 *
 * Nothing here is fatal for a repeated key: each one is a note naming the key, its lines and the
 * line whose value is used, for the caller to warn about once.
 */

export interface GoYamlEntry {
  key: string;
  keyNode: Node;
  /** The value as written (an alias already followed); null for an empty value. */
  value: Node | null;
  /** Reached through an alias or a merge: the same node may be decoded many times. */
  viaAlias?: boolean;
}

export interface GoYamlDocument {
  /** The first document's root (an alias followed), or null for an empty document. */
  root: Node | null;
  /** Why KubeVela cannot read the text, one line ("line 3: found character that cannot start any token"). */
  error?: string;
  /** Repeated keys and merge keys that replace written ones: where KubeVela's reading differs from a strict one. */
  notes: string[];
  /** The entries of a map as go-yaml v2 leaves them: merges applied, the last of repeated keys. */
  entries(map: YAMLMap): GoYamlEntry[];
  /** A node with an alias followed (null for an empty value or a broken alias). */
  toNode(node: unknown): Node | null;
  /** One entry's value by key. */
  get(map: YAMLMap, key: string): Node | null | undefined;
  /**
   * The value as Go sees it after the JSON round trip: maps with string keys, YAML 1.1 scalars;
   * with `floats: 'typed'`, floats stay GoFloat (a string field takes their `%g` text). Throws
   * GoYamlError where go-yaml stops decoding (an alias bomb).
   */
  toValue(node?: Node | null, options?: { floats?: 'typed' }): unknown;
}

export interface GoYamlOptions {
  /** `UnmarshalStrict`: a repeated key (written or merged) is an error. */
  strict?: boolean;
  /** Texts starting with `{` are JSON (the apimachinery decoders KubeVela renders objects with). */
  jsonPrefix?: boolean;
  /** Alias expansions allowed before the text counts as an alias bomb. */
  maxAliasExpansions?: number;
}

export class GoYamlError extends Error {}

const MERGE_TAGS = new Set(['tag:yaml.org,2002:merge', '!!merge']);
const STR_TAGS = new Set(['tag:yaml.org,2002:str', '!!str']);
const BOOL: Record<string, boolean> = {};
for (const w of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) BOOL[w] = true;
for (const w of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) BOOL[w] = false;
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const TIMESTAMP_START = /^[0-9]{4}-/;

/** Go's strconv integer syntax with base 0: 0x, 0o, 0b, a leading 0 for octal, `_` between digits. */
function goInt(text: string): number | bigint | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.exec(text);
  if (!m) return undefined;
  let digits = m[2]!;
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const v = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  if (v > 18446744073709551615n || v < -9223372036854775808n) return undefined;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A Go float64: kept apart from integers because sigs.k8s.io/yaml writes the two differently as text. */
export class GoFloat {
  constructor(readonly value: number) {}
}

/** A plain scalar resolved as goyaml.v2 resolve.go does for an `interface{}` target (floats as GoFloat). */
export function resolvePlain(text: string): unknown {
  if (NULLS.has(text)) return null;
  if (text in BOOL) return BOOL[text];
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return new GoFloat(text.startsWith('-') ? -Infinity : Infinity);
  if (/^\.(nan|NaN|NAN)$/.test(text)) return new GoFloat(NaN);
  const first = text.charAt(0);
  if (first === '.') return FLOAT.test(text) ? new GoFloat(Number(text)) : text;
  if (!/[-+0-9]/.test(first)) return text;
  // Timestamps stay text for an interface{} target (decode.go keeps the string form).
  if (TIMESTAMP_START.test(text)) return text;
  const plain = text.replace(/_/g, '');
  const int = goInt(plain);
  if (int !== undefined) return int;
  if (FLOAT.test(plain)) return new GoFloat(Number(plain));
  return text;
}

/** Go's strconv.FormatFloat(f, 'g', -1, 32): how sigs.k8s.io/yaml writes a float key, or a float given for a string field. */
export function formatGoFloat32(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  const x = Math.fround(f);
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  // The shortest decimal that reads back as the same float32.
  let p = 1;
  while (p < 9 && Math.fround(Number(x.toPrecision(p))) !== x) p++;
  const [mant, expText] = x.toExponential(p - 1).split('e') as [string, string];
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
  const exp = Number(expText);
  const sign = neg ? '-' : '';
  // %g with the shortest precision switches to an exponent below 1e-4 and from 1e6 on.
  if (exp < -4 || exp >= 6)
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const dp = exp + 1;
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= digits.length) return `${sign}${digits}${'0'.repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

function scalarValue(s: Scalar, src: string): unknown {
  const tag = s.tag;
  if (s.type === 'QUOTE_DOUBLE' || s.type === 'QUOTE_SINGLE' || s.type === 'BLOCK_LITERAL' || s.type === 'BLOCK_FOLDED')
    return String(s.value ?? '');
  if (tag && STR_TAGS.has(tag)) return String(s.value ?? '');
  const [start, end] = s.range ?? [0, 0];
  const text = src.slice(start, end).trim();
  // An application tag (`!foo`) is not resolvable: go-yaml keeps the text.
  if (tag && !tag.startsWith('tag:yaml.org,2002:') && !tag.startsWith('!!')) return text;
  return resolvePlain(text);
}

function keyString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (v instanceof GoFloat) {
    const s = formatGoFloat32(v.value);
    return s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s;
  }
  throw new GoYamlError(`unsupported map key ${v === null ? 'null' : typeof v}`);
}

/** Line numbers by offset, computed once per text and only when a message needs one. */
function lineFinder(src: string): (offset: number) => number {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = src.indexOf('\n'); i !== -1; i = src.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

const isMergeKey = (k: unknown, src: string): boolean =>
  isScalar(k) &&
  ((k.type === 'PLAIN' && src.slice(k.range?.[0] ?? 0, k.range?.[1] ?? 0) === '<<') ||
    (!!k.tag && MERGE_TAGS.has(k.tag)));

/** Reads the text as sigs.k8s.io/yaml (over go-yaml v2) does; never throws. */
export function readGoYaml(src: string, options: GoYamlOptions = {}): GoYamlDocument {
  const notes: string[] = [];
  const maxAliases = options.maxAliasExpansions ?? 10_000;
  const json = options.jsonPrefix === true && /^\s*\{/.test(src);
  let text = src;
  let error: string | undefined;
  if (json) {
    try {
      JSON.parse(src);
    } catch (e) {
      error = `not JSON: ${(e as Error).message.split('\n')[0]}`;
    }
  } else {
    const scan = scanGoYaml(src);
    if (scan.tabError) error = `line ${scan.tabError.line}: ${scan.tabError.message}`;
    text = src.slice(0, scan.firstDocumentEnd);
  }
  // Parsed for its syntax and positions only: values, keys and merges are resolved below.
  const docs = parseAllDocuments(text, { uniqueKeys: false, merge: false, keepSourceTokens: false });
  const doc = (Array.isArray(docs) ? docs : [docs])[0];
  if (!error && doc && doc.errors.length > 0) {
    const e = doc.errors[0]!;
    error = `${e.linePos ? `line ${e.linePos[0].line}: ` : ''}${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
  }
  const deref = (node: unknown, seen: Set<unknown> = new Set()): Node | null => {
    if (node === undefined || node === null) return null;
    if (!isAlias(node)) return node as Node;
    if (seen.has(node)) throw new GoYamlError(`anchor '${node.source}' value contains itself`);
    seen.add(node);
    const target = doc ? node.resolve(doc) : undefined;
    if (!target) throw new GoYamlError(`unknown anchor '${node.source}' referenced`);
    return deref(target, seen);
  };

  const cache = new Map<YAMLMap, Map<string, GoYamlEntry>>();
  const noted = new Set<string>();
  const note = (message: string) => {
    if (!noted.has(message)) notes.push(message);
    noted.add(message);
  };
  let expansions = 0;

  const lineAt = lineFinder(src);
  const keyOf = (k: unknown): string => {
    const keyNode = deref(k);
    const offset = (keyNode as Scalar | null)?.range?.[0] ?? 0;
    if (keyNode !== null && !isScalar(keyNode))
      throw new GoYamlError(`line ${lineAt(offset)}: invalid map key (a map or list)`);
    const v = keyNode === null ? null : json ? keyNode.value : scalarValue(keyNode, src);
    try {
      return keyString(v);
    } catch (e) {
      throw new GoYamlError(`line ${lineAt(offset)}: ${(e as Error).message}`);
    }
  };

  const effective = (map: YAMLMap, path: string, stack: Set<YAMLMap> = new Set()): Map<string, GoYamlEntry> => {
    const hit = cache.get(map);
    if (hit) return hit;
    if (stack.has(map)) throw new GoYamlError('anchor value contains itself');
    stack.add(map);
    const out = new Map<string, GoYamlEntry & { offset: number; merged: boolean }>();
    const set = (entry: GoYamlEntry, offset: number, merged: boolean) => {
      const before = out.get(entry.key);
      if (before) {
        if (options.strict) throw new GoYamlError(`line ${lineAt(offset)}: key "${entry.key}" already set in map`);
        const where = path ? `${path}.${entry.key}` : entry.key;
        const [was, now] = [lineAt(before.offset), lineAt(offset)];
        if (!before.merged && !merged)
          note(`key "${where}" is written twice (lines ${was} and ${now}); the last one, line ${now}, is used`);
        else if (!before.merged)
          note(
            `key "${where}" (line ${was}) is replaced by the value merged with << on line ${now} (go-yaml v2 applies << where it stands)`,
          );
      }
      out.delete(entry.key);
      out.set(entry.key, { ...entry, offset, merged });
    };
    // goyaml.v2 decode.go `merge`: a map, an alias of a map, or a written list of those, the first winning.
    const merge = (value: unknown, offset: number) => {
      const apply = (n: unknown) => {
        const target = deref(n);
        if (!isMap(target))
          throw new GoYamlError(`line ${lineAt(offset)}: map merge requires map or sequence of maps as the value`);
        if (++expansions > maxAliases) throw new GoYamlError('document contains excessive aliasing');
        for (const e of effective(target, path, stack).values()) set({ ...e, viaAlias: true }, offset, true);
      };
      if (isSeq(value)) for (const item of [...value.items].reverse()) apply(item);
      else apply(value);
    };
    for (const pair of map.items) {
      const k = pair.key as Node | null;
      const offset = (k as Scalar | null)?.range?.[0] ?? map.range?.[0] ?? 0;
      if (isMergeKey(k, src)) merge(pair.value, offset);
      else
        set(
          {
            key: keyOf(k),
            keyNode: k as Node,
            value: deref(pair.value),
            ...(isAlias(pair.value) ? { viaAlias: true } : {}),
          },
          offset,
          false,
        );
    }
    stack.delete(map);
    const result = new Map(
      [...out].map(([k, e]) => [
        k,
        { key: e.key, keyNode: e.keyNode, value: e.value, ...(e.viaAlias ? { viaAlias: true } : {}) },
      ]),
    );
    cache.set(map, result);
    return result;
  };

  // Walks the document once so every repeated key is noted (and strict errors found) up front.
  let root: Node | null = null;
  if (doc && !error) {
    try {
      root = deref(doc.contents);
      const visit = (node: unknown, path: string, depth: number) => {
        if (depth > 200) throw new GoYamlError('document nested too deeply');
        if (isAlias(node)) return; // its target is visited where it is written
        if (isMap(node)) {
          effective(node, path);
          for (const pair of node.items) {
            if (isMergeKey(pair.key, src)) continue;
            const name = keyOf(pair.key);
            visit(pair.value, path ? `${path}.${name}` : name, depth + 1);
          }
          // Merged maps written inline (`<<: {a: 1}`) hold keys too.
          for (const pair of node.items)
            if (isMergeKey(pair.key, src) && !isAlias(pair.value)) visit(pair.value, path, depth + 1);
        } else if (isSeq(node)) node.items.forEach((item, i) => visit(item, `${path}[${i}]`, depth + 1));
      };
      visit(doc.contents, '', 0);
    } catch (e) {
      if (!(e instanceof GoYamlError)) throw e;
      error = e.message;
      root = null;
    }
  }
  if (error) root = null;

  const entries = (map: YAMLMap): GoYamlEntry[] => {
    try {
      return [...effective(map, '').values()];
    } catch (e) {
      if (e instanceof GoYamlError) return [];
      throw e;
    }
  };
  // Nodes decoded through aliases, bounded as go-yaml bounds alias expansion (an alias bomb stops here).
  let aliased = 0;
  const toValue = (node: Node | null | undefined, typed: boolean, depth = 0, inAlias = false): unknown => {
    if (depth > 200) throw new GoYamlError('document nested too deeply');
    const viaAlias = inAlias || isAlias(node);
    if (viaAlias && ++aliased > maxAliases * 100) throw new GoYamlError('document contains excessive aliasing');
    const n = deref(node);
    if (n === null) return null;
    if (isScalar(n)) {
      const v = json ? n.value : scalarValue(n, src);
      return v instanceof GoFloat && !typed ? v.value : v;
    }
    if (isSeq(n)) return n.items.map((i) => toValue(i as Node, typed, depth + 1, viaAlias));
    if (isMap(n))
      return Object.fromEntries(
        entries(n).map((e) => [e.key, toValue(e.value, typed, depth + 1, viaAlias || e.viaAlias === true)]),
      );
    return null;
  };
  return {
    root,
    ...(error ? { error } : {}),
    notes,
    entries,
    get: (map, key) => entries(map).find((e) => e.key === key)?.value,
    toNode: (node) => {
      try {
        return deref(node);
      } catch (e) {
        if (e instanceof GoYamlError) return null;
        throw e;
      }
    },
    toValue: (node, opts) => toValue(node === undefined ? root : node, opts?.floats === 'typed'),
  };
}
