import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { AirlockConfig } from '../config/schema.js';
import { entryCopyOptions, entryTarget, entryWantsTag } from '../sources/image-plan.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import type { PinoLogger } from '../core/log.js';
import { formatRef, parseRegistryRef, type RegistryImageRef } from '../oci/reference.js';
import { pushedImages } from './webhook-payloads.js';
import { resolveScope } from '../config/scope.js';
import type { CounterSample, WorkerMetrics } from '../queue/worker-metrics.js';
import { BOARD_PATH, mountBullBoard, type BoardQueue } from './bull-board.js';
import { AirlockError } from '../core/errors.js';
import { isRedisConnectionError, withDeadline } from '../state/redis-connect.js';

/** A scrape waits this long at most for what Redis holds, then goes without it. */
const SCRAPE_REDIS_MS = 800;

/** What the server asks of the queue side; the serve command wires BullMQ, tests wire the same. */
export interface Triggers {
  /** Enqueue a sync run; returns the run (job) id. */
  sync(scope: string, reason: string): Promise<string>;
  /** Enqueue image copies under deterministic ids, in one pipeline (a lost connection sends none); returns the job ids. */
  images(payloads: MirrorImagePayload[]): Promise<string[]>;
  /** True the first time a delivery id is seen within a day (replay protection). */
  firstDelivery(id: string): Promise<boolean>;
  /** Forgets a delivery whose run could not be queued, so the sender's retry is not taken for a replay. */
  forgetDelivery(id: string): Promise<void>;
  jobCounts(): Promise<Record<string, number>>;
  /** What the workers counted in Redis (bytes, artifacts, errors, jobs, last successes). */
  workerMetrics?(): Promise<WorkerMetrics>;
  healthy(): Promise<boolean>;
  /**
   * Whether Redis answers now, known without asking it (serve's health watch). While it does not,
   * webhooks answer 503 at once with nothing queued, and /metrics serves what the server knows
   * with `airlock_redis_up 0`. Absent: taken as always.
   */
  available?(): boolean;
}

export interface ServerSecrets {
  github?: string;
  registry?: string;
  generic?: string;
  admin?: string;
}

