import { parseRetryAfter } from './retry-after.js';
import type { FormData } from 'undici';
import { Transform, type Readable } from 'node:stream';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { redact } from '../core/secrets.js';
import { requestWithoutBody, type HttpResponse, type Transport } from './transport.js';
import type { UpstreamBudget } from './upstream-budget.js';

export type { HttpResponse };

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a request fetches or sends, for its overall deadline: registry API calls and manifests,
 * repository indexes, or blobs (layers, chart archives, files) whose time grows with their size.
 */
export type RequestKind = 'manifest' | 'index' | 'blob';

export interface HttpRequest {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable | FormData | null;
  /** Body-less or in-memory requests can be replayed on 429/5xx/network errors; streams cannot. */
  replayable?: boolean;
  /** For messages. */
  artifact?: string;
  /** Default `manifest`. */
  kind?: RequestKind;
  /**
   * Bytes a `blob` request sends (an upload): its deadline is set by them. Without it a blob's
   * deadline grows with the bytes received, so a body that trickles is cut however large it claims to be.
   */
  size?: number;
}

/** Overall deadlines, from the first byte sent to the last byte of the body read (config `timeouts:`). */
export interface Deadlines {
  manifestMs: number;
  indexMs: number;
  /** A blob's allowance before any byte counts... */
  blobMs: number;
  /** ...and what each MiB adds. */
  blobPerMiBMs: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited out in-process: the error carries it to the caller. */
  maxRetryAfterMs: number;
}

export interface HttpDeps {
  logger: Logger;
  /** From the config (`retry:`), where its defaults live. */
  retry: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** Sees every response's headers (rate-limit watching). */
  onResponse?: (url: URL, res: HttpResponse) => void;
  /** Taken before every request (retries included) and told about every response, per host. */
  budget?: UpstreamBudget;
  /** From the config (`timeouts:`), where its defaults live. */
  deadlines: Deadlines;
}

export type Send = (transport: Transport, req: HttpRequest) => Promise<HttpResponse>;

/** The process's HTTP client for hosts that are not registries (chart repositories, ChartMuseum, files). */
export interface HttpClient {
  /** One request, retried and bounded as its kind says, over the process's connection pool. */
  request(req: HttpRequest): Promise<HttpResponse>;
  limits: { fileBytes: number };
}

/** The client of one transport: callers then never carry a `send` and its transport around as a pair. */
export function httpClient(send: Send, transport: Transport, limits: { fileBytes: number }): HttpClient {
  return { request: (req) => send(transport, req), limits };
}

/** One request on the wire: without a body over Node's agents, with one through undici's pool. */
async function request(transport: Transport, url: URL, req: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
  if (req.body === undefined || req.body === null)
    return requestWithoutBody(transport, req.method, url, req.headers, signal);
  const [{ request: undiciRequest }, dispatcher] = await Promise.all([import('./undici-core.js'), transport.pool()]);
  return undiciRequest(url, { method: req.method, headers: req.headers, body: req.body ?? null, dispatcher, signal });
}

const MiB = 1024 * 1024;

/** A URL as messages show it: no credentials, no query (tokens ride there). */
export function displayUrl(url: URL): string {
  return url.protocol === 'http:' || url.protocol === 'https:'
    ? `${url.origin}${url.pathname}`
    : `${url.protocol}${url.pathname}`;
}

/**
 * Runs one attempt under its overall deadline: from the request until its body has been read to
 * the end. Past it the request is aborted, or the body destroyed with an E_UNREACHABLE error naming
 * the URL, so a server that answers a byte every few seconds holds nothing for longer than allowed.
 * A blob's deadline moves with the bytes that arrived (or is set by the size it sends), so slow but
 * steady transfers finish and trickles do not.
 */
