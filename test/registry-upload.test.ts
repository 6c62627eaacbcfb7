import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../src/core/errors.js';
import type { Descriptor } from '../src/oci/manifest.js';
import { testEngine } from './support/engine.js';
import { digest, getBlob, MT } from './support/images.js';
import { startProxy, type ProxyRule, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

/**
 * The blob upload protocol (src/oci/registry/upload.ts) as one table: what the client is asked to
 * upload, what goes wrong on the way, the requests the real registry (distribution, behind a
 * recording and fault-injecting proxy) saw, and that the blob then reads back byte for byte.
 *
 * A request is written `METHOD path status`, the path as one of
 *   `uploads/`        POST /v2/<name>/blobs/uploads/ (open a session)
 *   `uploads/?mount`  POST /v2/<name>/blobs/uploads/?mount=…&from=…
 *   `session`         the session's Location (PATCH a chunk, GET its status, DELETE it)
 *   `session?digest`  PUT <location>?digest=… (monolithic body, or the empty PUT that commits chunks)
 * and status `*` where the registry's answer to a request the client aborted is a race.
 */

const MiB = 1024 * 1024;
// The client's smallest chunk is 5 MiB (src/oci/registry/upload.ts MIN_CHUNK): 11 MiB is three chunks, 5 + 5 + 1.
const BIG = 11 * MiB;
const CHUNK = 5 * MiB;

interface Row {
  name: string;
  size: number;
  /** `registries[].chunkSize` of the target (0: monolithic first). */
  chunkSize: number;
  /** What the proxy does to requests (the nth PATCH of this upload, …). */
  faults?: ProxyRule[];
  /** The source stream breaks after this many bytes, once. */
  sourceBreaksAt?: number;
  /** The descriptor names other bytes than the source gives. */
  wrongDigest?: boolean;
  /** The descriptor declares fewer bytes than the source gives (its digest is of that prefix). */
  declaredSize?: number;
  /** A mount from a repository without the blob comes first; its 202 session is used. */
  mountFirst?: boolean;
  saw: string[];
  /** Request body bytes that crossed the proxy for this blob (what was sent twice shows here). */
  bodyBytes?: number;
  /** Offsets the source was opened at. */
  opens?: number[];
  /** The error code the upload fails with (the blob must then be absent). */
  refused?: string;
}

const isPatch = (method: string) => method === 'PATCH';
/** A rule for the nth request the predicate matches (counting from 1). */
function nth(n: number, match: (method: string, path: string) => boolean, action: ProxyRule['action']): ProxyRule {
  let seen = 0;
  return { match: (method, path) => match(method, path) && ++seen === n, times: 1, action };
}

const chunks3 = ['PATCH session 202', 'PATCH session 202', 'PATCH session 202'];

const rows: Row[] = [
  {
    name: 'small blob, no chunk size: one streamed PUT',
    size: 256 * 1024,
    chunkSize: 0,
    saw: ['POST uploads/ 202', 'PUT session?digest 201'],
    bodyBytes: 256 * 1024,
  },
  {
    name: 'chunkSize set: PATCH chunks, then the empty PUT that commits',
    size: BIG,
    chunkSize: CHUNK,
    saw: ['POST uploads/ 202', ...chunks3, 'PUT session?digest 201'],
    bodyBytes: BIG,
  },
  {
    name: 'registry asks for chunks (OCI-Chunk-Min-Length on the POST)',
    size: BIG,
    chunkSize: 0,
    faults: [
      {
        match: (m, p) => m === 'POST' && p.endsWith('/blobs/uploads/'),
        action: { type: 'headers', headers: { 'oci-chunk-min-length': String(CHUNK) } },
      },
    ],
    saw: ['POST uploads/ 202', ...chunks3, 'PUT session?digest 201'],
    bodyBytes: BIG,
  },
  {
    name: 'a PATCH answered 503 before it reached the registry: status GET, the chunk again from the reported offset',
    size: BIG,
    chunkSize: CHUNK,
    faults: [nth(2, isPatch, { type: 'status', status: 503, body: 'upstream busy' })],
    saw: [
      'POST uploads/ 202',
      'PATCH session 202',
      'PATCH session 503',
      'GET session 204',
      'PATCH session 202',
      'PATCH session 202',
      'PUT session?digest 201',
    ],
    bodyBytes: BIG,
  },
  {
    name: 'a PATCH answered 416: status GET, the chunk again from the reported offset',
    size: BIG,
    chunkSize: CHUNK,
    faults: [
      nth(2, isPatch, {
        type: 'status',
        status: 416,
        body: '{"errors":[{"code":"RANGE_INVALID","message":"invalid content range"}]}',
      }),
    ],
    saw: [
      'POST uploads/ 202',
      'PATCH session 202',
      'PATCH session 416',
      'GET session 204',
      'PATCH session 202',
      'PATCH session 202',
      'PUT session?digest 201',
    ],
    bodyBytes: BIG,
  },
  {
    name: 'a PATCH answered 404 (BLOB_UPLOAD_UNKNOWN): session lost, cancelled, the blob again in a new session',
    size: BIG,
    chunkSize: CHUNK,
    faults: [
      nth(2, isPatch, {
        type: 'status',
        status: 404,
        body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}',
      }),
    ],
    saw: [
      'POST uploads/ 202',
      'PATCH session 202',
      'PATCH session 404',
      'DELETE session 204',
      'POST uploads/ 202',
      ...chunks3,
      'PUT session?digest 201',
    ],
    bodyBytes: CHUNK + BIG,
  },
  {
    name: 'the status GET fails too: session lost, the blob again in a new session',
    size: BIG,
    chunkSize: CHUNK,
    faults: [
      nth(2, isPatch, { type: 'status', status: 503, body: 'upstream busy' }),
      nth(1, (m, p) => m === 'GET' && p.includes('/blobs/uploads/'), {
        type: 'status',
        status: 404,
        body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}',
      }),
    ],
    saw: [
      'POST uploads/ 202',
      'PATCH session 202',
      'PATCH session 503',
      'GET session 404',
      'DELETE session 204',
      'POST uploads/ 202',
      ...chunks3,
      'PUT session?digest 201',
    ],
    bodyBytes: CHUNK + BIG,
  },
  {
    // distribution 2.8 keeps the session's offset in the signed `_state` of each Location: once a
    // PATCH was stored but its answer (with the new Location) lost, the old Location is refused
    // (BLOB_UPLOAD_INVALID, 404) for the status GET and the DELETE alike, so only a new session goes on.
    name: 'a PATCH stored but its answer lost: the registry refuses the stale Location, the blob again in a new session',
    size: BIG,
    chunkSize: CHUNK,
    faults: [nth(2, isPatch, { type: 'dropResponse' })],
    saw: [
      'POST uploads/ 202',
      'PATCH session 202',
      'PATCH session 202',
      'GET session 404',
      'DELETE session 404',
      'POST uploads/ 202',
      ...chunks3,
      'PUT session?digest 201',
    ],
    bodyBytes: 2 * CHUNK + BIG,
  },
  {
    name: 'the source breaks mid-chunk: re-opened at the byte where it broke, the registry sees nothing of it',
    size: BIG,
    chunkSize: CHUNK,
    sourceBreaksAt: 3 * MiB,
    saw: ['POST uploads/ 202', ...chunks3, 'PUT session?digest 201'],
    bodyBytes: BIG,
    opens: [0, 3 * MiB],
  },
  {
    name: 'the source breaks during a monolithic PUT: session cancelled, the blob again in chunks in a new session',
    size: 3 * MiB,
    chunkSize: 0,
    sourceBreaksAt: MiB,
    saw: [
      'POST uploads/ 202',
      'PUT session?digest *',
      'DELETE session *',
      'POST uploads/ 202',
      'PATCH session 202',
      'PUT session?digest 201',
    ],
    opens: [0, 0],
  },
  {
    name: 'the monolithic PUT is cut on the wire: session cancelled, the blob again in chunks in a new session',
    size: 3 * MiB,
    chunkSize: 0,
    faults: [nth(1, (m, p) => m === 'PUT' && p.includes('digest='), { type: 'cutRequest', afterBytes: MiB })],
    saw: [
      'POST uploads/ 202',
      'PUT session?digest 0',
      'DELETE session *',
      'POST uploads/ 202',
      'PATCH session 202',
      'PUT session?digest 201',
    ],
    opens: [0, 0],
  },
  {
    name: 'a mount the registry declines with 202: its session is used, no second POST',
    size: 256 * 1024,
    chunkSize: 0,
    mountFirst: true,
    saw: ['POST uploads/?mount 202', 'PUT session?digest 201'],
    bodyBytes: 256 * 1024,
  },
  {
    // The registry has every byte the PUT declared and answers 400 DIGEST_INVALID before the source
    // has ended (it pauses before its end): the client waits for its own check instead of sending
    // the bytes again in chunks.
    name: 'monolithic, bytes of the declared length that do not match the digest: refused once, nothing committed',
    size: 3 * MiB,
    chunkSize: 0,
    wrongDigest: true,
    saw: ['POST uploads/ 202', 'PUT session?digest 400', 'DELETE session *'],
    bodyBytes: 3 * MiB,
    opens: [0],
    refused: 'E_DIGEST_MISMATCH',
  },
  {
    name: 'monolithic, a source longer than its descriptor: the PUT is aborted before it ends, nothing committed',
    size: 3 * MiB,
    declaredSize: MiB + MiB / 2,
    chunkSize: 0,
    saw: ['POST uploads/ 202', 'PUT session?digest *', 'DELETE session *'],
    refused: 'E_DIGEST_MISMATCH',
  },
  {
    name: 'chunked, bytes that do not match the digest: no committing PUT, the session cancelled',
    size: BIG,
    chunkSize: CHUNK,
    wrongDigest: true,
    saw: ['POST uploads/ 202', ...chunks3, 'DELETE session 204'],
    bodyBytes: BIG,
    refused: 'E_DIGEST_MISMATCH',
  },
];

