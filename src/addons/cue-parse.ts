/**
 * A tolerant reader for the subset of CUE that addon files use. It does not evaluate CUE:
 * it recovers the field structure (labels, nested structs, lists, `if`/`for` blocks) and
 * keeps every expression as tokens with their offsets, so discovery can evaluate the few
 * string expressions it needs and rewrite can edit one literal in place.
 */

export interface StrPart {
  /** Literal text (escapes decoded). */
  text: string;
  /** Offsets of the literal's source text inside the file. */
  start: number;
  end: number;
  /** The source text had escapes, so it cannot be edited as plain text. */
  escaped: boolean;
}

export interface Interp {
  tokens: Token[];
}

export type Token =
  | { kind: 'str'; start: number; end: number; parts: Array<StrPart | Interp>; multiline: boolean }
  | { kind: 'ident'; start: number; end: number; text: string }
  | { kind: 'num'; start: number; end: number; text: string }
  | { kind: 'punct'; start: number; end: number; text: string }
  | { kind: 'nl'; start: number; end: number }
  | { kind: 'node'; start: number; end: number; node: StructNode | ListNode };

export interface Field {
  label: string;
  /** The label was written as a string (`"image.repository":`). */
  quoted: boolean;
  optional: boolean;
  value: ValueNode;
  /** Inside an `if` or `for` block: one alternative, not always present. */
  conditional: boolean;
  labelStart: number;
}

export interface StructNode {
  kind: 'struct';
  fields: Field[];
  start: number;
  end: number;
}

export interface ListNode {
  kind: 'list';
  items: ValueNode[];
  start: number;
  end: number;
}

export interface ExprNode {
  kind: 'expr';
  tokens: Token[];
  start: number;
  end: number;
}

export type ValueNode = StructNode | ListNode | ExprNode;

export class CueSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const PUNCT2 = new Set(['==', '!=', '<=', '>=', '=~', '!~', '&&', '||']);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c === 35;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function decodeEscape(src: string, i: number): { text: string; next: number } {
  const c = src[i + 1];
  const simple: Record<string, string> = {
    n: '\n',
    t: '\t',
    r: '\r',
    '"': '"',
    '\\': '\\',
    '/': '/',
    "'": "'",
    a: '\x07',
    b: '\b',
    f: '\f',
    v: '\v',
  };
  if (c !== undefined && c in simple) return { text: simple[c]!, next: i + 2 };
  if (c === 'u') return { text: String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 6), 16)), next: i + 6 };
  return { text: c ?? '', next: i + 2 };
}

/** Tokenises CUE source. `stopAt` lets an interpolation end at its closing parenthesis. */
function tokenize(src: string, from = 0, stopAtParen = false): { tokens: Token[]; end: number } {
  const tokens: Token[] = [];
  let i = from;
  let parens = 0;
  while (i < src.length) {
    const code = src.charCodeAt(i);
    if (code === 10) {
      tokens.push({ kind: 'nl', start: i, end: i + 1 });
      i++;
      continue;
    }
    if (code === 32 || code === 9 || code === 13) {
      i++;
      continue;
    }
    if (code === 47 && src.charCodeAt(i + 1) === 47) {
      const nl = src.indexOf('\n', i);
      i = nl === -1 ? src.length : nl;
      continue;
    }
    const next = src.charCodeAt(i + 1);
    if (code === 34 || code === 39 || (code === 35 && (next === 34 || next === 35))) {
      const r = readString(src, i);
      tokens.push(r.token);
      i = r.end;
      continue;
    }
    if (isIdentStart(code)) {
      if (code === 95 && next === 124 && src.charCodeAt(i + 2) === 95) {
        tokens.push({ kind: 'punct', start: i, end: i + 3, text: '_|_' });
        i += 3;
        continue;
      }
      let j = i + 1;
      while (j < src.length && isIdentPart(src.charCodeAt(j))) j++;
      tokens.push({ kind: 'ident', start: i, end: j, text: src.slice(i, j) });
      i = j;
      continue;
    }
    if (isDigit(code) || (code === 46 && isDigit(next))) {
      let j = i + 1;
      while (j < src.length && (isIdentPart(src.charCodeAt(j)) || src.charCodeAt(j) === 46)) j++;
      tokens.push({ kind: 'num', start: i, end: j, text: src.slice(i, j) });
      i = j;
      continue;
    }
    const c = src[i]!;
    const text = src.startsWith('...', i) ? '...' : PUNCT2.has(src.slice(i, i + 2)) ? src.slice(i, i + 2) : c;
    if (stopAtParen) {
      if (text === '(') parens++;
      if (text === ')') {
        if (parens === 0) return { tokens, end: i + 1 };
        parens--;
      }
    }
    tokens.push({ kind: 'punct', start: i, end: i + text.length, text });
    i += text.length;
  }
  if (stopAtParen) throw new CueSyntaxError('unterminated interpolation', from);
  return { tokens, end: i };
}

