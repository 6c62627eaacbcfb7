import { isPunct, type ListNode, type StrPart, type StructNode, type Token, type ValueNode } from './cue-parse.js';

/** Where a piece of an evaluated string came from, when it is a literal that can be edited in place. */
export interface TextSpan {
  file: string;
  start: number;
  end: number;
}

export interface Segment {
  text: string;
  /** Set when the text is a plain literal in a file (not computed, no escapes). */
  span?: TextSpan;
}

export interface Located {
  file: string;
  node: ValueNode;
}

/** What names resolve to while evaluating: parameter defaults, package-level fields, `context`. */
export interface CueScope {
  parameter(path: string[]): Located | undefined;
  /** Every definition of a package-level field, unconditional ones first. */
  symbol(name: string): Located[];
  context: Record<string, string>;
}

const MAX_DEPTH = 12;
// A crafted file could chain symbols into exponential work; real image references are short.
const MAX_TEXT = 2048;
const MAX_STEPS = 20_000;
let steps = 0;

function splitTop(tokens: Token[], sep: string): Token[][] {
  const out: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === '(') depth++;
    if (t.kind === 'punct' && t.text === ')') depth--;
    if (depth === 0 && isPunct(t, sep)) out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out;
}

/** Evaluates a string-valued expression to its text and the literal pieces it is made of; undefined when it is not a known string. */
export function evaluateString(node: ValueNode, file: string, scope: CueScope, depth = 0): Segment[] | undefined {
  if (node.kind !== 'expr' || depth > MAX_DEPTH) return undefined;
  if (depth === 0) steps = 0;
  if (++steps > MAX_STEPS) return undefined;
  return evalTokens(
    node.tokens.filter((t) => t.kind !== 'nl'),
    file,
    scope,
    depth,
  );
}

function evalTokens(tokens: Token[], file: string, scope: CueScope, depth: number): Segment[] | undefined {
  const alternatives = splitTop(tokens, '|');
  let chosen = alternatives[0]!;
  if (alternatives.length > 1) {
    const marked = alternatives.find((a) => isPunct(a[0], '*'));
    if (!marked) return undefined; // no default: the value is open
    chosen = marked;
  }
  if (isPunct(chosen[0], '*')) chosen = chosen.slice(1);
  const out: Segment[] = [];
  let length = 0;
  for (const term of splitTop(chosen, '+')) {
    const segs = evalTerm(term, file, scope, depth);
    if (!segs) return undefined;
    for (const s of segs) length += s.text.length;
    if (length > MAX_TEXT) return undefined;
    out.push(...segs);
  }
  return out;
}

function evalTerm(term: Token[], file: string, scope: CueScope, depth: number): Segment[] | undefined {
  const first = term[0];
  if (!first) return undefined;
  if (isPunct(first, '(') && isPunct(term[term.length - 1], ')'))
    return evalTokens(term.slice(1, -1), file, scope, depth);
  if (first.kind === 'str') {
    if (term.length !== 1) return undefined;
    const out: Segment[] = [];
    for (const part of first.parts) {
      if ('text' in part) {
        const p = part as StrPart;
        out.push(
          p.escaped || first.multiline
            ? { text: p.text }
            : { text: p.text, span: { file, start: p.start, end: p.end } },
        );
      } else {
        const inner = evalTokens(
          part.tokens.filter((t) => t.kind !== 'nl'),
          file,
          scope,
          depth + 1,
        );
        if (!inner) return undefined;
        out.push(...inner);
      }
    }
    if (first.parts.length === 0) out.push({ text: '', span: { file, start: first.start + 1, end: first.start + 1 } });
    return out;
  }
  if (first.kind === 'num' && term.length === 1) return [{ text: first.text }];
  const path = referencePath(term);
  if (!path) return undefined;
  return resolve(path, scope, depth);
}

/** `a.b["c.d"].e` → ['a', 'b', 'c.d', 'e']; anything else → undefined. */
function referencePath(term: Token[]): string[] | undefined {
  const first = term[0];
  if (first?.kind !== 'ident') return undefined;
  const path = [first.text];
  for (let i = 1; i < term.length; i++) {
    const t = term[i]!;
    if (isPunct(t, '.') && term[i + 1]?.kind === 'ident') {
      path.push((term[i + 1] as { text: string }).text);
      i++;
      continue;
    }
    if (t.kind === 'node' && t.node.kind === 'list') {
      const key = listIndexKey(t.node);
      if (key === undefined) return undefined;
      path.push(key);
      continue;
    }
    return undefined;
  }
  return path;
}

function listIndexKey(list: ListNode): string | undefined {
  const item = list.items[0];
  if (list.items.length !== 1 || item?.kind !== 'expr' || item.tokens.length !== 1) return undefined;
  const t = item.tokens[0]!;
  if (t.kind !== 'str' || !t.parts.every((p) => 'text' in p)) return undefined;
  return t.parts.map((p) => (p as StrPart).text).join('');
}

function resolve(path: string[], scope: CueScope, depth: number): Segment[] | undefined {
  const [head, ...rest] = path;
  if (head === 'parameter') {
    const found = scope.parameter(rest);
    return found ? evaluateString(found.node, found.file, scope, depth + 1) : undefined;
  }
  if (head === 'context') {
    const v = scope.context[rest.join('.')];
    return v === undefined ? undefined : [{ text: v }];
  }
  if (rest.length === 0 && head) {
    const defs = scope.symbol(head);
    for (const d of defs) {
      const v = evaluateString(d.node, d.file, scope, depth + 1);
      if (v) return v;
    }
    // `_base: string` with no value anywhere: the optional prefix is empty (example-cue leaves it unset).
    if (defs.some((d) => isBareType(d.node))) return [{ text: '' }];
    return undefined;
  }
  return undefined;
}

function isBareType(node: ValueNode): boolean {
  if (node.kind !== 'expr' || node.tokens.length !== 1) return false;
  const t = node.tokens[0]!;
  return t.kind === 'ident' && t.text === 'string';
}

/** Fields of a struct by label; conditional fields last, so an unconditional definition wins. */
export function fieldsNamed(struct: StructNode, label: string): ValueNode[] {
  const hits = struct.fields.filter((f) => f.label === label);
  return [...hits.filter((f) => !f.conditional), ...hits.filter((f) => f.conditional)].map((f) => f.value);
}

export function joinSegments(segments: Segment[]): string {
  return segments.map((s) => s.text).join('');
}
