import { isMap, isScalar, isSeq, parseAllDocuments, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import type { Segment } from './cue-eval.js';
import { isImageLabel, looksLikeImage, type FileFindings, type ValueSpan, type ValueStyle } from './findings.js';

function styleOf(s: Scalar): ValueStyle {
  if (s.type === 'QUOTE_DOUBLE') return 'yaml-double';
  if (s.type === 'QUOTE_SINGLE') return 'yaml-single';
  return 'yaml-plain';
}

/** A string scalar as a segment; editable only when its source text is the value itself (no escapes, no folding). */
function scalarSegment(s: Scalar, file: string, src: string): Segment | undefined {
  if (typeof s.value !== 'string' && typeof s.value !== 'number') return undefined;
  const [start, end] = s.range ?? [0, 0];
  const style = styleOf(s);
  // A plain number keeps its written form: `tag: 1.10` is the tag "1.10", not 1.1.
  const text = typeof s.value === 'number' && style === 'yaml-plain' ? src.slice(start, end) : String(s.value);
  if (style === 'yaml-plain' && src.slice(start, end) === text) return { text, span: { file, start, end } };
  if (style !== 'yaml-plain' && src.slice(start + 1, end - 1) === text) return { text, span: { file, start: start + 1, end: end - 1 } };
  return { text };
}

function valueSpan(s: Scalar, file: string): ValueSpan | undefined {
  if (!s.range) return undefined;
  return { file, start: s.range[0], end: s.range[1], style: styleOf(s) };
}

function get(map: YAMLMap, key: string): Node | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return (pair?.value ?? undefined) as Node | undefined;
}

function getString(map: YAMLMap, key: string, src: string): string | undefined {
  const v = get(map, key);
  return isScalar(v) ? scalarSegment(v, '', src)?.text : undefined;
}

const HELM_TEMPLATE_IMAGE = /^([ \t]*-?[ \t]*image:[ \t]*"?)([^"\s{]+)/gm;