function readString(src: string, start: number): { token: Token; end: number } {
  let i = start;
  let hashes = 0;
  while (src[i] === '#') {
    hashes++;
    i++;
  }
  const q = src[i]!;
  const multiline = src.startsWith(q.repeat(3), i);
  const open = multiline ? 3 : 1;
  const close = q.repeat(open) + '#'.repeat(hashes);
  i += open;
  const parts: Array<StrPart | Interp> = [];
  let lit = '';
  let litStart = i;
  let escaped = false;
  const escape = '\\' + '#'.repeat(hashes);
  const flush = (end: number) => {
    if (end > litStart || lit) parts.push({ text: lit, start: litStart, end, escaped });
    lit = '';
    escaped = false;
  };
  const qc = q.charCodeAt(0);
  let chunk = i;
  while (i < src.length) {
    const code = src.charCodeAt(i);
    // Plain characters are taken in runs; only quotes, backslashes and newlines need a look.
    if (code !== qc && code !== 92 && code !== 10) {
      i++;
      continue;
    }
    if (code === qc && src.startsWith(close, i)) {
      lit += src.slice(chunk, i);
      flush(i);
      return {
        token: { kind: 'str', start, end: i + close.length, parts, multiline: multiline || hashes > 0 },
        end: i + close.length,
      };
    }
    if (code === 10 && !multiline) throw new CueSyntaxError('unterminated string', start);
    if (code === 92 && src.startsWith(escape, i)) {
      lit += src.slice(chunk, i);
      const after = i + escape.length;
      if (src[after] === '(') {
        flush(i);
        const inner = tokenize(src, after + 1, true);
        parts.push({ tokens: inner.tokens });
        i = inner.end;
        litStart = i;
        chunk = i;
        continue;
      }
      const d = decodeEscape(src, after - 1);
      lit += d.text;
      escaped = true;
      i = d.next;
      chunk = i;
      continue;
    }
    i++;
  }
  throw new CueSyntaxError('unterminated string', start);
}

const OPEN: Record<string, string> = { '{': '}', '[': ']', '(': ')' };

/** Parses a whole file into its top-level struct. Throws CueSyntaxError on unbalanced input. */
export function parseCue(src: string): StructNode {
  const { tokens } = tokenize(src);
  const p = { tokens, i: 0 };
  skipPreamble(p);
  const root = parseStructBody(p, undefined, 0);
  return root;
}

interface Cursor {
  tokens: Token[];
  i: number;
}

function skipPreamble(p: Cursor): void {
  for (;;) {
    while (p.tokens[p.i]?.kind === 'nl') p.i++;
    const t = p.tokens[p.i];
    if (t?.kind === 'ident' && (t.text === 'package' || t.text === 'import')) {
      p.i++;
      const n = p.tokens[p.i];
      if (n?.kind === 'punct' && n.text === '(') {
        while (
          p.i < p.tokens.length &&
          !(p.tokens[p.i]!.kind === 'punct' && (p.tokens[p.i] as { text: string }).text === ')')
        )
          p.i++;
        p.i++;
      } else {
        while (p.i < p.tokens.length && p.tokens[p.i]!.kind !== 'nl') p.i++;
      }
      continue;
    }
    return;
  }
}

export function isPunct(t: Token | undefined, text: string): boolean {
  return t?.kind === 'punct' && t.text === text;
}

