/**
 * Where go-yaml v2 (gopkg.in/yaml.v2 2.4.0, vendored by sigs.k8s.io/yaml v1.4.0 as goyaml.v2,
 * which KubeVela and Helm read YAML with) stops on a tab, and where its first document ends.
 *
 * The `yaml` package parses YAML 1.2 and treats tabs more leniently than yaml.v2's scanner
 * (goyaml.v2/scannerc.go), which allows a tab as white space only in a flow collection or where
 * no simple key may start — so a tab after `-`, a line holding only a tab, or a tab below the
 * indentation of a plain or block scalar stops it ("found character that cannot start any
 * token", "found a tab character that violates indentation", "... where an indentation space is
 * expected"). This module walks the text with the same few rules (flow level, whether a simple
 * key may start, the indentation stack) and reports the first such tab; everything else about
 * the syntax is left to the `yaml` parser. It also says where the first document ends, because
 * `yaml.Unmarshal` reads that document and never scans the rest.
 */

export interface GoYamlScan {
  /** The first tab yaml.v2 refuses: its offset, 1-based line and the scanner's words. */
  tabError?: { offset: number; line: number; message: string };
  /** Offset where the first document ends (a second `---` or a `...`), or the text length. */
  firstDocumentEnd: number;
}

const isBreak = (c: string | undefined) => c === '\n' || c === '\r';
const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
const isBlankz = (c: string | undefined) => c === undefined || isBlank(c) || isBreak(c);
const isAnchorChar = (c: string | undefined) => c !== undefined && /[0-9A-Za-z_-]/.test(c);

