import semver from 'semver';
import { isMap, isSeq, stringify as stringifyYaml } from 'yaml';
import { AirlockError } from '../core/errors.js';
import { readGoYaml, resolvePlain, type GoYamlDocument } from '../core/go-yaml.js';
import { nameProblem, printable } from '../core/names.js';
import { helmField, helmGoObject, MAX_ALIASES } from './helm-yaml.js';

/** One chart version of a classic repository's index.yaml: Chart.yaml fields plus urls, digest, created. */
export interface ChartVersionEntry {
  name: string;
  version: string;
  urls: string[];
  digest?: string;
  created?: string;
  appVersion?: string;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface IndexFile {
  apiVersion: string;
  generated?: string;
  entries: Record<string, ChartVersionEntry[]>;
  [key: string]: unknown;
}

export interface ParseIndexOptions {
  /**
   * The index of a directory target, airlock's own: every entry is read at once and kept as
   * written, and anything unreadable is an error, because rewriting the index would drop the
   * charts it lists.
   */
  own?: boolean;
  /**
   * Charts of this same text parsed before (a cache next to the index text): used instead of
   * parsing their YAML again, which costs a fresh process far more than reading them back.
   */
  parsed?: Record<string, ParsedChart>;
  /** Told of each chart as it is parsed, for such a cache. */
  onParsed?: (chart: string, parsed: ParsedChart) => void;
}

/** One chart's versions as parsed and checked, and the entries left out with why. */
export interface ParsedChart {
  entries: ChartVersionEntry[];
  rejected: Rejected[];
}

const MiB = 1024 * 1024;
/** An index in any layout but the block layout Helm writes is parsed whole, up to this size. */
export const WHOLE_PARSE_BYTES = 16 * MiB;
/** The text outside `entries:` (apiVersion, generated, serverInfo, annotations). */
const HEADER_BYTES = MiB;
/** One version entry (a Chart.yaml's fields, urls, digest). */
const ENTRY_BYTES = 4 * MiB;

/**
 * The fields of Helm's ChartVersion (Chart.yaml metadata, then urls/created/removed/digest and the
 * legacy ones). KubeVela decodes addon registry indexes strictly, so anything else is fatal there.
 */
const HELM_VERSION_FIELDS = new Set([
  'name',
  'home',
  'sources',
  'version',
  'description',
  'keywords',
  'maintainers',
  'icon',
  'apiVersion',
  'condition',
  'tags',
  'appVersion',
  'deprecated',
  'annotations',
  'kubeVersion',
  'dependencies',
  'type',
  'urls',
  'created',
  'removed',
  'digest',
  'checksum',
  'engine',
  'tillerVersion',
  'url',
]);

/** An index entry keeping only Helm's fields, as `helm repo index` would write it from a Chart.yaml. */
function helmVersionFields<T extends Record<string, unknown>>(entry: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(entry).filter(([k, v]) => HELM_VERSION_FIELDS.has(k) && v !== undefined && v !== null),
  ) as Partial<T>;
}

/** An upstream entry that was left out, and why: findVersion names it when that version is asked for. */
export interface Rejected {
  version?: string;
  problem: string;
}

const rejections = new WeakMap<IndexFile, Map<string, Rejected[]>>();

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/**
 * How index.yaml is read: as KubeVela (pkg/utils/helm/helm_helper.go GetIndexInfo) and Helm
 * (pkg/repo/index.go loadIndex) read it, sigs.k8s.io/yaml `UnmarshalStrict`: the first document,
 * merge keys where they stand, YAML 1.1 scalars, go-yaml v2's tab rules, a repeated key refused.
 */
const GO_YAML = { strict: true, maxAliasExpansions: MAX_ALIASES } as const;

