import http from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Dispatcher } from 'undici';

/** A response as the client reads it: status, lower-case headers (arrays only when repeated), a body stream. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void> };
}

/**
 * How requests reach hosts with one TLS policy. Requests that send a body (uploads, manifest and
 * chart pushes) go through undici's pool; everything else (HEAD probes, token, manifest and blob
 * GETs) through Node's own keep-alive agents. A no-op re-sync sends no body, and loading undici
 * and warming its WebAssembly parser costs a fresh CLI process several times what its requests
 * take on a near registry, so undici is loaded only when the first body goes out.
 */
export interface Transport {
  pool(): Promise<Dispatcher>;
  /** Node's keep-alive agent for `http:` or `https:` (TLS is loaded only for the latter). */
  agent(protocol: string): Promise<http.Agent>;
  close(): Promise<void>;
}

export interface TransportOptions {
  insecure?: boolean;
  /** Connections per origin. */
  connections?: number;
}

const HEADERS_TIMEOUT_MS = 60_000;
// Large blob bodies may pause while the other side is busy; only a dead connection should fail.
const BODY_TIMEOUT_MS = 300_000;

export function createTransport(options: TransportOptions = {}): Transport {
  const connections = options.connections ?? 32;
  const insecure = options.insecure ?? false;
  let pool: Promise<Dispatcher> | undefined;
  let plainAgent: Promise<http.Agent> | undefined;
  let tlsAgent: Promise<http.Agent> | undefined;
  return {
    pool() {
      pool ??= (async () => {
        const { Agent } = await import('./undici-core.js');
        // undici parses HTTP with a WebAssembly module, compiled with its first connection. V8
        // compiles it twice, quickly and then optimised on a background thread, and a process
        // does not exit before that second compilation ends: on a busy machine that held a
        // finished run for 50-300 ms. The first compilation parses headers just as well. The CLI
        // launcher takes its code caches first: V8 refuses a cache made under other flags.
        const beforeV8Flags = (globalThis as { [key: symbol]: unknown })[
          Symbol.for('airlock.compileCache.beforeV8Flags')
        ];
        if (typeof beforeV8Flags === 'function') beforeV8Flags();
        (await import('node:v8')).setFlagsFromString('--liftoff-only');
        return new Agent({
          connections,
          keepAliveTimeout: 30_000,
          headersTimeout: HEADERS_TIMEOUT_MS,
          bodyTimeout: BODY_TIMEOUT_MS,
          connect: insecure ? { rejectUnauthorized: false } : {},
        });
      })();
      return pool;
    },
    agent(protocol) {
      if (protocol === 'https:') {
        tlsAgent ??= import('node:https').then(
          (https) => new https.Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: !insecure }),
        );
        return tlsAgent;
      }
      plainAgent ??= Promise.resolve(new http.Agent({ keepAlive: true, maxSockets: connections }));
      return plainAgent;
    },
    async close() {
      for (const agent of await Promise.all([plainAgent, tlsAgent])) agent?.destroy();
      if (pool) await (await pool).close();
    },
  };
}

// A response body being discarded is read to its end (the connection goes back to the pool) unless
// it is larger than this, declared or counted (a chunked body may never end); then the connection
// is dropped instead.
const DUMP_LIMIT = 256 * 1024;

/** A request without a body over Node's http client, answered in the shape undici's responses have. */
export async function requestWithoutBody(
  transport: Transport,
  method: string,
  url: URL,
  headers: Record<string, string> | undefined,
  signal?: AbortSignal,
): Promise<HttpResponse> {
  const [client, agent] = await Promise.all([
    url.protocol === 'https:' ? import('node:https') : http,
    transport.agent(url.protocol),
  ]);
  return new Promise((resolve, reject) => {
    let waiting = 'no response';
    let limit = HEADERS_TIMEOUT_MS;
    const req = client.request(url, { method, headers, agent, ...(signal ? { signal } : {}) }, (res) => {
      // From here on the socket may only go quiet for as long as a busy peer's body may pause.
      waiting = 'the body stalled';
      limit = BODY_TIMEOUT_MS;
      req.setTimeout(limit);
      const distinct: HttpResponse['headers'] = {};
      for (const [name, values] of Object.entries(res.headersDistinct))
        distinct[name] = values && values.length === 1 ? values[0] : values;
      resolve({
        statusCode: res.statusCode ?? 0,
        headers: distinct,
        body: Object.assign(res, {
          dump: () => {
            if (Number(res.headers['content-length'] ?? 0) > DUMP_LIMIT) {
              res.destroy();
              return Promise.resolve();
            }
            let read = 0;
            res.on('data', (chunk: Buffer) => {
              read += chunk.length;
              if (read > DUMP_LIMIT) res.destroy();
            });
            res.resume();
            return finished(res).then(
              () => undefined,
              () => undefined,
            );
          },
        }),
      });
    });
    req.setTimeout(limit);
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`${waiting} within ${limit / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end();
  });
}