async function requestWithDeadline(
  transport: Transport,
  url: URL,
  req: HttpRequest,
  deadlines: Deadlines,
): Promise<HttpResponse> {
  const kind = req.kind ?? 'manifest';
  const started = Date.now();
  let received = 0;
  const allowed = (): number => {
    if (kind === 'index') return deadlines.indexMs;
    if (kind === 'manifest') return deadlines.manifestMs;
    return deadlines.blobMs + (deadlines.blobPerMiBMs * Math.max(req.size ?? 0, received)) / MiB;
  };
  const controller = new AbortController();
  let body: HttpResponse['body'] | undefined;
  let expired: AirlockError | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const left = started + allowed() - Date.now();
    if (left > 0) {
      timer = setTimeout(check, Math.min(left, 2 ** 31 - 1));
      timer.unref();
      return;
    }
    const seconds = Math.round(allowed() / 1000);
    const read = kind === 'blob' ? ` (${received} bytes read)` : '';
    expired = new AirlockError(
      'E_UNREACHABLE',
      `${req.method} ${displayUrl(url)} timed out: not complete within ${seconds} s${read}, the ${kind} deadline (timeouts.${kind})`,
      {
        artifact: req.artifact,
      },
    );
    if (body) body.destroy(expired);
    else controller.abort(expired);
  };
  check();
  let res: HttpResponse;
  try {
    res = await request(transport, url, req, controller.signal);
  } catch (e) {
    clearTimeout(timer);
    throw expired ?? e;
  }
  body = kind === 'blob' && req.size === undefined ? counted(res.body, (n) => (received += n)) : res.body;
  const done = () => clearTimeout(timer);
  body.once('end', done).once('close', done).once('error', done);
  return body === res.body ? res : { ...res, body };
}