let registry: TestRegistry;
let proxy: TestProxy;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startProxy(registry.url);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

afterEach(() => {
  proxy.rules.length = 0;
  proxy.reset();
});

/** A proxy log path as the table writes it. */
function label(path: string): string {
  if (path.includes('?mount=')) return 'uploads/?mount';
  if (path.endsWith('/blobs/uploads/')) return 'uploads/';
  if (/\/blobs\/uploads\/[^/?]+/.test(path)) return /[?&]digest=/.test(path) ? 'session?digest' : 'session';
  return path;
}

/**
 * The source: in 1 MiB pieces, as a network stream arrives; the first open breaks at `breakAt` when
 * given. Each stream waits a moment after its first piece and before it ends or breaks, so a
 * streamed PUT is on the wire (and in the proxy's log) before its body fails, as with a real
 * upstream, not by the luck of timing.
 */
function source(bytes: Buffer, breakAt?: number) {
  const opens: number[] = [];
  let broken = breakAt === undefined;
  const pause = () => new Promise((r) => setTimeout(r, 50));
  const pieces = async function* (from: number, to: number) {
    for (let at = from; at < to; at += MiB) {
      yield bytes.subarray(at, Math.min(at + MiB, to));
      if (at === from) await pause();
    }
    await pause();
  };
  const open = async (offset: number): Promise<Readable> => {
    opens.push(offset);
    if (!broken) {
      broken = true;
      const until = breakAt ?? 0;
      return Readable.from(
        (async function* () {
          yield* pieces(offset, until);
          throw new Error('upstream connection reset');
        })(),
        { objectMode: false },
      );
    }
    return Readable.from(pieces(offset, bytes.length), { objectMode: false });
  };
  return { open, opens };
}