function sameSecret(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function rawText(req: FastifyRequest): string {
  return ((req.body as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8');
}

/**
 * The JSON of a GitHub delivery. A webhook created with GitHub's default content type sends it
 * form-encoded as `payload=<json>`; the signature covers those form bytes, so this is read only
 * after the signature has been checked.
 */
function githubPayload(req: FastifyRequest): string {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return rawText(req);
  return new URLSearchParams(rawText(req)).get('payload') ?? '';
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

/**
 * `airlock serve`: webhooks that turn pushes into runs, /healthz and /metrics. Every webhook is
 * authenticated before anything is queued, checked against the raw body, and remembered by
 * delivery id for a day so a redelivery queues nothing.
 */
export interface ServerOptions {
  /** The queue Bull Board shows at /admin/queues (only when an admin token is set). */
  board?: BoardQueue;
}

export function buildServer(
  config: AirlockConfig,
  secrets: ServerSecrets,
  triggers: Triggers,
  logger: PinoLogger,
  options: ServerOptions = {},
): FastifyInstance {
  const bodyLimit = config.serve?.bodyLimit ?? 1024 * 1024;
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, bodyLimit });
  const registry = new Registry();
  const webhooks = new Counter({
    name: 'airlock_webhooks_total',
    help: 'Webhook deliveries by kind and result',
    labelNames: ['kind', 'result'],
    registers: [registry],
  });
  const runs = new Counter({
    name: 'airlock_runs_enqueued_total',
    help: 'Runs and jobs enqueued by trigger',
    labelNames: ['trigger'],
    registers: [registry],
  });
  const redisUp = () => triggers.available?.() ?? true;
  new Gauge({
    name: 'airlock_redis_up',
    help: 'Whether Redis (the queue, the mirror state) answers: 1, or 0 while it is away',
    registers: [registry],
    collect() {
      this.set(redisUp() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'airlock_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = redisUp() ? await unlessDown(triggers.jobCounts(), app.log) : undefined;
      this.reset();
      for (const [state, n] of Object.entries(counts ?? {})) this.set({ state }, n);
    },
  });
  registerWorkerMetrics(registry, triggers, app.log, redisUp);

  /**
   * While Redis is away a webhook is answered 503 before anything touches Redis (the sender
   * retries later); nothing is queued, and the delivery is not remembered.
   */
  function unavailable(reply: FastifyReply, kind: string): boolean {
    if (redisUp()) return false;
    webhooks.inc({ kind, result: 'unavailable' });
    void reply.code(503).header('retry-after', '30').send({ error: 'queue unavailable: Redis is unreachable' });
    return true;
  }

  // Redis lost in the middle of a delivery: 503 as well, and the delivery was forgotten (queued()).
  app.setErrorHandler(async (e, _req, reply) => {
    if ((e instanceof AirlockError && e.code === 'E_UNREACHABLE') || isRedisConnectionError(e)) {
      app.log.warn({ err: (e as Error).message }, 'webhook: Redis unreachable');
      return reply.code(503).header('retry-after', '30').send({ error: 'queue unavailable: Redis is unreachable' });
    }
    // Anything else goes on to Fastify's own handler, as before.
    throw e;
  });

  // Raw bodies: signatures are computed over the exact bytes; JSON is parsed afterwards.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  function parseJson(
    req: FastifyRequest,
    reply: FastifyReply,
    kind: string,
    text = rawText(req),
  ): Record<string, unknown> | undefined {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      webhooks.inc({ kind, result: 'bad-json' });
      void reply.code(400).send({ error: 'body is not a JSON object' });
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /** A delivery is new only when each of its ids (delivery id, body hash) is seen for the first time. */
  async function replayed(ids: Array<string | undefined>, kind: string, reply: FastifyReply): Promise<boolean> {
    let first = true;
    for (const id of ids) if (id && !(await triggers.firstDelivery(`${kind}:${id}`))) first = false;
    if (first) return false;
    webhooks.inc({ kind, result: 'duplicate' });
    await reply.code(200).send({ duplicate: true });
    return true;
  }

  /** Queues, and un-remembers the delivery when queueing fails, so a retry of it is honoured. */
  async function queued<T>(ids: Array<string | undefined>, kind: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      for (const id of ids) if (id) await triggers.forgetDelivery(`${kind}:${id}`).catch(() => undefined);
      throw e;
    }
  }

  app.get('/healthz', async (_req, reply) => {
    const ok = redisUp() && (await triggers.healthy().catch(() => false));
    return reply.code(ok ? 200 : 503).send({ ok });
  });

  app.get('/metrics', async (req, reply) => {
    if (secrets.admin && !sameSecret(bearer(req), secrets.admin))
      return reply.code(401).send({ error: 'unauthorized' });
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.post('/webhooks/github', async (req, reply) => {
    const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const signature = String(req.headers['x-hub-signature-256'] ?? '');
    const expected = secrets.github
      ? `sha256=${createHmac('sha256', secrets.github).update(raw).digest('hex')}`
      : undefined;
    if (!sameSecret(signature, expected)) {
      webhooks.inc({ kind: 'github', result: 'unauthorized' });
      return reply.code(401).send({ error: 'bad signature' });
    }
    const event = String(req.headers['x-github-event'] ?? '');
    if (event === 'ping') return reply.code(200).send({ pong: true });
    const body = parseJson(req, reply, 'github', githubPayload(req)) as
      { ref?: string; repository?: { full_name?: string } } | undefined;
    if (body === undefined) return reply;
    // X-GitHub-Delivery is not covered by the signature: the same signed body sent again under
    // another delivery id (or none) is the same delivery, so the body's hash is remembered as well.
    const ids = [
      String(req.headers['x-github-delivery'] ?? '') || undefined,
      `body-sha256-${createHash('sha256').update(raw).digest('hex')}`,
    ];
    if (unavailable(reply, 'github')) return reply;
    if (await replayed(ids, 'github', reply)) return reply;
    if (event !== 'push') return reply.code(200).send({ ignored: `event ${event}` });
    const branch = body.ref?.replace(/^refs\/heads\//, '');
    const watched = (config.serve?.github?.repositories ?? []).find(
      (r) => r.repo === body.repository?.full_name && r.branch === branch,
    );
    if (!watched) {
      webhooks.inc({ kind: 'github', result: 'ignored' });
      return reply.code(200).send({ ignored: 'repository or branch not watched' });
    }
    const id = await queued(ids, 'github', () => triggers.sync(watched.scope, `github push ${watched.repo}@${branch}`));
    webhooks.inc({ kind: 'github', result: 'queued' });
    runs.inc({ trigger: 'github' });
    return reply.code(202).send({ run: id });
  });

  app.post('/webhooks/registry', async (req, reply) => {
    const given = bearer(req) ?? (req.query as { token?: string }).token;
    if (!sameSecret(given, secrets.registry)) {
      webhooks.inc({ kind: 'registry', result: 'unauthorized' });
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const body = parseJson(req, reply, 'registry');
    if (body === undefined) return reply;
    const delivery = String(req.headers['x-request-id'] ?? (body as { id?: string }).id ?? '') || undefined;
    if (unavailable(reply, 'registry')) return reply;
    if (await replayed([delivery], 'registry', reply)) return reply;
    const payloads = pushedImages(body).flatMap((pushed) => webhookCopies(config, pushed));
    const jobs = await queued([delivery], 'registry', () => triggers.images(payloads));
    webhooks.inc({ kind: 'registry', result: jobs.length ? 'queued' : 'ignored' });
    runs.inc({ trigger: 'registry' }, jobs.length);
    return reply.code(jobs.length ? 202 : 200).send({ jobs });
  });

  app.post('/webhooks/generic', async (req, reply) => {
    if (!sameSecret(bearer(req), secrets.generic)) {
      webhooks.inc({ kind: 'generic', result: 'unauthorized' });
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const body = parseJson(req, reply, 'generic') as { scope?: string; reason?: string; id?: string } | undefined;
    if (body === undefined) return reply;
    const scope = body.scope ?? 'all';
    if (!resolveScope(config, scope)) return reply.code(400).send({ error: `unknown scope ${scope}` });
    const delivery = String(req.headers['x-request-id'] ?? body.id ?? '') || undefined;
    if (unavailable(reply, 'generic')) return reply;
    if (await replayed([delivery], 'generic', reply)) return reply;
    const id = await queued([delivery], 'generic', () => triggers.sync(scope, body.reason ?? 'generic webhook'));
    webhooks.inc({ kind: 'generic', result: 'queued' });
    runs.inc({ trigger: 'generic' });
    return reply.code(202).send({ run: id });
  });

  if (secrets.admin && options.board) mountAdmin(app, secrets.admin, options.board, redisUp);

  return app;
}

const SESSION_COOKIE = 'airlock_admin';

/**
 * Bull Board behind the admin token: `Authorization: Bearer`, or `?token=` once from a browser,
 * answered with a session cookie and a redirect to the same page without the token. The cookie
 * holds an HMAC of the token, never the token, and is SameSite=Strict against cross-site posts.
 */
function mountAdmin(app: FastifyInstance, admin: string, board: BoardQueue, redisUp: () => boolean): void {
  const session = createHmac('sha256', admin).update('airlock admin session').digest('hex');
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      if (sameSecret(bearer(req), admin) || sameSecret(cookie(req, SESSION_COOKIE), session)) {
        // The page loads; what it asks of the queue would wait for Redis: 503 while Redis is away.
        if (!redisUp() && new URL(req.url, 'http://serve').pathname.startsWith(`${BOARD_PATH}/api/`))
          return reply.code(503).send({ error: 'queue unavailable: Redis is unreachable' });
        return;
      }
      const url = new URL(req.url, 'http://serve');
      if (sameSecret(url.searchParams.get('token') ?? undefined, admin)) {
        url.searchParams.delete('token');
        const secure = req.protocol === 'https' ? '; Secure' : '';
        return reply
          .header('set-cookie', `${SESSION_COOKIE}=${session}; Path=${BOARD_PATH}; HttpOnly; SameSite=Strict${secure}`)
          .redirect(`${url.pathname}${url.search}`, 303);
      }
      return reply.code(401).send({ error: 'unauthorized' });
    });
    // The app keeps raw bodies for webhook signatures; the board's API posts JSON.
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, body ? JSON.parse(String(body)) : {});
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    // The board's packages load here, when the server starts, not with every CLI command.
    await mountBullBoard(scope, board);
  });
}

/**
 * Counters kept in Redis by the workers, exposed as they are at scrape time. One Redis read per
 * scrape: every collect callback of a scrape runs at once and shares the in-flight read.
 */
function registerWorkerMetrics(
  registry: Registry,
  triggers: Triggers,
  log: FastifyBaseLogger,
  redisUp: () => boolean,
): void {
  const read = triggers.workerMetrics?.bind(triggers);
  if (!read) return;
  let pending: Promise<WorkerMetrics | undefined> | undefined;
  const snapshot = () => {
    if (!redisUp()) return Promise.resolve(undefined);
    pending ??= unlessDown(read(), log).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const counter = (name: string, help: string, labelNames: string[], pick: (m: WorkerMetrics) => CounterSample[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const metrics = await snapshot();
        this.reset();
        for (const s of metrics ? pick(metrics) : []) this.inc(s.labels, s.value);
      },
    });
  counter(
    'airlock_bytes_copied_total',
    'Bytes written to targets by the workers, by artifact kind',
    ['kind'],
    (m) => m.bytes,
  );
  counter(
    'airlock_artifacts_total',
    'Artifacts settled by the workers, by kind and status (copied, unchanged = skipped, failed)',
    ['kind', 'status'],
    (m) => m.artifacts,
  );
  counter(
    'airlock_upstream_errors_total',
    'Artifacts that failed for good, by upstream (registry host, chart repository, file origin) and error code',
    ['upstream', 'code'],
    (m) => m.errors,
  );
  counter(
    'airlock_jobs_total',
    'Queue jobs finished by the workers, by kind and final state',
    ['kind', 'state'],
    (m) => m.jobs,
  );
  new Gauge({
    name: 'airlock_last_success_timestamp_seconds',
    help: 'When each source (image repository, chart, file) was last mirrored or found unchanged',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      const metrics = await snapshot();
      this.reset();
      for (const s of metrics?.lastSuccess ?? []) this.set(s.labels, s.value);
    },
  });
}

/**
 * A Redis read for a scrape, or undefined when it fails or takes longer than SCRAPE_REDIS_MS: the
 * metric goes without samples and the rest of the scrape (the server's own counters) is still
 * served; the error goes to the log, not to the scraper.
 */
async function unlessDown<T>(read: Promise<T>, log: FastifyBaseLogger): Promise<T | undefined> {
  try {
    return await withDeadline(read, SCRAPE_REDIS_MS, () => new Error(`no answer within ${SCRAPE_REDIS_MS} ms`));
  } catch (e) {
    log.warn({ err: e }, 'metrics: cannot read the queue state');
    return undefined;
  }
}

/** The copies a sync would make of a pushed tag: one per image entry of that repository that wants it. */
function webhookCopies(config: AirlockConfig, pushed: RegistryImageRef): MirrorImagePayload[] {
  if (!pushed.tag) return [];
  const out: MirrorImagePayload[] = [];
  for (const entry of config.images) {
    const src = parseRegistryRef(entry.source, { defaultTag: false });
    if (src.registry !== pushed.registry || src.repository !== pushed.repository || !entryWantsTag(entry, pushed.tag))
      continue;
    const target = entryTarget(entry, config);
    if (target) out.push({ source: formatRef({ ...pushed, digest: undefined }), target, ...entryCopyOptions(entry) });
  }
  return out;
}
