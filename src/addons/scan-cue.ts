import { evaluateString, fieldsNamed, joinSegments, type CueScope, type Located, type Segment } from './cue-eval.js';
import type { StructNode, ValueNode } from './cue-parse.js';
import { isImageLabel, looksLikeImage, type ChartFinding, type FileFindings, type ValueSpan } from './findings.js';

export interface CueFile {
  file: string;
  src: string;
  root: StructNode;
}

/** Collects `parameter: {…}` defaults; `deep` also looks inside nested structs (definitions wrap them in `template:`). */
function collectParameters(files: CueFile[], deep: boolean): Map<string, Located> {
  const params = new Map<string, Located>();
  const addStruct = (s: StructNode, file: string, prefix: string[]) => {
    for (const f of s.fields) {
      if (f.conditional) continue;
      const path = [...prefix, f.label];
      const key = JSON.stringify(path);
      if (!params.has(key)) params.set(key, { file, node: f.value });
      if (f.value.kind === 'struct') addStruct(f.value, file, path);
    }
  };
  const visit = (s: StructNode, file: string) => {
    for (const f of s.fields) {
      if (f.label === 'parameter' && f.value.kind === 'struct') addStruct(f.value, file, []);
      else if (deep && f.value.kind === 'struct') visit(f.value, file);
    }
  };
  for (const f of files) visit(f.root, f.file);
  return params;
}

/** Package-level fields (`_base`, `registry`, `_version`); an unconditional definition wins over an `if` branch. */
function collectSymbols(files: CueFile[]): Map<string, Located[]> {
  const symbols = new Map<string, Array<Located & { conditional: boolean }>>();
  for (const { file, root } of files) {
    for (const f of root.fields) {
      if (f.label === 'parameter' || f.label === '*') continue;
      const list = symbols.get(f.label) ?? [];
      list.push({ file, node: f.value, conditional: f.conditional });
      symbols.set(f.label, list);
    }
  }
  for (const list of symbols.values()) list.sort((a, b) => Number(a.conditional) - Number(b.conditional));
  return symbols;
}

export function buildCueScope(
  files: CueFile[],
  context: Record<string, string>,
  options: { deepParameters?: boolean } = {},
): CueScope {
  const params = collectParameters(files, options.deepParameters ?? false);
  const symbols = collectSymbols(files);
  return {
    parameter: (path) => params.get(JSON.stringify(path)),
    symbol: (name) => symbols.get(name) ?? [],
    context,
  };
}

function spanOf(node: ValueNode, file: string): ValueSpan {
  return { file, start: node.start, end: node.end, style: 'cue' };
}

function lineIndent(src: string, offset: number): string {
  const lineStart = src.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(src.slice(lineStart))![0];
}

/** Images, helm charts and remote URLs an addon's CUE file deploys, evaluated with the addon's defaults. */
export function scanCueFile(
  cue: CueFile,
  scope: CueScope,
  findings: FileFindings,
  options: { skipParameterBlocks: boolean },
): void {
  const { file, src } = cue;
  const str = (node: ValueNode | undefined): Segment[] | undefined =>
    node ? evaluateString(node, file, scope) : undefined;

  const helmImageBlock = (s: StructNode) => {
    const repo = fieldsNamed(s, 'repository')[0];
    if (!repo) return; // CRD schemas written in CUE: `image: {type: "string"}`
    const repoSegs = str(repo);
    if (!repoSegs) return;
    const regNode = fieldsNamed(s, 'registry')[0];
    const regSegs = regNode ? str(regNode) : undefined;
    const tagNode = fieldsNamed(s, 'tag')[0];
    const tagSegs = tagNode ? str(tagNode) : undefined;
    const name: Segment[] = regSegs && joinSegments(regSegs) ? [...regSegs, { text: '/' }, ...repoSegs] : repoSegs;
    if (!tagSegs || !joinSegments(tagSegs)) {
      if (looksLikeImage(joinSegments(name))) findings.untagged.push(joinSegments(name));
      return;
    }
    const segments = [...name, { text: ':' }, ...tagSegs];
    const ref = joinSegments(segments);
    const registry = regSegs && joinSegments(regSegs) ? { registry: regSegs } : {};
    if (looksLikeImage(ref))
      findings.images.push({ ref, segments, file, parts: { ...registry, repository: repoSegs } });
  };

  const chartOf = (s: StructNode) => {
    const type = fieldsNamed(s, 'type')[0];
    const typeText = type ? str(type) : undefined;
    if (!typeText || joinSegments(typeText) !== 'helm') return;
    for (const props of fieldsNamed(s, 'properties')) {
      if (props.kind !== 'struct') continue;
      const chartNode = fieldsNamed(props, 'chart')[0];
      const chart = chartNode ? str(chartNode) : undefined;
      if (!chart) continue;
      const versionNode = fieldsNamed(props, 'version')[0];
      const version = versionNode ? str(versionNode) : undefined;
      const repoTypeNode = fieldsNamed(props, 'repoType')[0];
      const repoType = repoTypeNode ? str(repoTypeNode) : undefined;
      // `if parameter.mirror { url: A }` / `if !parameter.mirror { url: B }`: every alternative is a chart source.
      for (const f of props.fields.filter((x) => x.label === 'url')) {
        const url = str(f.value);
        if (!url) continue;
        const finding: ChartFinding = {
          repoType: repoType ? joinSegments(repoType) : 'helm',
          url: joinSegments(url),
          chart: joinSegments(chart),
          version: version ? joinSegments(version) : undefined,
          file,
          urlSpan: spanOf(f.value, file),
          urlSegments: url,
          repoTypeSpan: repoTypeNode ? spanOf(repoTypeNode, file) : undefined,
          insertBefore: { file, offset: f.labelStart, indent: lineIndent(src, f.labelStart), style: 'cue' },
        };
        findings.charts.push(finding);
      }
    }
  };

  const walk = (node: ValueNode, top: boolean): void => {
    if (node.kind === 'list') {
      for (const item of node.items) walk(item, false);
      return;
    }
    if (node.kind === 'expr') {
      for (const t of node.tokens) if (t.kind === 'node') walk(t.node, false);
      return;
    }
    chartOf(node);
    for (const f of node.fields) {
      if (top && f.label === 'parameter' && options.skipParameterBlocks) continue;
      if (isImageLabel(f.label)) {
        if (f.value.kind === 'struct') helmImageBlock(f.value);
        else if (f.value.kind === 'expr') {
          const segs = str(f.value);
          const ref = segs && joinSegments(segs);
          if (segs && ref && looksLikeImage(ref)) findings.images.push({ ref, segments: segs, file });
        }
      }
      if (f.label === 'urls' && f.value.kind === 'list') {
        for (const item of f.value.items) {
          const segs = str(item);
          const url = segs && joinSegments(segs);
          if (segs && url && /^https?:\/\//.test(url)) findings.urls.push({ url, segments: segs, file });
        }
      }
      walk(f.value, false);
    }
  };
  walk(cue.root, true);
}
