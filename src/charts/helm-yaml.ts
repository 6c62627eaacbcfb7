import { isMap, isScalar, type Document } from 'yaml';

/** Aliases one small document (an index entry, a Chart.yaml) may expand; more is an alias bomb. */
export const MAX_ALIASES = 1000;

/**
 * Fields Helm's Go structs declare as strings (chart.Metadata, repo.ChartVersion). Go's YAML
 * decoder keeps their text as written: `version: 1.10` is "1.10" to Helm, where a YAML number
 * would be 1.1, and an unquoted all-digit digest stays the digits instead of becoming a float.
 */
const HELM_STRING_FIELDS = new Set(['name', 'version', 'appVersion', 'digest', 'kubeVersion', 'apiVersion', 'type', 'created', 'description', 'home', 'icon', 'condition', 'tags']);

/** A YAML mapping as Helm decodes it into its structs; undefined when the node is not a mapping. */
export function helmObject(doc: Document, node: unknown): Record<string, unknown> | undefined {
  if (!isMap(node)) return undefined;
  const value = node.toJS(doc, { maxAliasCount: MAX_ALIASES }) as Record<string, unknown>;
  for (const pair of node.items) {
    if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
    const key = String(pair.key.value);
    const scalar = pair.value;
    if (HELM_STRING_FIELDS.has(key) && scalar.value !== null && typeof scalar.value !== 'string' && typeof scalar.source === 'string') value[key] = scalar.source;
  }
  return value;
}