describe('blob upload protocol against a real registry', () => {
  it.each(rows.map((r, i) => ({ ...r, i })))('$name', async (row) => {
    const repository = `upload/row-${row.i}`;
    const engine = testEngine({ config: { registries: [{ host: proxy.host, chunkSize: row.chunkSize }] } });
    const client = engine.client;
    const repo = { registry: proxy.host, repository: repository };
    const bytes = randomBytes(row.size);
    const declared = bytes.subarray(0, row.declaredSize ?? row.size);
    const desc: Descriptor = {
      mediaType: MT.ociLayer,
      size: declared.length,
      digest: row.wrongDigest ? digest(randomBytes(row.size)) : digest(declared),
    };
    const { open, opens } = source(bytes, row.sourceBreaksAt);
    proxy.rules.push(...(row.faults ?? []));

    let location: string | undefined;
    if (row.mountFirst) {
      const mount = await client.mountBlob(repo, desc.digest, 'upload/elsewhere');
      expect(mount.mounted).toBe(false);
      location = mount.mounted ? undefined : mount.location;
      expect(location).toBeDefined();
    }
    let progress = 0;
    const done = client
      .uploadBlob(repo, desc, open, { ...(location ? { location } : {}), onProgress: (n) => (progress += n) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const err = await done;

    const seen = proxy.log.filter((e) => e.path.includes(`/v2/${repository}/blobs/`));
    const saw = seen.map((e) => `${e.method} ${label(e.path)} ${e.status}`);
    expect(saw.map((s, i) => (row.saw[i]?.endsWith(' *') ? s.replace(/ \d+$/, ' *') : s))).toEqual(row.saw);
    if (row.bodyBytes !== undefined) expect(seen.reduce((n, e) => n + e.requestBytes, 0)).toBe(row.bodyBytes);
    if (row.opens) expect(opens).toEqual(row.opens);

    const stored = await getBlob(registry.url, repository, desc.digest);
    if (row.refused) {
      expect(err).toBeInstanceOf(AirlockError);
      expect(err).toMatchObject({ code: row.refused });
      expect(stored.status).toBe(404);
      expect((await getBlob(registry.url, repository, digest(bytes))).status).toBe(404);
      return;
    }
    expect(err).toBeUndefined();
    // Progress that went backwards for bytes sent again nets out at the blob's size.
    expect(progress).toBe(row.size);
    expect(stored.status).toBe(200);
    expect(stored.bytes.equals(bytes)).toBe(true);
  });
});