/** The body as a stream that counts what passes; destroying either end destroys both. */
function counted(source: HttpResponse['body'], onBytes: (n: number) => void): HttpResponse['body'] {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  source.on('error', (e) => counter.destroy(e));
  counter.on('close', () => {
    if (!source.destroyed && !source.readableEnded) source.destroy();
  });
  source.pipe(counter);
  // A counted body is a blob's: discarding it drops the connection rather than reading it out.
  return Object.assign(counter, {
    dump: () => {
      counter.destroy();
      return Promise.resolve();
    },
  });
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

function networkMessage(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  const msg = err.cause?.message ?? err.message ?? String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

function isNetworkError(e: unknown): boolean {
  if (e instanceof AirlockError) return false;
  const code = (e as { code?: string; cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(code);
}

/**
 * One request, with retries for what retrying can fix: 429 and 5xx (honouring Retry-After) and
 * network errors, when the body can be replayed. The response body of a retried attempt is always
 * drained so the connection goes back to the pool.
 */
export function createSend(deps: HttpDeps): Send {
  const policy = deps.retry;
  const sleep = deps.sleep ?? defaultSleep;
  return async function send(transport, req) {
    const url = new URL(req.url);
    // Nothing but HTTP is fetched, whoever named the URL (a config, an index entry, a redirect).
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AirlockError(
        'E_UNSUPPORTED',
        `${displayUrl(url)}: ${url.protocol} URLs are not fetched (only http and https)`,
        { artifact: req.artifact },
      );
    }
    const isStream = !!req.body && typeof (req.body as Readable).pipe === 'function';
    const canRetry = req.replayable !== false && !isStream;
    let attempt = 0;
    for (;;) {
      attempt += 1;
      let res: HttpResponse;
      await deps.budget?.acquire(url.host, req.artifact);
      try {
        res = await requestWithDeadline(transport, url, req, deps.deadlines);
      } catch (e) {
        if (canRetry && isNetworkError(e) && attempt < policy.attempts) {
          const wait = backoff(policy, attempt);
          deps.logger.warn({ url: url.origin, attempt, wait }, `network error, retrying: ${redact(networkMessage(e))}`);
          await sleep(wait);
          continue;
        }
        if (e instanceof AirlockError) throw e;
        throw new AirlockError('E_UNREACHABLE', `cannot reach ${url.host}: ${redact(networkMessage(e))}`, {
          artifact: req.artifact,
          cause: e,
        });
      }
      deps.onResponse?.(url, res);
      const observed = deps.budget?.observe(url.host, res.statusCode, res.headers);
      if (observed) await observed;
      if (isTransientStatus(res.statusCode) && canRetry && attempt < policy.attempts) {
        const retryAfter = parseRetryAfter(res.headers['retry-after']);
        // The registry's own Retry-After wins over our backoff, unless it asks for longer than we will wait.
        if (retryAfter !== undefined && retryAfter > policy.maxRetryAfterMs) return res;
        const wait = retryAfter ?? backoff(policy, attempt);
        await res.body.dump().catch(() => undefined);
        deps.logger.warn(
          { url: url.origin, status: res.statusCode, attempt, wait },
          'registry asked to back off, retrying',
        );
        await sleep(wait);
        continue;
      }
      return res;
    }
  };
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(policy.maxDelayMs, exp + Math.floor(Math.random() * policy.baseDelayMs));
}

/**
 * Reads a body into memory, bounded so a hostile server cannot make us buffer gigabytes: past the
 * limit it either stops (error bodies, where the start is enough) or fails.
 */
async function collect(res: HttpResponse, limit: number, truncate: boolean, artifact: string): Promise<Buffer> {
  const declared = Number(header(res, 'content-length') ?? NaN);
  if (!truncate && declared > limit) {
    res.body.destroy();
    throw new AirlockError('E_REGISTRY', `response of ${declared} bytes exceeds the ${limit}-byte limit`, { artifact });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      res.body.destroy();
      if (truncate) break;
      throw new AirlockError('E_REGISTRY', `response exceeds the ${limit}-byte limit`, { artifact });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The start of a body as text (error descriptions). */
export async function readText(res: HttpResponse, limit = 64 * 1024): Promise<string> {
  return (await collect(res, limit, true, '')).toString('utf8');
}

export function readBuffer(res: HttpResponse, limit: number, artifact: string): Promise<Buffer> {
  return collect(res, limit, false, artifact);
}

/**
 * Turns a registry error body into one line: the OCI `errors[]` codes and messages when it is
 * JSON, else the status and the start of the text (HTML error pages from proxies included).
 */
export async function describeErrorBody(res: HttpResponse): Promise<string> {
  const text = await readText(res, 16 * 1024).catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    // not JSON: fall through
  }
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain ? plain.slice(0, 160) : '(empty body)';
}

/** Maps a failed response to a typed error. */
export async function errorFromResponse(res: HttpResponse, what: string, artifact: string): Promise<AirlockError> {
  const status = res.statusCode;
  const detail = redact(await describeErrorBody(res));
  const message = `${what}: HTTP ${status} ${detail}`;
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  if (status === 401) return new AirlockError('E_UNAUTHORIZED', message, { artifact, status });
  if (status === 403) return new AirlockError('E_DENIED', message, { artifact, status });
  if (status === 404) return new AirlockError('E_NOT_FOUND', message, { artifact, status });
  if (status === 429) return new AirlockError('E_RATE_LIMITED', message, { artifact, status, retryAfterMs });
  return new AirlockError('E_REGISTRY', message, { artifact, status, retryAfterMs });
}

/**
 * GET that follows redirects (GitHub release assets, object storage) by hand: the given headers
 * (credentials) go to the first origin only, never to the one a redirect points at. A redirect's
 * own body is discarded within a bound (an endless one drops the connection). Downloads are `blob`
 * requests unless `kind` says otherwise (an index).
 */
export async function getFollowingRedirects(
  http: Pick<HttpClient, 'request'>,
  url: string,
  headers: Record<string, string>,
  artifact: string,
  options: { kind?: RequestKind } = {},
): Promise<HttpResponse> {
  let current = new URL(url);
  const origin = current.origin;
  const kind = options.kind ?? 'blob';
  for (let hops = 0; hops < 6; hops++) {
    const res = await http.request({
      method: 'GET',
      url: current.toString(),
      headers: current.origin === origin ? headers : {},
      artifact,
      kind,
    });
    if (![301, 302, 303, 307, 308].includes(res.statusCode)) return res;
    const location = header(res, 'location');
    await res.body.dump();
    if (!location) throw new AirlockError('E_REGISTRY', `redirect without Location from ${current.host}`, { artifact });
    current = new URL(location, current);
  }
  throw new AirlockError('E_REGISTRY', 'too many redirects', { artifact });
}

export { parseRetryAfter };