/** An anchor and an alias, each where a node may start: the cut into charts could separate them. */
const ANCHOR = /(?:^|[\s[{,])&[^\s[\]{},]/m;
const ALIAS = /(?:^|[\s[{,])\*[^\s[\]{},]/m;

/**
 * Parses index.yaml as Helm does (apiVersion required, entries per chart), within bounded memory:
 * the text is cut at its chart boundaries first (Helm writes indexes in block style, one key per
 * chart under `entries:`), and a chart's versions are parsed only when that chart is asked for,
 * one entry at a time. A YAML parser holds dozens of times the text in memory for a whole
 * document; 50 MB of index took 2.4 GB that way. Other layouts (flow style, JSON) are parsed
 * whole up to WHOLE_PARSE_BYTES, and so is a text up to that size using anchors and aliases,
 * since an alias may point across the cut (above it, an entry whose alias points outside its
 * own item is left out, as one that cannot be read).
 *
 * Each part is read as UnmarshalStrict reads the whole (GO_YAML): the cut stops at the end of
 * the first document, and a key repeated in the header, within an entry or among the charts
 * under `entries:` is refused as Helm and KubeVela refuse it: the whole index for the header
 * and the charts, which are read up front, the entry alone when it is read.
 *
 * Every entry is checked against the grammar of what it will name: the chart name (its key, and
 * `name:` when given) a file name and an OCI repository, the version a file name and a tag, the
 * digest a sha256 hex string. An entry that fails is left out and remembered; a bad entry never
 * makes the whole index unusable, and asking for it says what is wrong with it.
 */
export function parseIndex(text: string, artifact: string, options: ParseIndexOptions = {}): IndexFile {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const split = splitIndex(body);
  if (split && 'duplicate' in split)
    throw notYaml(`line ${split.duplicate.line}: key "${split.duplicate.key}" already set in map`, artifact);
  const crossRefs = () => body.length <= WHOLE_PARSE_BYTES && ANCHOR.test(body) && ALIAS.test(body);
  if (split && !crossRefs()) return fromSplit(split, artifact, options);
  if (body.length > WHOLE_PARSE_BYTES) {
    throw new AirlockError(
      'E_TOO_LARGE',
      `index.yaml of ${mib(body.length)} is not in the block layout Helm writes (one key per chart under entries:); other layouts are read up to ${WHOLE_PARSE_BYTES / MiB} MiB`,
      { artifact },
    );
  }
  return fromWhole(body, artifact, options);
}

/** A piece of the index text and the line of the whole text it starts on. */
interface Piece {
  text: string;
  line: number;
}

interface SplitChart {
  key: string;
  /** YAML texts that each hold a sequence of version entries (one per block item, or the inline value). */
  texts: Piece[];
}

interface SplitText {
  header: Piece[];
  /** How many top-level keys came before `entries:` (-1: none there), so a rewrite keeps the order. */
  entriesAt: number;
  charts: SplitChart[];
}

const KEY_LINE = [
  /^"((?:[^"\\]|\\.)*)"[ \t]*:(?:[ \t]+(.*))?$/,
  /^'((?:[^']|'')*)'[ \t]*:(?:[ \t]+(.*))?$/,
  /^([^\s:#"'][^:]*?)[ \t]*:(?:[ \t]+(.*))?$/,
];

/**
 * A mapping key on one line and the inline value after it (undefined: none, or only a comment).
 * Undefined for a plain key go-yaml would not read as that text (`<<`, `yes`, `1.0`, `~`): the
 * caller leaves such an index to the whole-document reader.
 */
function keyLine(line: string): { key: string; inline?: string } | undefined {
  for (const [i, re] of KEY_LINE.entries()) {
    const m = re.exec(line);
    if (!m) continue;
    let key = m[1] ?? '';
    if (i === 0) {
      try {
        key = JSON.parse(`"${key}"`) as string;
      } catch {
        // An escape JSON does not know: the raw text, which then fails as a chart name.
      }
    } else if (i === 1) key = key.replace(/''/g, "'");
    else if (key === '<<' || typeof resolvePlain(key) !== 'string') return undefined;
    const inline = m[2]?.trim();
    return inline && !inline.startsWith('#') ? { key, inline } : { key };
  }
  return undefined;
}

const SPACE = 32;
const DASH = 45;
const HASH = 35;
const CR = 13;
/** A document start or end marker: the first document ends there (go-yaml never reads on). */
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;

/**
 * Cuts an index at its chart boundaries without parsing it: the lines outside `entries:`, and per
 * chart key the text of each version item, up to the end of the first document. Undefined when
 * the text is not in the block layout this recognises (the caller then parses it whole, if it is
 * small enough); `duplicate` for a top-level or chart key written twice, which the cut is where
 * to see.
 */
function splitIndex(text: string): SplitText | { duplicate: { key: string; line: number } } | undefined {
  const header: Piece[] = [];
  const charts: SplitChart[] = [];
  const chartKeys = new Set<string>();
  let mode: 'start' | 'header' | 'entries' = 'start';
  let headerStart = -1;
  let headerLine = 0;
  let chartIndent = -1;
  let itemIndent = -1;
  let itemStart = -1;
  let itemLine = 0;
  let chart: (SplitChart & { inline: boolean }) | undefined;
  const closeItem = (at: number) => {
    if (chart && itemStart >= 0) chart.texts.push({ text: text.slice(itemStart, at), line: itemLine });
    itemStart = -1;
  };
  const closeHeader = (at: number) => {
    if (headerStart >= 0) header.push({ text: text.slice(headerStart, at), line: headerLine });
    headerStart = -1;
  };
  let seenContent = false;
  let entriesAt = -1;
  let pos = 0;
  let line = 0;
  while (pos < text.length) {
    line++;
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    let i = pos;
    while (i < end && text.charCodeAt(i) === SPACE) i++;
    const indent = i - pos;
    const c = i < end ? text.charCodeAt(i) : -1;
    const blank = c === -1 || c === CR || c === HASH;
    if (!blank && indent === 0) {
      // A line at column 0 ends whatever was open: it is the next top-level key.
      closeItem(pos);
      closeHeader(pos);
      chart = undefined;
      const lineText = text.slice(pos, end).replace(/\r$/, '');
      if (DOCUMENT_MARKER.test(lineText)) {
        if (seenContent) break;
        if (!/^---[ \t]*(?:#.*)?$/.test(lineText)) return undefined;
        pos = end + 1;
        continue;
      }
      seenContent = true;
      if (c === DASH || lineText.startsWith('...') || lineText.startsWith('%')) return undefined;
      const key = keyLine(lineText);
      if (!key) return undefined;
      if (key.key === 'entries') {
        if (entriesAt >= 0) return { duplicate: { key: 'entries', line } };
        if (key.inline !== undefined) return undefined;
        entriesAt = header.length;
        mode = 'entries';
        chartIndent = -1;
      } else {
        mode = 'header';
        headerStart = pos;
        headerLine = line;
      }
    } else if (mode === 'entries' && !blank) {
      if (chartIndent === -1) chartIndent = indent;
      if (indent < chartIndent) return undefined;
      if (indent === chartIndent && c !== DASH) {
        closeItem(pos);
        const key = keyLine(text.slice(i, end).replace(/\r$/, ''));
        if (!key) return undefined;
        if (chartKeys.has(key.key)) return { duplicate: { key: key.key, line } };
        chartKeys.add(key.key);
        chart = {
          key: key.key,
          texts: key.inline !== undefined ? [{ text: key.inline, line }] : [],
          inline: key.inline !== undefined,
        };
        charts.push(chart);
        itemIndent = -1;
      } else {
        // Inside a chart: its value must be a block sequence whose items start at one indentation.
        if (!chart || chart.inline) return undefined;
        if (itemIndent === -1) itemIndent = indent;
        const item =
          indent === itemIndent &&
          c === DASH &&
          (i + 1 >= end || text.charCodeAt(i + 1) === SPACE || text.charCodeAt(i + 1) === CR);
        if (item) {
          closeItem(pos);
          itemStart = pos;
          itemLine = line;
        } else if (indent <= itemIndent || itemStart === -1) return undefined;
      }
    } else if (mode === 'start' && !blank) {
      return undefined;
    }
    pos = end + 1;
  }
  closeItem(Math.min(pos, text.length));
  closeHeader(Math.min(pos, text.length));
  return { header, entriesAt, charts };
}

function notYaml(message: string, artifact: string): AirlockError {
  return new AirlockError('E_REGISTRY', `index.yaml is not valid YAML: ${message.split('\n')[0]}`, { artifact });
}

/** A message about line n of a piece, about the line of the whole text instead. */
function atLine(message: string, lineOf: (n: number) => number): string {
  return message.replace(/^line (\d+)/, (_, n: string) => `line ${lineOf(Number(n))}`);
}

/** Line n of the header pieces joined, as a line of the whole text. */
function headerLineOf(header: Piece[], n: number): number {
  let left = n;
  for (const piece of header) {
    const lines = piece.text.split('\n').length - (piece.text.endsWith('\n') ? 1 : 0);
    if (left <= lines) return piece.line + left - 1;
    left -= lines;
  }
  return n;
}

/** The top-level fields other than entries; apiVersion is what tells an index from any YAML file. */
function checkHeader(head: unknown, artifact: string): Record<string, unknown> {
  if (!head || typeof head !== 'object' || Array.isArray(head))
    throw new AirlockError('E_REGISTRY', 'index.yaml is empty or not a mapping', { artifact });
  if (!(head as Record<string, unknown>).apiVersion)
    throw new AirlockError('E_REGISTRY', 'index.yaml has no apiVersion (truncated or not a chart repository index)', {
      artifact,
    });
  return head as Record<string, unknown>;
}

interface ReadContext {
  artifact: string;
  own: boolean;
  reject(chart: string, rejected: Rejected): void;
}

function fromSplit(split: SplitText, artifact: string, options: ParseIndexOptions): IndexFile {
  const headerText = split.header.map((p) => p.text).join('');
  if (headerText.length > HEADER_BYTES)
    throw new AirlockError(
      'E_TOO_LARGE',
      `index.yaml has ${mib(headerText.length)} outside entries: (at most ${HEADER_BYTES / MiB} MiB)`,
      { artifact },
    );
  const read = readGoYaml(headerText, GO_YAML);
  if (read.error)
    throw notYaml(
      atLine(read.error, (n) => headerLineOf(split.header, n)),
      artifact,
    );
  let head: unknown;
  try {
    head = read.root === null ? null : (helmGoObject(read, read.root) ?? read.toValue());
  } catch (e) {
    // toValue refusing an alias bomb.
    throw notYaml((e as Error).message, artifact);
  }
  // A document of entries alone is an index without its apiVersion; an empty one is no index.
  const fields = Object.entries(checkHeader(head ?? (split.entriesAt >= 0 ? {} : null), artifact));
  const { ctx, rejected } = readContext(artifact, options);
  const entries: Record<string, ChartVersionEntry[]> = {};
  for (const c of split.charts) {
    if (!admitChart(c.key, ctx)) continue;
    const readChart = () => c.texts.flatMap((t) => readVersions(c.key, t, ctx));
    if (options.own) {
      entries[c.key] = readChart();
      continue;
    }
    lazyProperty(entries, c.key, () => {
      const before = options.parsed?.[c.key];
      if (before) return fromCache(c.key, before, ctx);
      const versions = readChart();
      options.onParsed?.(c.key, { entries: versions, rejected: rejected.get(c.key) ?? [] });
      return versions;
    });
  }
  const at = split.entriesAt >= 0 ? split.entriesAt : fields.length;
  const index = Object.fromEntries([...fields.slice(0, at), ['entries', entries], ...fields.slice(at)]) as IndexFile;
  rejections.set(index, rejected);
  return index;
}

function fromWhole(text: string, artifact: string, options: ParseIndexOptions): IndexFile {
  const read = readGoYaml(text, GO_YAML);
  if (read.error) throw notYaml(read.error, artifact);
  try {
    return wholeIndex(read, artifact, options);
  } catch (e) {
    // toValue refusing an alias bomb.
    if (e instanceof AirlockError) throw e;
    throw notYaml((e as Error).message, artifact);
  }
}

function wholeIndex(read: GoYamlDocument, artifact: string, options: ParseIndexOptions): IndexFile {
  const root = read.root;
  if (!isMap(root)) checkHeader(null, artifact);
  const { ctx, rejected } = readContext(artifact, options);
  const head: Record<string, unknown> = {};
  const entries: Record<string, ChartVersionEntry[]> = {};
  for (const field of isMap(root) ? read.entries(root) : []) {
    if (field.key !== 'entries') {
      head[field.key] = helmField(read, field.key, field.value);
      continue;
    }
    head.entries = entries;
    // A chart key written twice was refused by the strict reading already.
    const charts = isMap(field.value) ? read.entries(field.value) : [];
    for (const c of charts) if (admitChart(c.key, ctx)) entries[c.key] = versionsOf(c.key, read, c.value, ctx);
  }
  const index = checkHeader(head, artifact) as IndexFile;
  index.entries = entries;
  rejections.set(index, rejected);
  return index;
}

function readContext(
  artifact: string,
  options: ParseIndexOptions,
): { ctx: ReadContext; rejected: Map<string, Rejected[]> } {
  const rejected = new Map<string, Rejected[]>();
  const own = options.own ?? false;
  return {
    rejected,
    ctx: {
      artifact,
      own,
      reject(chart, r) {
        if (own)
          throw new AirlockError(
            'E_REGISTRY',
            `index.yaml: chart ${printable(chart)}${r.version ? ` ${printable(r.version)}` : ''}: ${r.problem}`,
            { artifact },
          );
        const list = rejected.get(chart) ?? [];
        list.push(r);
        rejected.set(chart, list);
      },
    },
  };
}

/** A chart key may name things: it must be a chart name. Our own index keeps whatever it holds. */
function admitChart(chart: string, ctx: ReadContext): boolean {
  const problem = nameProblem('chart-name', chart);
  if (problem && !ctx.own) {
    ctx.reject(chart, { problem: `chart name "${printable(chart)}" ${problem}` });
    return false;
  }
  return true;
}

/** The version entries of one YAML text (a block item of a chart, or its inline value). */
function readVersions(chart: string, piece: Piece, ctx: ReadContext): ChartVersionEntry[] {
  const { text } = piece;
  if (text.length > ENTRY_BYTES) {
    if (ctx.own)
      throw new AirlockError(
        'E_TOO_LARGE',
        `index.yaml: an entry of chart ${chart} has ${mib(text.length)} (at most ${ENTRY_BYTES / MiB} MiB)`,
        { artifact: ctx.artifact },
      );
    ctx.reject(chart, { problem: `an entry of ${mib(text.length)} was skipped (at most ${ENTRY_BYTES / MiB} MiB)` });
    return [];
  }
  const read = readGoYaml(text, GO_YAML);
  if (read.error) {
    const error = atLine(read.error, (n) => piece.line + n - 1);
    if (ctx.own) throw notYaml(error, ctx.artifact);
    ctx.reject(chart, { problem: `an entry is not valid YAML (${error.split('\n')[0]})` });
    return [];
  }
  return versionsOf(chart, read, read.root, ctx);
}

function versionsOf(chart: string, read: GoYamlDocument, node: unknown, ctx: ReadContext): ChartVersionEntry[] {
  // Helm skips a chart whose value is not a list; so do we.
  const seq = read.toNode(node);
  if (!isSeq(seq)) return [];
  const out: ChartVersionEntry[] = [];
  for (const item of seq.items) {
    let value: Record<string, unknown> | undefined;
    try {
      value = helmGoObject(read, item);
    } catch (e) {
      ctx.reject(chart, { problem: `an entry could not be read (${(e as Error).message.split('\n')[0]})` });
      continue;
    }
    const entry = value && checkedEntry(chart, value, ctx);
    if (entry) out.push(entry);
  }
  return out;
}

const shown = (v: unknown) =>
  typeof v === 'string' ? `"${printable(v)}"` : typeof v === 'object' ? JSON.stringify(v)?.slice(0, 80) : String(v);

/** An entry as airlock uses it, or undefined (rejected) when a field would name something it must not. */
function checkedEntry(chart: string, v: Record<string, unknown>, ctx: ReadContext): ChartVersionEntry | undefined {
  // Entries without a version are dropped, as before: there is nothing to ask for.
  if (v.version === undefined || v.version === null) return undefined;
  const version = typeof v.version === 'string' ? v.version : shown(v.version);
  const urls = Array.isArray(v.urls) ? v.urls.map(String) : [];
  if (ctx.own) return { ...v, name: String(v.name ?? chart), version, urls };
  const reject = (problem: string) => {
    ctx.reject(chart, { version, problem });
    return undefined;
  };
  const versionProblem = nameProblem('version', v.version);
  if (versionProblem) return reject(`version ${shown(v.version)} ${versionProblem}`);
  // The entry is named after its key; a `name:` that could not be a chart name is a lie about it.
  if (v.name !== undefined && v.name !== null) {
    const nameIssue = nameProblem('chart-name', v.name);
    if (nameIssue) return reject(`name ${shown(v.name)} ${nameIssue}`);
  }
  let digest: string | undefined;
  if (v.digest !== undefined && v.digest !== null && v.digest !== '') {
    const hex = typeof v.digest === 'string' ? v.digest.replace(/^sha256:/, '').toLowerCase() : undefined;
    if (hex === undefined || nameProblem('digest', `sha256:${hex}`))
      return reject(`digest ${shown(v.digest)} is not a sha256 digest (64 hex digits)`);
    digest = hex;
  }
  const entry: ChartVersionEntry = { ...v, name: chart, version, urls };
  if (digest) entry.digest = digest;
  else delete entry.digest;
  return entry;
}

/**
 * A chart read back from the cache: its entries checked again (no YAML, a few string tests),
 * since they name files as much as freshly parsed ones do, and its rejections remembered.
 */
function fromCache(chart: string, before: ParsedChart, ctx: ReadContext): ChartVersionEntry[] {
  for (const r of Array.isArray(before.rejected) ? before.rejected : [])
    ctx.reject(chart, { ...(typeof r.version === 'string' ? { version: r.version } : {}), problem: String(r.problem) });
  const entries = Array.isArray(before.entries) ? before.entries : [];
  return entries.flatMap((e) =>
    e && typeof e === 'object' ? (checkedEntry(chart, e as Record<string, unknown>, ctx) ?? []) : [],
  );
}

/** `entries[key]` parsed on first read, then a plain property (assignable, as a directory target's update does). */
function lazyProperty(
  entries: Record<string, ChartVersionEntry[]>,
  key: string,
  load: () => ChartVersionEntry[],
): void {
  const settle = (value: ChartVersionEntry[]) =>
    Object.defineProperty(entries, key, { value, enumerable: true, configurable: true, writable: true });
  Object.defineProperty(entries, key, {
    enumerable: true,
    configurable: true,
    get() {
      const value = load();
      settle(value);
      return value;
    },
    set(value: ChartVersionEntry[]) {
      settle(value);
    },
  });
}

/**
 * Helm's ResolveReferenceURL: an absolute URL stays; a relative one is resolved against the repo
 * URL with a trailing slash, and the repo URL's query string replaces the reference's.
 */
export function resolveChartUrl(repoUrl: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return ref;
  const base = new URL(repoUrl);
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/`;
  const resolved = new URL(ref, base);
  resolved.search = base.search;
  return resolved.toString();
}

const sameVersion = (a: string, b: string) => a === b || a === b.replace(/^v/, '') || `v${a}` === b;

export function findVersion(index: IndexFile, chart: string, version: string, artifact: string): ChartVersionEntry {
  const versions = index.entries[chart];
  const rejected = rejections.get(index)?.get(chart) ?? [];
  const entry = versions?.find((v) => sameVersion(v.version, version));
  if (!entry) {
    // An entry left out for what it says is named with the reason, not reported missing.
    const bad =
      rejected.find((r) => r.version !== undefined && sameVersion(r.version, version)) ??
      rejected.find((r) => r.version === undefined && !versions?.length);
    if (bad)
      throw new AirlockError(
        'E_UNSUPPORTED',
        `index.yaml entry ${chart}${bad.version ? ` ${printable(bad.version)}` : ''} is invalid: ${bad.problem}`,
        { artifact },
      );
    if (!versions?.length && !rejected.length)
      throw new AirlockError('E_NOT_FOUND', `chart ${chart} is not in the repository index`, { artifact });
    const known = versions?.length
      ? `newest: ${versions
          .slice(0, 5)
          .map((v) => v.version)
          .join(', ')}`
      : 'no valid entry';
    const skipped = rejected.length
      ? `; ${rejected.length} invalid entr${rejected.length === 1 ? 'y' : 'ies'} skipped, e.g. ${rejected[0]?.problem}`
      : '';
    throw new AirlockError('E_NOT_FOUND', `chart ${chart} has no version ${version} (${known}${skipped})`, {
      artifact,
    });
  }
  if (entry.urls.length === 0)
    throw new AirlockError('E_REGISTRY', `index entry ${chart} ${entry.version} has no urls`, { artifact });
  return entry;
}

/** Newest first by semver; non-semver versions after, by text. */
export function sortVersions(entries: ChartVersionEntry[]): ChartVersionEntry[] {
  return [...entries].sort((a, b) => {
    const va = semver.valid(a.version, { loose: true });
    const vb = semver.valid(b.version, { loose: true });
    if (va && vb) return semver.rcompare(va, vb, true);
    if (va) return -1;
    if (vb) return 1;
    return b.version.localeCompare(a.version);
  });
}

// YAML 1.1 quoting: a string such as `yes`, `on` or `1_000` is quoted, or KubeVela's go-yaml (and parseIndex) would read it back as a boolean or a number.
const YAML_OUT = { lineWidth: 0, aliasDuplicateObjects: false, version: '1.1' } as const;

/**
 * Every version keeps only Helm's fields, the ones already in the index as much as the new one:
 * a single extra field anywhere makes KubeVela's strict decoding refuse the whole index. Written
 * one chart at a time (the YAML writer, like its parser, holds many times a document's size), and
 * with no anchors: every entry in full, as Helm writes indexes.
 */
export function stringifyIndex(index: IndexFile): string {
  const out: string[] = [];
  for (const [key, value] of Object.entries(index)) {
    if (value === undefined) continue;
    if (key !== 'entries') {
      out.push(stringifyYaml({ [key]: value }, YAML_OUT));
      continue;
    }
    const names = Object.keys(index.entries).sort();
    if (names.length === 0) {
      out.push('entries: {}\n');
      continue;
    }
    out.push('entries:\n');
    for (const name of names) {
      const versions = sortVersions(index.entries[name] ?? []).map((v) => helmVersionFields(v) as ChartVersionEntry);
      out.push(stringifyYaml({ [name]: versions }, YAML_OUT).replace(/^(?=.)/gm, '  '));
    }
  }
  return out.join('');
}
