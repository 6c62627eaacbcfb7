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
 * How requests reach hosts with one TLS policy. Requests that send or return a body (blobs,
 * manifests, tokens, charts, files) go through undici's pool; HEAD probes go through Node's own
 * keep-alive agents.
 * A no-op re-sync is nothing but HEAD probes, and loading undici and warming its WebAssembly
 * parser costs a fresh CLI process several times what those probes take on a near registry, so
 * undici is loaded only when the first request with a body goes out.
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
        // undici parses HTTP with a WebAssembly module. V8 compiles it twice, quickly and then
        // optimised on a background thread, and a process does not exit before that second
        // compilation ends: on a busy machine that held a finished run for 50-300 ms. The first
        // compilation parses headers just as well.
        (await import('node:v8')).setFlagsFromString('--liftoff-only');
        const { Agent } = await import('./undici-core.js');
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
        tlsAgent ??= import('node:https').then((https) => new https.Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: !insecure }));
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

/** A HEAD request over Node's http client, answered in the shape undici's responses have. */
export async function probe(transport: Transport, url: URL, headers: Record<string, string> | undefined): Promise<HttpResponse> {
  const [client, agent] = await Promise.all([url.protocol === 'https:' ? import('node:https') : http, transport.agent(url.protocol)]);
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'HEAD', headers, agent }, (res) => {
      const distinct: HttpResponse['headers'] = {};
      for (const [name, values] of Object.entries(res.headersDistinct)) distinct[name] = values && values.length === 1 ? values[0] : values;
      resolve({
        statusCode: res.statusCode ?? 0,
        headers: distinct,
        body: Object.assign(res, {
          dump: () => {
            res.resume();
            return finished(res).catch(() => undefined);
          },
        }),
      });
    });
    req.setTimeout(HEADERS_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no response within ${HEADERS_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}
