/**
 * Protocol Buffers wire format by hand (protobuf.dev/programming-guides/encoding): a key is the
 * varint `field number << 3 | wire type`; wire type 0 varint, 1 64-bit, 2 length-delimited, 5
 * 32-bit. Used to build the bytes a real server sends and to read the bytes a client sends
 * without any schema or protobuf library, so a test built on it shares nothing with either.
 */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;

export function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // negative int32/int64: ten bytes, two's complement
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

export function key(field: number, wireType: number): Buffer {
  return varint((field << 3) | wireType);
}

/** A varint field: int32, uint32, bool, enum. */
export function vint(field: number, n: number | boolean): Buffer {
  return Buffer.concat([key(field, VARINT), varint(typeof n === 'boolean' ? (n ? 1 : 0) : n)]);
}

/** A length-delimited field: string, bytes, an embedded message (already encoded), a map entry. */
export function len(field: number, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([key(field, LEN), varint(b.length), b]);
}

/** A double field (wire type 1, little-endian IEEE 754). */
export function dbl(field: number, x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Buffer.concat([key(field, I64), b]);
}

export const msg = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

// google.protobuf.Struct (fields = 1, map<string, Value>: entries {key = 1, value = 2}),
// Value (null 1, number 2, string 3, bool 4, struct 5, list 6), ListValue (values = 1).
export function structValue(v: unknown): Buffer {
  if (v === null) return vint(1, 0);
  if (typeof v === 'number') return dbl(2, v);
  if (typeof v === 'string') return len(3, v);
  if (typeof v === 'boolean') return vint(4, v);
  if (Array.isArray(v)) return len(6, listValue(v));
  return len(5, struct(v as Record<string, unknown>));
}
export function struct(o: Record<string, unknown>): Buffer {
  return msg(...Object.entries(o).map(([k, v]) => len(1, msg(len(1, k), len(2, structValue(v))))));
}
export function listValue(a: unknown[]): Buffer {
  return msg(...a.map((v) => len(1, structValue(v))));
}

export interface WireField {
  field: number;
  wireType: number;
  /** Varints as bigint, 64-bit fields as the 8 bytes, length-delimited as the bytes. */
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [result, pos];
    shift += 7n;
    if (shift > 63n) throw new Error('varint longer than 10 bytes');
  }
}

/** Every field of one message, in wire order (no schema: embedded messages stay bytes). */
export function readFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [k, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(k >> 3n);
    const wireType = Number(k & 7n);
    if (wireType === VARINT) {
      const [v, q] = readVarint(buf, pos);
      out.push({ field, wireType, value: v });
      pos = q;
    } else if (wireType === I64 || wireType === 5) {
      const n = wireType === I64 ? 8 : 4;
      out.push({ field, wireType, value: buf.subarray(pos, pos + n) });
      pos += n;
    } else if (wireType === LEN) {
      const [l, q] = readVarint(buf, pos);
      const end = q + Number(l);
      if (end > buf.length) throw new Error(`field ${field}: length ${l} past the end`);
      out.push({ field, wireType, value: buf.subarray(q, end) });
      pos = end;
    } else throw new Error(`field ${field}: wire type ${wireType} not used by these messages`);
  }
  return out;
}

/** `field → [wire type, value as text]` for a flat message: strings decoded, varints as numbers. */
export function fieldMap(buf: Buffer): Map<number, Array<{ wireType: number; value: bigint | Buffer }>> {
  const m = new Map<number, Array<{ wireType: number; value: bigint | Buffer }>>();
  for (const f of readFields(buf))
    m.set(f.field, [...(m.get(f.field) ?? []), { wireType: f.wireType, value: f.value }]);
  return m;
}
