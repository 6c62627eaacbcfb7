/** google.protobuf.Struct / Value / ListValue as proto-loader objects (oneof `kind`), to and from plain JSON. */
export type ProtoValue =
  | { nullValue: 'NULL_VALUE'; kind?: 'nullValue' }
  | { numberValue: number; kind?: 'numberValue' }
  | { stringValue: string; kind?: 'stringValue' }
  | { boolValue: boolean; kind?: 'boolValue' }
  | { structValue: ProtoStruct; kind?: 'structValue' }
  | { listValue: ProtoListValue; kind?: 'listValue' };
export interface ProtoStruct {
  fields: Record<string, ProtoValue>;
}
export interface ProtoListValue {
  values: ProtoValue[];
}

function toValue(v: unknown): ProtoValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: toListValue(v) };
  if (typeof v === 'object') return { structValue: toStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

export function toStruct(o: Record<string, unknown>): ProtoStruct {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

export function toListValue(a: unknown[]): ProtoListValue {
  return { values: a.map(toValue) };
}

function fromValue(v: ProtoValue | undefined): unknown {
  if (!v) return null;
  const o = v as Record<string, unknown>;
  const kind = (o.kind as string | undefined) ?? Object.keys(o).find((k) => k !== 'kind');
  switch (kind) {
    case 'numberValue':
      return o.numberValue;
    case 'stringValue':
      return o.stringValue;
    case 'boolValue':
      return o.boolValue;
    case 'structValue':
      return fromStruct(o.structValue as ProtoStruct);
    case 'listValue':
      return fromListValue(o.listValue as ProtoListValue);
    default:
      return null;
  }
}

export function fromStruct(s: ProtoStruct | undefined | null): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, fromValue(v)]));
}

export function fromListValue(l: ProtoListValue | undefined | null): unknown[] {
  return (l?.values ?? []).map(fromValue);
}