function parseStructBody(p: Cursor, close: string | undefined, start: number): StructNode {
  const node: StructNode = { kind: 'struct', fields: [], start, end: start };
  for (;;) {
    const t = p.tokens[p.i];
    if (!t) {
      if (close) throw new CueSyntaxError(`missing "${close}"`, start);
      node.end = p.tokens[p.tokens.length - 1]?.end ?? start;
      return node;
    }
    if (t.kind === 'nl' || isPunct(t, ',')) {
      p.i++;
      continue;
    }
    if (close && isPunct(t, close)) {
      p.i++;
      node.end = t.end;
      return node;
    }
    if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')'))
      throw new CueSyntaxError(`unexpected "${t.text}"`, t.start);
    // `if cond { … }`, `for k, v in x { … }`, `let x = …`: their fields are alternatives.
    if (t.kind === 'ident' && (t.text === 'if' || t.text === 'for')) {
      for (const f of comprehensionBody(p).fields) node.fields.push({ ...f, conditional: true });
      continue;
    }
    const field = parseField(p);
    if (field) node.fields.push(field);
  }
}

/** `if cond {…}` / `for k, v in x {…}` at the cursor: the clauses are skipped, the body parsed. */
function comprehensionBody(p: Cursor): StructNode {
  const start = p.tokens[p.i]!.start;
  p.i++;
  while (p.i < p.tokens.length && !isPunct(p.tokens[p.i], '{')) {
    if (p.tokens[p.i]!.kind === 'punct' && OPEN[(p.tokens[p.i] as { text: string }).text]) skipBalanced(p);
    else p.i++;
  }
  const open = p.tokens[p.i];
  if (!open) throw new CueSyntaxError('comprehension without a body', start);
  p.i++;
  return parseStructBody(p, '}', open.start);
}

function skipBalanced(p: Cursor): void {
  const open = p.tokens[p.i] as { text: string; start: number };
  const close = OPEN[open.text]!;
  p.i++;
  let depth = 1;
  while (p.i < p.tokens.length) {
    const t = p.tokens[p.i]!;
    p.i++;
    if (t.kind !== 'punct') continue;
    if (t.text === open.text) depth++;
    else if (t.text === close && --depth === 0) return;
  }
  throw new CueSyntaxError(`missing "${close}"`, open.start);
}

/** `label[?|!]: [label: …] value`, `let x = value`, or an embedded value (returned as undefined). */
function parseField(p: Cursor): Field | undefined {
  const t = p.tokens[p.i]!;
  if (t.kind === 'ident' && t.text === 'let') {
    const name = p.tokens[p.i + 1];
    p.i += 3; // let NAME =
    const value = parseValue(p);
    return name?.kind === 'ident'
      ? { label: name.text, quoted: false, optional: false, value, conditional: false, labelStart: name.start }
      : undefined;
  }
  const label = readLabel(p);
  if (!label) {
    parseValue(p); // an embedding (e.g. a reference or a call): nothing to label
    return undefined;
  }
  const value = isLabelAhead(p) ? chainedStruct(p) : parseValue(p);
  return { ...label, value, conditional: false };
}

function readLabel(p: Cursor): Omit<Field, 'value' | 'conditional'> | undefined {
  const t = p.tokens[p.i];
  let label: string | undefined;
  let quoted = false;
  let j = p.i;
  if (t?.kind === 'ident') {
    label = t.text;
    j++;
  } else if (t?.kind === 'str' && !t.multiline && t.parts.every((x) => 'text' in x)) {
    label = t.parts.map((x) => (x as StrPart).text).join('');
    quoted = true;
    j++;
  } else if (t?.kind === 'punct' && (t.text === '[' || t.text === '(')) {
    // Pattern or dynamic label: `[string]: …`, `(k): …`.
    const save = p.i;
    skipBalanced(p);
    j = p.i;
    p.i = save;
    label = '*';
  } else return undefined;
  let optional = false;
  const q = p.tokens[j];
  if (isPunct(q, '?') || isPunct(q, '!')) {
    optional = isPunct(q, '?');
    j++;
  }
  if (!isPunct(p.tokens[j], ':')) return undefined;
  p.i = j + 1;
  return { label, quoted, optional, labelStart: t.start };
}