export function scanGoYaml(src: string): GoYamlScan {
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  let flow = 0;
  let simpleKeyAllowed = true;
  const indents: number[] = [];
  let indent = -1;
  let candidate: { col: number; line: number } | undefined;
  let begun = false;

  const col = () => pos - lineStart;
  const ch = (k = 0) => src[pos + k];
  const fail = (message: string): GoYamlScan => ({
    tabError: { offset: pos, line, message },
    firstDocumentEnd: src.length,
  });
  const breakLine = () => {
    if (src[pos] === '\r' && src[pos + 1] === '\n') pos++;
    pos++;
    line++;
    lineStart = pos;
  };
  let rootOpened = false;
  const roll = (c: number) => {
    if (flow > 0 || indent >= c) return;
    indents.push(indent);
    indent = c;
    rootOpened = true;
  };
  /** Closes block collections left of column c; true when that closes the root one (the document's node ends). */
  const unroll = (c: number): boolean => {
    if (flow > 0) return false;
    while (indent > c) indent = indents.pop() ?? -1;
    return rootOpened && indent === -1 && c >= 0;
  };
  // As save_simple_key: a token where no simple key may start leaves the pending one (`&a key:`).
  const saveSimpleKey = () => {
    if (simpleKeyAllowed) candidate = { col: col(), line };
  };
  const docMarker = (m: string) => col() === 0 && src.startsWith(m, pos) && isBlankz(src[pos + 3]);

  /** Line breaks and white space in a block scalar, as scan_block_scalar_breaks; 0 = auto-detect. */
  const blockBreaks = (ind: number): { error?: string; max: number } => {
    let max = 0;
    for (;;) {
      while ((ind === 0 || col() < ind) && ch() === ' ') pos++;
      if (col() > max) max = col();
      if ((ind === 0 || col() < ind) && ch() === '\t')
        return { error: 'found a tab character where an indentation space is expected', max };
      if (!isBreak(ch())) return { max };
      breakLine();
    }
  };

  for (;;) {
    // scan_to_next_token: spaces always, tabs only in flow or where no simple key may start.
    for (;;) {
      if (col() === 0 && ch() === '\ufeff') pos++;
      while (ch() === ' ' || ((flow > 0 || !simpleKeyAllowed) && ch() === '\t')) pos++;
      if (ch() === '#') while (pos < src.length && !isBreak(ch())) pos++;
      if (!isBreak(ch())) break;
      breakLine();
      if (flow === 0) simpleKeyAllowed = true;
    }
    if (candidate && candidate.line !== line) candidate = undefined;
    if (pos >= src.length) return { firstDocumentEnd: src.length };
    // The root collection closed by a token left of it: yaml.v2 ends the document there and
    // never reads on (`Unmarshal` takes one document) — past the one token it looks at.
    if (unroll(col()))
      return ch() === '\t' ? fail('found character that cannot start any token') : { firstDocumentEnd: pos };
    const c = ch();
    if (col() === 0 && c === '%') {
      while (pos < src.length && !isBreak(ch())) pos++;
      simpleKeyAllowed = false;
      continue;
    }
    if (docMarker('---') || docMarker('...')) {
      if (begun || c === '.') return { firstDocumentEnd: pos };
      begun = true;
      unroll(-1);
      candidate = undefined;
      simpleKeyAllowed = false;
      pos += 3;
      continue;
    }
    begun = true;
    if (c === '[' || c === '{') {
      saveSimpleKey();
      flow++;
      simpleKeyAllowed = true;
      pos++;
    } else if (c === ']' || c === '}') {
      candidate = undefined;
      flow = Math.max(0, flow - 1);
      simpleKeyAllowed = false;
      pos++;
    } else if (c === ',') {
      candidate = undefined;
      simpleKeyAllowed = true;
      pos++;
    } else if (c === '-' && isBlankz(ch(1))) {
      roll(col());
      candidate = undefined;
      simpleKeyAllowed = true;
      pos++;
    } else if (c === '?' && (flow > 0 || isBlankz(ch(1)))) {
      roll(col());
      candidate = undefined;
      simpleKeyAllowed = flow === 0;
      pos++;
    } else if (c === ':' && (flow > 0 || isBlankz(ch(1)))) {
      if (candidate) {
        roll(candidate.col);
        candidate = undefined;
        simpleKeyAllowed = false;
      } else {
        roll(col());
        simpleKeyAllowed = flow === 0;
      }
      pos++;
    } else if (c === '*' || c === '&') {
      saveSimpleKey();
      simpleKeyAllowed = false;
      pos++;
      const start = pos;
      while (isAnchorChar(ch())) pos++;
      const next = ch();
      if (pos === start || !(isBlankz(next) || (next !== undefined && '?:,]}%@`'.includes(next)))) {
        return fail(
          `while scanning an ${c === '&' ? 'anchor' : 'alias'}: did not find expected alphabetic or numeric character`,
        );
      }
    } else if (c === '!') {
      saveSimpleKey();
      simpleKeyAllowed = false;
      while (!isBlankz(ch()) && !(flow > 0 && ',[]{}'.includes(ch()!))) pos++;
    } else if ((c === '|' || c === '>') && flow === 0) {
      candidate = undefined;
      simpleKeyAllowed = true;
      pos++;
      let increment = 0;
      for (let k = 0; k < 2 && (ch() === '+' || ch() === '-' || /[1-9]/.test(ch() ?? '')); k++) {
        if (/[1-9]/.test(ch()!)) increment = Number(ch());
        pos++;
      }
      while (isBlank(ch())) pos++;
      if (ch() === '#') while (pos < src.length && !isBreak(ch())) pos++;
      if (isBreak(ch())) breakLine();
      let ind = increment ? (indent >= 0 ? indent + increment : increment) : 0;
      const first = blockBreaks(ind);
      if (first.error) return fail(first.error);
      if (ind === 0) ind = Math.max(first.max, indent + 1, 1);
      while (col() === ind && pos < src.length) {
        while (pos < src.length && !isBreak(ch())) pos++;
        if (pos >= src.length) break;
        breakLine();
        const more = blockBreaks(ind);
        if (more.error) return fail(more.error);
      }
    } else if (c === "'" || c === '"') {
      saveSimpleKey();
      simpleKeyAllowed = false;
      pos++;
      for (;;) {
        if (pos >= src.length) return { firstDocumentEnd: src.length }; // unterminated: the `yaml` parser says so
        const q = ch();
        if (c === "'" && q === "'" && ch(1) === "'") pos += 2;
        else if (c === '"' && q === '\\') {
          pos++;
          if (isBreak(ch())) breakLine();
          else pos++;
        } else if (q === c) {
          pos++;
          break;
        } else if (isBreak(q)) breakLine();
        else pos++;
      }
    } else if (
      !(isBlankz(c) || '-?:,[]{}#&*!|>\'"%@`'.includes(c!)) ||
      (c === '-' && !isBlank(ch(1))) ||
      (flow === 0 && (c === '?' || c === ':') && !isBlankz(ch(1)))
    ) {
      // A plain scalar: it swallows the white space and line breaks after it, with the tab check.
      saveSimpleKey();
      simpleKeyAllowed = false;
      const ind = indent + 1;
      let leadingBlanks = false;
      for (;;) {
        if (docMarker('---') || docMarker('...')) break;
        if (ch() === '#') break;
        while (!isBlankz(ch())) {
          const x = ch()!;
          if ((x === ':' && isBlankz(ch(1))) || (flow > 0 && ',?[]{}'.includes(x))) break;
          leadingBlanks = false;
          pos++;
        }
        if (!(isBlank(ch()) || isBreak(ch()))) break;
        while (isBlank(ch()) || isBreak(ch())) {
          if (isBlank(ch())) {
            if (leadingBlanks && col() < ind && ch() === '\t')
              return fail('found a tab character that violates indentation');
            pos++;
          } else {
            breakLine();
            leadingBlanks = true;
          }
        }
        if (flow === 0 && col() < ind) break;
      }
      if (leadingBlanks) simpleKeyAllowed = true;
    } else if (c === '\t') {
      return fail('found character that cannot start any token');
    } else {
      // `@`, `` ` `` and the like: a syntax error the `yaml` parser reports in its own words.
      return { firstDocumentEnd: src.length };
    }
  }
}
