import http from 'node:http';
import { freePort } from './ports.js';

/**
 * A recording, fault-injecting reverse proxy on loopback in front of a real registry. It keeps the
 * client's Host header, so the registry's upload Locations point back through the proxy.
 */
export interface ProxyRequest {
  method: string;
  path: string;
  status: number;
  requestBytes: number;
  responseBytes: number;
  authorization: boolean;
  startedAt: number;
  endedAt?: number;
}

export type ProxyAction =
  | { type: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { type: 'cutRequest'; afterBytes: number }
  | { type: 'cutResponse'; afterBytes: number }
  | { type: 'headers'; headers: Record<string, string> }
  /** The upstream's response headers, changed by a function (an upload Location sent elsewhere). */
  | { type: 'rewriteHeaders'; rewrite: (headers: http.IncomingHttpHeaders) => http.IncomingHttpHeaders }
  | { type: 'redirect'; location: (path: string) => string }
  | { type: 'throttle'; bytesPerSecond: number }
  /** The connection is dropped before any answer, as when the upstream process is gone. */
  | { type: 'reset' }
  /** The upstream gets the whole request and answers; the connection drops before the answer reaches the client. */
  | { type: 'dropResponse' };

export interface ProxyRule {
  match: (method: string, path: string) => boolean;
  action: ProxyAction;
  /** Apply at most this many times (default: always). */
  times?: number;
  /** Apply only until this time (epoch ms), e.g. an upstream that rate limits for a while. */
  until?: number;
}

/**
 * A 429 as upstreams send it: `Retry-After` (seconds or an HTTP date) and, when given, the
 * RateLimit headers (`remaining` may be Docker Hub style, `0;w=21600`).
 */
export function tooManyRequests(
  retryAfter?: string,
  rateLimit: { limit?: string; remaining?: string; reset?: string } = {},
): ProxyAction {
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  if (rateLimit.limit !== undefined) headers['ratelimit-limit'] = rateLimit.limit;
  if (rateLimit.remaining !== undefined) headers['ratelimit-remaining'] = rateLimit.remaining;
  if (rateLimit.reset !== undefined) headers['ratelimit-reset'] = rateLimit.reset;
  return {
    type: 'status',
    status: 429,
    headers,
    body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded"}]}',
  };
}

/** The most requests of `entries` that were open at one moment (from their start and end times). */
export function peakInFlight(entries: ProxyRequest[]): number {
  const edges = entries.flatMap((e) => [
    { at: e.startedAt, d: 1 },
    { at: e.endedAt ?? Number.MAX_SAFE_INTEGER, d: -1 },
  ]);
  // Ends before starts at the same millisecond: back-to-back requests are not concurrent.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let open = 0;
  let peak = 0;
  for (const e of edges) {
    open += e.d;
    peak = Math.max(peak, open);
  }
  return peak;
}

export interface TestProxy {
  host: string;
  url: string;
  log: ProxyRequest[];
  rules: ProxyRule[];
  count(method: string, pathPattern: RegExp): number;
  reset(): void;
  /** Drops every open connection (transfers in flight die); the proxy keeps listening. */
  dropConnections(): void;
  stop(): Promise<void>;
}

export async function startProxy(upstreamUrl: string): Promise<TestProxy> {
  const upstream = new URL(upstreamUrl);
  const port = await freePort();
  const log: ProxyRequest[] = [];
  const rules: ProxyRule[] = [];

  function pickRule(method: string, path: string): ProxyAction | undefined {
    for (const r of rules) {
      if (r.times !== undefined && r.times <= 0) continue;
      if (r.until !== undefined && Date.now() >= r.until) continue;
      if (!r.match(method, path)) continue;
      if (r.times !== undefined) r.times -= 1;
      return r.action;
    }
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const entry: ProxyRequest = {
      method,
      path,
      status: 0,
      requestBytes: 0,
      responseBytes: 0,
      authorization: !!req.headers.authorization,
      startedAt: Date.now(),
    };
    res.on('close', () => {
      entry.endedAt = Date.now();
    });
    log.push(entry);
    const action = pickRule(method, path);
    if (action?.type === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action?.type === 'status') {
      req.resume();
      entry.status = action.status;
      res.writeHead(action.status, action.headers ?? {}).end(action.body ?? '');
      return;
    }
    if (action?.type === 'redirect') {
      req.resume();
      entry.status = 307;
      res.writeHead(307, { location: action.location(path) }).end();
      return;
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method, path, headers: req.headers, agent: false },
      (up) => {
        entry.status = up.statusCode ?? 0;
        if (action?.type === 'dropResponse') {
          up.resume();
          res.destroy();
          return;
        }
        const given = { ...up.headers, ...(action?.type === 'headers' ? action.headers : {}) };
        const headers = action?.type === 'rewriteHeaders' ? action.rewrite(given) : given;
        res.writeHead(up.statusCode ?? 502, headers);
        up.on('data', (chunk: Buffer) => {
          entry.responseBytes += chunk.length;
          if (action?.type === 'throttle') {
            up.pause();
            setTimeout(() => up.resume(), (chunk.length / action.bytesPerSecond) * 1000);
          }
          if (action?.type === 'cutResponse' && entry.responseBytes > action.afterBytes) {
            up.destroy();
            res.destroy();
            return;
          }
          res.write(chunk);
        });
        up.on('end', () => res.end());
        up.on('error', () => res.destroy());
      },
    );
    out.on('error', () => res.destroy());
    // A dropped client connection ends the upstream request too.
    res.on('close', () => out.destroy());
    req.on('data', (chunk: Buffer) => {
      entry.requestBytes += chunk.length;
      if (action?.type === 'cutRequest' && entry.requestBytes > action.afterBytes) {
        out.destroy();
        req.destroy();
        res.destroy();
        return;
      }
      out.write(chunk);
    });
    req.on('end', () => out.end());
    req.on('error', () => out.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    log,
    rules,
    count: (method, pattern) => log.filter((e) => e.method === method && pattern.test(e.path)).length,
    reset: () => {
      log.length = 0;
    },
    dropConnections: () => server.closeAllConnections(),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