/** `a: b: c` chains labels. Only a name or a plain string can start a chained label here: a `[` is a list value, and scanning it as a pattern label would cost a pass over the whole list. */
function isLabelAhead(p: Cursor): boolean {
  const t = p.tokens[p.i];
  if (t?.kind !== 'ident' && t?.kind !== 'str') return false;
  const save = p.i;
  const r = readLabel(p);
  p.i = save;
  return r !== undefined;
}

function chainedStruct(p: Cursor): StructNode {
  const start = p.tokens[p.i]!.start;
  const f = parseField(p)!;
  return { kind: 'struct', fields: [f], start, end: f.value.end };
}

/** A value runs to a newline or comma at depth 0; nested structs and lists become nodes. */
function parseValue(p: Cursor): ValueNode {
  const tokens: Token[] = [];
  const first = p.tokens[p.i];
  const start = first?.start ?? 0;
  while (p.i < p.tokens.length) {
    const t = p.tokens[p.i]!;
    if (t.kind === 'nl' || isPunct(t, ',')) {
      // A trailing operator continues the expression on the next line.
      const last = tokens[tokens.length - 1];
      if (t.kind === 'nl' && last?.kind === 'punct' && ['+', '|', '&', '(', '*'].includes(last.text)) {
        p.i++;
        continue;
      }
      break;
    }
    if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) break;
    if (isPunct(t, '{')) {
      p.i++;
      const s = parseStructBody(p, '}', t.start);
      tokens.push({ kind: 'node', start: s.start, end: s.end, node: s });
      continue;
    }
    if (isPunct(t, '[')) {
      p.i++;
      const l = parseListBody(p, t.start);
      tokens.push({ kind: 'node', start: l.start, end: l.end, node: l });
      continue;
    }
    if (isPunct(t, '(')) {
      tokens.push(t);
      p.i++;
      const inner = parseValueSeq(p, ')');
      tokens.push(...inner);
      const closeTok = p.tokens[p.i];
      if (!isPunct(closeTok, ')')) throw new CueSyntaxError('missing ")"', t.start);
      tokens.push(closeTok!);
      p.i++;
      continue;
    }
    tokens.push(t);
    p.i++;
  }
  const end = tokens[tokens.length - 1]?.end ?? start;
  const only = tokens.length === 1 ? tokens[0] : undefined;
  if (only?.kind === 'node') return only.node;
  return { kind: 'expr', tokens, start, end };
}

/** Arguments inside parentheses: values separated by commas and newlines. */
function parseValueSeq(p: Cursor, close: string): Token[] {
  const out: Token[] = [];
  for (;;) {
    const t = p.tokens[p.i];
    if (!t) return out;
    if (isPunct(t, close)) return out;
    if (t.kind === 'nl' || isPunct(t, ',')) {
      out.push(t);
      p.i++;
      continue;
    }
    const v = parseValue(p);
    if (v.kind === 'expr') out.push(...v.tokens);
    else out.push({ kind: 'node', start: v.start, end: v.end, node: v });
    if (
      p.i < p.tokens.length &&
      !isPunct(p.tokens[p.i], close) &&
      p.tokens[p.i]!.kind !== 'nl' &&
      !isPunct(p.tokens[p.i], ',')
    ) {
      // A stray closer of another kind: unbalanced input.
      const s = p.tokens[p.i] as { start: number; text?: string };
      throw new CueSyntaxError(`unexpected "${s.text ?? '?'}"`, s.start);
    }
  }
}

function parseListBody(p: Cursor, start: number): ListNode {
  const node: ListNode = { kind: 'list', items: [], start, end: start };
  for (;;) {
    const t = p.tokens[p.i];
    if (!t) throw new CueSyntaxError('missing "]"', start);
    if (t.kind === 'nl' || isPunct(t, ',')) {
      p.i++;
      continue;
    }
    if (isPunct(t, ']')) {
      p.i++;
      node.end = t.end;
      return node;
    }
    if (t.kind === 'ident' && (t.text === 'for' || t.text === 'if')) {
      // A list comprehension: its body is one (conditional) element.
      node.items.push(comprehensionBody(p));
      continue;
    }
    if (t.kind === 'punct' && (t.text === '}' || t.text === ')'))
      throw new CueSyntaxError(`unexpected "${t.text}"`, t.start);
    node.items.push(parseValue(p));
  }
}