/** Images, helm charts, remote URLs and Crossplane packages in a YAML file of an addon (every document). */
const CRD_DOC = /^kind:\s*["']?CustomResourceDefinition["']?\s*$/m;
const RELEVANT = /image|ImagePullSpec|helm|urls|pkg\.crossplane\.io/;

export function scanYamlFile(file: string, src: string, findings: FileFindings): { fallback: boolean } {
  // Most YAML bytes in a catalog are CRDs (their schemas mention image: but hold none): skip
  // files that are only CRDs, or that name nothing discovery looks for, without parsing them.
  if (!RELEVANT.test(src)) return { fallback: false };
  if (src.split(/^---[ \t]*$/m).every((doc) => !doc.trim() || CRD_DOC.test(doc))) return { fallback: false };
  const docs = parseAllDocuments(src);
  const broken = docs.some((d) => d.errors.length > 0);
  if (broken) {
    // Helm-template YAML (`{{ }}`) does not parse: read plain `image:` lines.
    for (const m of src.matchAll(HELM_TEMPLATE_IMAGE)) {
      const start = m.index + m[1]!.length;
      const text = m[2]!;
      if (looksLikeImage(text)) findings.images.push({ ref: text, segments: [{ text, span: { file, start, end: start + text.length } }], file });
    }
    return { fallback: true };
  }
  for (const doc of docs) {
    const root = doc.contents;
    if (!isMap(root)) continue;
    if (getString(root, 'kind', src) === 'CustomResourceDefinition') continue;
    if ((getString(root, 'apiVersion', src) ?? '').startsWith('pkg.crossplane.io/')) {
      const spec = get(root, 'spec');
      const pkg = isMap(spec) ? get(spec, 'package') : undefined;
      if (isScalar(pkg)) {
        const seg = scalarSegment(pkg, file, src);
        if (seg && looksLikeImage(seg.text)) findings.images.push({ ref: seg.text, segments: [seg], file });
      }
    }
    walk(root, file, src, findings);
  }
  return { fallback: false };
}

/** `uxPlugins: {name: URL}` in metadata.yaml: tarballs VelaUX fetches at run time. */
export function scanUxPlugins(file: string, src: string, findings: FileFindings): void {
  const doc = parseAllDocuments(src)[0];
  const root = doc && doc.errors.length === 0 ? doc.contents : undefined;
  if (!isMap(root)) return;
  const ux = get(root, 'uxPlugins');
  if (!isMap(ux)) return;
  for (const pair of ux.items) {
    if (!isScalar(pair.value)) continue;
    const seg = scalarSegment(pair.value, file, src);
    if (seg && /^https?:\/\//.test(seg.text)) findings.urls.push({ url: seg.text, segments: [seg], file });
  }
}

function imageMap(map: YAMLMap, file: string, src: string, findings: FileFindings): void {
  const repo = get(map, 'repository');
  if (!isScalar(repo)) return;
  const repoSeg = scalarSegment(repo, file, src);
  if (!repoSeg) return;
  const reg = get(map, 'registry');
  const regSeg = isScalar(reg) ? scalarSegment(reg, file, src) : undefined;
  const tag = get(map, 'tag');
  const tagSeg = isScalar(tag) ? scalarSegment(tag, file, src) : undefined;
  const name: Segment[] = regSeg?.text ? [regSeg, { text: '/' }, repoSeg] : [repoSeg];
  const nameText = name.map((s) => s.text).join('');
  if (!tagSeg?.text) {
    if (looksLikeImage(nameText)) findings.untagged.push(nameText);
    return;
  }
  const segments = [...name, { text: ':' }, tagSeg];
  const ref = segments.map((s) => s.text).join('');
  if (looksLikeImage(ref)) findings.images.push({ ref, segments, file });
}

function chartMap(map: YAMLMap, file: string, src: string, findings: FileFindings): void {
  if (getString(map, 'type', src) !== 'helm') return;
  const props = get(map, 'properties');
  if (!isMap(props)) return;
  const urlNode = get(props, 'url');
  const chart = getString(props, 'chart', src);
  if (!isScalar(urlNode) || !chart) return;
  const repoTypeNode = get(props, 'repoType');
  const urlPair = props.items.find((p: Pair) => isScalar(p.key) && p.key.value === 'url')!;
  const keyStart = (urlPair.key as Scalar).range?.[0] ?? 0;
  const lineStart = src.lastIndexOf('\n', keyStart - 1) + 1;
  findings.charts.push({
    repoType: getString(props, 'repoType', src) ?? 'helm',
    url: String(urlNode.value),
    chart,
    version: getString(props, 'version', src),
    file,
    urlSpan: valueSpan(urlNode, file),
    urlSegments: [scalarSegment(urlNode, file, src) ?? { text: String(urlNode.value) }],
    repoTypeSpan: isScalar(repoTypeNode) ? valueSpan(repoTypeNode, file) : undefined,
    insertBefore: { file, offset: keyStart, indent: src.slice(lineStart, keyStart), style: 'yaml-plain' },
  });
}

function walk(node: unknown, file: string, src: string, findings: FileFindings): void {
  if (isSeq(node)) {
    for (const item of node.items) walk(item, file, src, findings);
    return;
  }
  if (!isMap(node)) return;
  chartMap(node, file, src, findings);
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    const value = pair.value;
    if (key && isImageLabel(key)) {
      if (isScalar(value)) {
        const seg = scalarSegment(value, file, src);
        if (seg && looksLikeImage(seg.text)) findings.images.push({ ref: seg.text, segments: [seg], file });
      } else if (isMap(value)) imageMap(value, file, src, findings);
    }
    if (key === 'urls' && isSeq(value)) {
      for (const item of value.items) {
        if (!isScalar(item)) continue;
        const seg = scalarSegment(item, file, src);
        if (seg && /^https?:\/\//.test(seg.text)) findings.urls.push({ url: seg.text, segments: [seg], file });
      }
    }
    walk(value, file, src, findings);
  }
}
