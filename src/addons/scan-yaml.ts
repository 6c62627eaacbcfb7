import { isMap, isScalar, isSeq, type Scalar, type YAMLMap } from 'yaml';
import { readGoYaml, type GoYamlDocument } from '../core/go-yaml.js';
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
  if (style !== 'yaml-plain' && src.slice(start + 1, end - 1) === text)
    return { text, span: { file, start: start + 1, end: end - 1 } };
  return { text };
}

function valueSpan(s: Scalar, file: string): ValueSpan | undefined {
  if (!s.range) return undefined;
  return { file, start: s.range[0], end: s.range[1], style: styleOf(s) };
}

const HELM_TEMPLATE_IMAGE = /^([ \t]*-?[ \t]*image:[ \t]*"?)([^"\s{]+)/gm;

const CRD_DOC = /^kind:\s*["']?CustomResourceDefinition["']?\s*$/m;
const RELEVANT = /image|ImagePullSpec|helm|urls|pkg\.crossplane\.io/;

/** What reading one YAML file gave besides findings: a fallback to `image:` lines, and KubeVela's choices. */
export interface YamlScanResult {
  /** The file is not YAML KubeVela reads (a Helm template, a tab it refuses): images were read from `image:` lines. */
  fallback?: string;
  /** Repeated keys and merges resolved as KubeVela does, each once. */
  notes: string[];
}

/**
 * Images, helm charts, remote URLs and Crossplane packages in a YAML file of an addon. Read as
 * KubeVela renders it (pkg/addon/addon.go renderObject / readTemplate: apimachinery's YAML
 * decoding serializer, i.e. sigs.k8s.io/yaml `YAMLToJSON`, JSON as it is): the first document
 * only, the last of repeated keys, merge keys, aliases followed.
 */
export function scanYamlFile(file: string, src: string, findings: FileFindings): YamlScanResult {
  // Most YAML bytes in a catalog are CRDs (their schemas mention image: but hold none): skip
  // a file whose document is a CRD, or that names nothing discovery looks for, without parsing it.
  if (!RELEVANT.test(src)) return { notes: [] };
  // The first document: what precedes a leading `---` is only comments and directives.
  const chunks = src.split(/^---(?=[ \t\r\n]|$)/m);
  const first = chunks.length > 1 && /^(\s*([#%][^\n]*)?\n)*\s*$/.test(chunks[0]!) ? chunks[1]! : chunks[0]!;
  if (CRD_DOC.test(first)) return { notes: [] };
  const doc = readGoYaml(src, { jsonPrefix: true });
  if (doc.error) {
    // Helm-template YAML (`{{ }}`) does not parse: read plain `image:` lines.
    for (const m of src.matchAll(HELM_TEMPLATE_IMAGE)) {
      const start = m.index + m[1]!.length;
      const text = m[2]!;
      if (looksLikeImage(text))
        findings.images.push({
          ref: text,
          segments: [{ text, span: { file, start, end: start + text.length } }],
          file,
        });
    }
    return { fallback: doc.error, notes: [] };
  }
  const root = doc.root;
  if (!isMap(root)) return { notes: doc.notes };
  if (getString(doc, root, 'kind', src) === 'CustomResourceDefinition') return { notes: doc.notes };
  if ((getString(doc, root, 'apiVersion', src) ?? '').startsWith('pkg.crossplane.io/')) {
    const spec = doc.get(root, 'spec');
    const pkg = isMap(spec) ? doc.get(spec, 'package') : undefined;
    if (isScalar(pkg)) {
      const seg = scalarSegment(pkg, file, src);
      if (seg && looksLikeImage(seg.text)) findings.images.push({ ref: seg.text, segments: [seg], file });
    }
  }
  walk(doc, root, file, src, findings, new Set());
  return { notes: doc.notes };
}

function getString(doc: GoYamlDocument, map: YAMLMap, key: string, src: string): string | undefined {
  const v = doc.get(map, key);
  return isScalar(v) ? scalarSegment(v, '', src)?.text : undefined;
}

/** `uxPlugins: {name: URL}` in metadata.yaml: tarballs VelaUX fetches at run time. */
export function scanUxPlugins(file: string, src: string, findings: FileFindings): void {
  const doc = readGoYaml(src);
  const root = doc.root;
  if (!isMap(root)) return;
  const ux = doc.get(root, 'uxPlugins');
  if (!isMap(ux)) return;
  for (const { value } of doc.entries(ux)) {
    if (!isScalar(value)) continue;
    const seg = scalarSegment(value, file, src);
    if (seg && /^https?:\/\//.test(seg.text)) findings.urls.push({ url: seg.text, segments: [seg], file });
  }
}

function imageMap(doc: GoYamlDocument, map: YAMLMap, file: string, src: string, findings: FileFindings): void {
  const get = (k: string) => doc.get(map, k);
  const repo = get('repository');
  if (!isScalar(repo)) return;
  const repoSeg = scalarSegment(repo, file, src);
  if (!repoSeg) return;
  const reg = get('registry');
  const regSeg = isScalar(reg) ? scalarSegment(reg, file, src) : undefined;
  const tag = get('tag');
  const tagSeg = isScalar(tag) ? scalarSegment(tag, file, src) : undefined;
  const name: Segment[] = regSeg?.text ? [regSeg, { text: '/' }, repoSeg] : [repoSeg];
  const nameText = name.map((s) => s.text).join('');
  if (!tagSeg?.text) {
    if (looksLikeImage(nameText)) findings.untagged.push(nameText);
    return;
  }
  const segments = [...name, { text: ':' }, tagSeg];
  const ref = segments.map((s) => s.text).join('');
  if (looksLikeImage(ref))
    findings.images.push({
      ref,
      segments,
      file,
      parts: { ...(regSeg?.text ? { registry: [regSeg] } : {}), repository: [repoSeg] },
    });
}

function chartMap(doc: GoYamlDocument, map: YAMLMap, file: string, src: string, findings: FileFindings): void {
  if (getString(doc, map, 'type', src) !== 'helm') return;
  const props = doc.get(map, 'properties');
  if (!isMap(props)) return;
  const urlEntry = doc.entries(props).find((e) => e.key === 'url');
  const urlNode = urlEntry?.value;
  const chart = getString(doc, props, 'chart', src);
  if (!isScalar(urlNode) || !chart) return;
  const repoTypeNode = doc.get(props, 'repoType');
  const keyStart = (urlEntry!.keyNode as Scalar).range?.[0] ?? 0;
  const lineStart = src.lastIndexOf('\n', keyStart - 1) + 1;
  findings.charts.push({
    repoType: getString(doc, props, 'repoType', src) ?? 'helm',
    url: String(urlNode.value),
    chart,
    version: getString(doc, props, 'version', src),
    file,
    urlSpan: valueSpan(urlNode, file),
    urlSegments: [scalarSegment(urlNode, file, src) ?? { text: String(urlNode.value) }],
    repoTypeSpan: isScalar(repoTypeNode) ? valueSpan(repoTypeNode, file) : undefined,
    insertBefore: { file, offset: keyStart, indent: src.slice(lineStart, keyStart), style: 'yaml-plain' },
  });
}

function walk(
  doc: GoYamlDocument,
  node: unknown,
  file: string,
  src: string,
  findings: FileFindings,
  seen: Set<unknown>,
): void {
  // An anchored node reached again through an alias holds the same findings at the same place.
  if (seen.has(node)) return;
  seen.add(node);
  if (isSeq(node)) {
    for (const item of node.items) walk(doc, doc.toNode(item), file, src, findings, seen);
    return;
  }
  if (!isMap(node)) return;
  chartMap(doc, node, file, src, findings);
  for (const { key, value } of doc.entries(node)) {
    if (isImageLabel(key)) {
      if (isScalar(value)) {
        const seg = scalarSegment(value, file, src);
        if (seg && looksLikeImage(seg.text)) findings.images.push({ ref: seg.text, segments: [seg], file });
      } else if (isMap(value)) imageMap(doc, value, file, src, findings);
    }
    if (key === 'urls' && isSeq(value)) {
      for (const raw of value.items) {
        const item = doc.toNode(raw);
        if (!isScalar(item)) continue;
        const seg = scalarSegment(item, file, src);
        if (seg && /^https?:\/\//.test(seg.text)) findings.urls.push({ url: seg.text, segments: [seg], file });
      }
    }
    walk(doc, value, file, src, findings, seen);
  }
}
