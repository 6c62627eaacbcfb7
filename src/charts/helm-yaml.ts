import { isMap, isScalar, type Document, type Node } from 'yaml';
import type { GoYamlDocument } from '../core/go-yaml.js';

/** Aliases one small document (an index entry, a Chart.yaml) may expand; more is an alias bomb. */
export const MAX_ALIASES = 1000;

/**
 * Fields Helm's Go structs declare as strings (chart.Metadata, repo.ChartVersion). Go's YAML
 * decoder keeps their text as written: `version: 1.10` is "1.10" to Helm, where a YAML number
 * would be 1.1, and an unquoted all-digit digest stays the digits instead of becoming a float.
 */
const HELM_STRING_FIELDS = new Set([
  'name',
  'version',
  'appVersion',
  'digest',
  'kubeVersion',
  'apiVersion',
  'type',
  'created',
  'description',
  'home',
  'icon',
  'condition',
  'tags',
]);

/** A YAML mapping as Helm decodes it into its structs; undefined when the node is not a mapping. */
export function helmObject(doc: Document, node: unknown): Record<string, unknown> | undefined {
  if (!isMap(node)) return undefined;
  const value = node.toJS(doc, { maxAliasCount: MAX_ALIASES }) as Record<string, unknown>;
  for (const pair of node.items) {
    if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
    const key = String(pair.key.value);
    const scalar = pair.value;
    if (
      HELM_STRING_FIELDS.has(key) &&
      scalar.value !== null &&
      typeof scalar.value !== 'string' &&
      typeof scalar.source === 'string'
    )
      value[key] = scalar.source;
  }
  return value;
}

/** A field's written text where Helm's struct declares a string and go-yaml resolved a plain scalar to something else. */
function writtenText(key: string, node: Node | null, value: unknown): unknown {
  if (value === null || typeof value === 'string' || !HELM_STRING_FIELDS.has(key)) return value;
  if (!isScalar(node) || node.type !== 'PLAIN' || node.tag || typeof node.source !== 'string') return value;
  return node.source;
}

/**
 * helmObject over a text read as sigs.k8s.io/yaml reads it (readGoYaml): merge keys applied,
 * YAML 1.1 scalars, and the same rule for Helm's string fields (their plain text as written),
 * merged-in fields included. Undefined when the node is not a mapping; throws where go-yaml
 * stops decoding (an alias bomb).
 */
export function helmGoObject(read: GoYamlDocument, node: unknown): Record<string, unknown> | undefined {
  const map = read.toNode(node);
  if (!isMap(map)) return undefined;
  const value = read.toValue(node as Node) as Record<string, unknown>;
  for (const e of read.entries(map)) if (e.key in value) value[e.key] = writtenText(e.key, e.value, value[e.key]);
  return value;
}

/** One field of a mapping read by readGoYaml, with helmGoObject's rule for string fields. */
export function helmField(read: GoYamlDocument, key: string, node: Node | null): unknown {
  return writtenText(key, node, read.toValue(node));
}
