import { createHash, createHmac, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { createPinoLogger } from '../src/core/log.js';
import { buildServer } from '../src/server/http-server.js';
import { queueTriggers } from '../src/server/queue-triggers.js';
import { mirrorImageJobId } from '../src/model/job-names.js';
import { planImages } from '../src/sources/image-plan.js';
import { testEngine } from './support/engine.js';
import { CLI, airlock } from './support/cli.js';
import { freePort, waitFor } from './support/ports.js';
import { startRedis, type TestRedis } from './support/redis.js';

let redisServer: TestRedis;
let redis: Redis;
let queue: Queue;
const prefix = `{airlock-serve-${randomUUID().slice(0, 8)}}`;
const secrets = { github: 'gh-secret-123', registry: 'reg-token-456', generic: 'gen-token-789' };
const config = parseConfig({
  images: [
    { source: 'ghcr.io/acme/app', tags: ['1.0'] },
    { source: 'ghcr.io/acme/semver', semver: '>=2.0.0' },
  ],
  targets: { images: { registry: 'mirror.internal:5000' } },
  serve: {
    bodyLimit: 4096,
    github: { secret: { env: 'X' }, repositories: [{ repo: 'kubevela/catalog', branch: 'master', scope: 'charts' }] },
    registry: { token: { env: 'Y' } },
    generic: { token: { env: 'Z' } },
  },
});

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  queue = new Queue(`serve-${randomUUID()}`, { connection: { url: redisServer.url }, prefix });
});

afterAll(async () => {
  await queue?.obliterate({ force: true });
  await queue?.close();
  const keys = await redis.keys(`${prefix}:delivery:*`);
  if (keys.length) await redis.del(...keys);
  await redis?.quit();
  await redisServer?.stop();
});

const sign = (body: string) => `sha256=${createHmac('sha256', secrets.github).update(body).digest('hex')}`;
const count = async () =>
  Object.values(await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')).reduce(
    (a, b) => a + b,
    0,
  );

describe('airlock serve', () => {
  it('queues a sync for a signed push to a watched branch, once per delivery, and nothing for bad input', async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const push = JSON.stringify({ ref: 'refs/heads/master', repository: { full_name: 'kubevela/catalog' } });
    const headers = (body: string, delivery: string, event = 'push') => ({
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': delivery,
      'x-hub-signature-256': sign(body),
    });

    const bad = await app.inject({
      method: 'POST',
      url: '/webhooks/github',
      payload: push,
      headers: { ...headers(push, 'd0'), 'x-hub-signature-256': sign(`${push} `) },
    });
    expect(bad.statusCode).toBe(401);
    expect(await count()).toBe(0);

    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/webhooks/github',
          payload: '{}',
          headers: headers('{}', 'd-ping', 'ping'),
        })
      ).statusCode,
    ).toBe(200);

    const ok = await app.inject({
      method: 'POST',
      url: '/webhooks/github',
      payload: push,
      headers: headers(push, 'd1'),
    });
    expect(ok.statusCode).toBe(202);
    const runId = (JSON.parse(ok.body) as { run: string }).run;
    expect((await queue.getJob(runId))?.data).toEqual({
      scope: 'charts',
      reason: 'github push kubevela/catalog@master',
    });
    const again = await app.inject({
      method: 'POST',
      url: '/webhooks/github',
      payload: push,
      headers: headers(push, 'd1'),
    });
    expect(JSON.parse(again.body)).toEqual({ duplicate: true });
    expect(await count()).toBe(1);

    const other = JSON.stringify({ ref: 'refs/heads/dev', repository: { full_name: 'kubevela/catalog' } });
    expect(
      (await app.inject({ method: 'POST', url: '/webhooks/github', payload: other, headers: headers(other, 'd2') }))
        .statusCode,
    ).toBe(200);
    const broken = '{"ref": ';
    expect(
      (await app.inject({ method: 'POST', url: '/webhooks/github', payload: broken, headers: headers(broken, 'd3') }))
        .statusCode,
    ).toBe(400);
    const huge = JSON.stringify({ pad: 'x'.repeat(5000) });
    expect(
      (await app.inject({ method: 'POST', url: '/webhooks/github', payload: huge, headers: headers(huge, 'd4') }))
        .statusCode,
    ).toBe(413);
    expect(await count()).toBe(1);
    // Still serving.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close();
  });

  it('mirrors pushed images that the config watches, with deterministic job ids, and takes generic triggers', async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const distribution = JSON.stringify({
      events: [
        { action: 'push', target: { repository: 'acme/app', tag: '1.0' }, request: { host: 'ghcr.io' } },
        { action: 'push', target: { repository: 'acme/other', tag: '1' }, request: { host: 'ghcr.io' } },
      ],
    });
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/webhooks/registry',
          payload: distribution,
          headers: { 'content-type': 'application/json' },
        })
      ).statusCode,
    ).toBe(401);
    const first = await app.inject({
      method: 'POST',
      url: '/webhooks/registry',
      payload: distribution,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secrets.registry}`,
        'x-request-id': 'r1',
      },
    });
    expect(first.statusCode).toBe(202);
    const [jobId] = (JSON.parse(first.body) as { jobs: string[] }).jobs;
    expect((await queue.getJob(jobId ?? ''))?.data).toEqual({
      source: 'docker://ghcr.io/acme/app:1.0',
      target: 'docker://mirror.internal:5000/ghcr.io/acme/app',
    });
    // A second notification of the same push (another delivery id) dedupes on the job id.
    const before = await count();
    const second = await app.inject({
      method: 'POST',
      url: '/webhooks/registry?token=' + secrets.registry,
      payload: distribution,
      headers: { 'content-type': 'application/json', 'x-request-id': 'r2' },
    });
    expect((JSON.parse(second.body) as { jobs: string[] }).jobs).toEqual([jobId]);
    expect(await count()).toBe(before);

    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/webhooks/generic',
          payload: '{"scope":"images"}',
          headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
        })
      ).statusCode,
    ).toBe(401);
    const g = await app.inject({
      method: 'POST',
      url: '/webhooks/generic',
      payload: '{"scope":"images","reason":"release"}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.generic}` },
    });
    expect(g.statusCode).toBe(202);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/airlock_webhooks_total\{kind="registry",result="unauthorized"\} 1/);
    expect(metrics.body).toMatch(/airlock_queue_jobs\{state="waiting"\} \d+/);
    await app.close();
  });

  it('airlock serve answers /healthz and exits 0 on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${prefix}"\nserve:\n  adminToken: { env: ADMIN_TOKEN }\n  generic:\n    token: { env: GEN_TOKEN }\n`,
    );
    const port = await freePort();
    const queueName = `serve-cli-${randomUUID()}`;
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--config', cfg, '--host', '127.0.0.1', '--port', String(port), '--queue', queueName],
      {
        env: {
          PATH: process.env.PATH,
          TEST_REDIS_URL: redisServer.url,
          GEN_TOKEN: 'tok-abcdef',
          ADMIN_TOKEN: 'adm-123456',
        },
        stdio: 'ignore',
      },
    );
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 'airlock serve');
      // Bull Board from the bundled CLI: its packages and UI files load at run time.
      expect((await fetch(`http://127.0.0.1:${port}/admin/queues`)).status).toBe(401);
      const page = await fetch(`http://127.0.0.1:${port}/admin/queues`, {
        headers: { authorization: 'Bearer adm-123456' },
      });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const api = await fetch(`http://127.0.0.1:${port}/admin/queues/api/queues`, {
        headers: { authorization: 'Bearer adm-123456' },
      });
      expect(((await api.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name)).toEqual([
        queueName,
      ]);
    } finally {
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
    }
  });

  it('queues only tags the image entry selects, and honours a retry when queueing failed', async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const push = (tag: string) =>
      JSON.stringify({
        events: [{ action: 'push', target: { repository: 'acme/semver', tag }, request: { host: 'ghcr.io' } }],
      });
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${secrets.registry}` };
    expect(
      JSON.parse(
        (
          await app.inject({
            method: 'POST',
            url: '/webhooks/registry',
            payload: push('pr-123'),
            headers: { ...auth, 'x-request-id': 's1' },
          })
        ).body,
      ),
    ).toEqual({ jobs: [] });
    expect(
      (
        JSON.parse(
          (
            await app.inject({
              method: 'POST',
              url: '/webhooks/registry',
              payload: push('2.1.0'),
              headers: { ...auth, 'x-request-id': 's2' },
            })
          ).body,
        ) as { jobs: string[] }
      ).jobs,
    ).toHaveLength(1);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/webhooks/generic',
          payload: 'null',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.generic}` },
        })
      ).statusCode,
    ).toBe(400);
    await app.close();

    const real = queueTriggers(queue, redis, prefix);
    let fail = true;
    const flaky = {
      ...real,
      sync: async (scope: string, reason: string) =>
        fail ? Promise.reject(new Error('redis down')) : real.sync(scope, reason),
    };
    const app2 = buildServer(config, secrets, flaky, await createPinoLogger({ level: 'silent' }));
    const body = '{"scope":"images","id":"retry-me"}';
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${secrets.generic}` };
    expect((await app2.inject({ method: 'POST', url: '/webhooks/generic', payload: body, headers })).statusCode).toBe(
      500,
    );
    fail = false;
    expect((await app2.inject({ method: 'POST', url: '/webhooks/generic', payload: body, headers })).statusCode).toBe(
      202,
    );
    await app2.close();

    // Redis lost in the middle of a delivery: 503 (the sender retries), and the retry is not taken for a replay.
    let lost = true;
    const dropping = {
      ...real,
      sync: async (scope: string, reason: string) =>
        lost
          ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))
          : real.sync(scope, reason),
    };
    const app3 = buildServer(config, secrets, dropping, await createPinoLogger({ level: 'silent' }));
    const lostBody = '{"scope":"images","id":"lost-mid-delivery"}';
    const refused = await app3.inject({ method: 'POST', url: '/webhooks/generic', payload: lostBody, headers });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toEqual({ error: 'queue unavailable: Redis is unreachable' });
    lost = false;
    expect(
      (await app3.inject({ method: 'POST', url: '/webhooks/generic', payload: lostBody, headers })).statusCode,
    ).toBe(202);
    await app3.close();
  });

  it('queues what a sync of the entry would copy: no tag of a digest-pinned entry, the pinned tag and its tags, under the same target and job id', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = parseConfig({
      images: [
        { source: `ghcr.io/acme/digest@${digest}` },
        {
          source: 'ghcr.io/acme/pinned:1.27',
          tags: ['1.26'],
          target: 'mirror.internal:5000/pinned/app',
          platforms: ['linux/amd64'],
          referrers: true,
        },
      ],
      targets: { images: { registry: 'mirror.internal:5000' } },
    });
    const app = buildServer(
      pinned,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const push = (repository: string, tag: string, id: string) =>
      app.inject({
        method: 'POST',
        url: '/webhooks/registry',
        payload: JSON.stringify({
          events: [{ action: 'push', target: { repository, tag }, request: { host: 'ghcr.io' } }],
        }),
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${secrets.registry}`,
          'x-request-id': id,
        },
      });
    const jobsOf = async (res: { body: string }) => (JSON.parse(res.body) as { jobs: string[] }).jobs;
    try {
      expect(await jobsOf(await push('acme/digest', 'latest', 'p1'))).toEqual([]);
      expect(await jobsOf(await push('acme/pinned', '1.28', 'p2'))).toEqual([]);

      const engine = testEngine({ config: pinned });
      const planned = (await planImages(pinned, engine)).payloads.filter((p) => p.source.includes('acme/pinned'));
      await engine.close();
      expect(planned.map((p) => p.source)).toEqual([
        'docker://ghcr.io/acme/pinned:1.26',
        'docker://ghcr.io/acme/pinned:1.27',
      ]);
      for (const [i, p] of planned.entries()) {
        const tag = p.source.split(':').pop() ?? '';
        const [jobId] = await jobsOf(await push('acme/pinned', tag, `p3-${i}`));
        const job = await queue.getJob(jobId ?? '');
        expect(job?.data).toEqual({
          ...p,
          target: 'docker://mirror.internal:5000/pinned/app',
          platforms: ['linux/amd64'],
          referrers: true,
        });
        // The key a sync copy of this tag locks on (mirror-image): the two never copy at once.
        expect(job?.deduplicationId).toBe(mirrorImageJobId(p.source, p.target));
      }
    } finally {
      await app.close();
    }
  });

  it('keeps a push that arrives while the same copy runs and copies it once more afterwards', async () => {
    const own = new Queue(`serve-active-${randomUUID()}`, { connection: { url: redisServer.url }, prefix });
    const triggers = queueTriggers(own, redis, prefix);
    const payload = {
      source: 'docker://ghcr.io/acme/app:1.0',
      target: 'docker://mirror.internal:5000/ghcr.io/acme/app',
    };
    const ran: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const worker = new Worker(
      own.name,
      async (job) => {
        ran.push(job.id ?? '');
        if (ran.length === 1) await gate;
      },
      { connection: { url: redisServer.url }, prefix },
    );
    try {
      const [first] = await triggers.images([payload]);
      await waitFor(async () => ran.length === 1, 'the first copy to run');
      await triggers.images([payload]);
      await triggers.images([payload]);
      release();
      await waitFor(
        async () => ran.length === 2 && (await own.getJobCounts('waiting', 'active')).active === 0,
        'the kept push to run',
      );
      expect(ran[0]).toBe(first);
      expect(ran[1]).not.toBe(first);
      await new Promise((r) => setTimeout(r, 200));
      expect(ran).toHaveLength(2);
    } finally {
      await worker.close();
      await own.obliterate({ force: true });
      await own.close();
    }
  });

  it('serves /metrics without the queue numbers when Redis cannot be read, and keeps the error text out', async () => {
    const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6390 secret-detail'));
    const triggers = { ...queueTriggers(queue, redis, prefix), jobCounts: down, workerMetrics: down };
    const app = buildServer(config, secrets, triggers, await createPinoLogger({ level: 'silent' }));
    try {
      await app.inject({
        method: 'POST',
        url: '/webhooks/registry',
        payload: '{}',
        headers: { 'content-type': 'application/json' },
      });
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toMatch(/airlock_webhooks_total\{kind="registry",result="unauthorized"\} 1/);
      expect(metrics.body).not.toMatch(/airlock_queue_jobs\{/);
      expect(metrics.body).not.toMatch(/airlock_jobs_total\{/);
      expect(metrics.body).not.toContain('secret-detail');
    } finally {
      await app.close();
    }
  });

  it("takes signed GitHub deliveries sent form-encoded (payload=<json>), GitHub's default content type", async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const form = (json: string) => new URLSearchParams({ payload: json }).toString();
    const headers = (body: string, delivery: string) => ({
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': sign(body),
    });
    try {
      const body = form(JSON.stringify({ ref: 'refs/heads/master', repository: { full_name: 'kubevela/catalog' } }));
      const ok = await app.inject({
        method: 'POST',
        url: '/webhooks/github',
        payload: body,
        headers: headers(body, 'form-1'),
      });
      expect(ok.statusCode, ok.body).toBe(202);
      expect((await queue.getJob((JSON.parse(ok.body) as { run: string }).run))?.data).toEqual({
        scope: 'charts',
        reason: 'github push kubevela/catalog@master',
      });
      // The signature is over the form bytes: one signed for the JSON alone does not pass.
      const json = JSON.stringify({ ref: 'refs/heads/master', repository: { full_name: 'kubevela/catalog' } });
      expect(
        (
          await app.inject({
            method: 'POST',
            url: '/webhooks/github',
            payload: body,
            headers: { ...headers(body, 'form-2'), 'x-hub-signature-256': sign(json) },
          })
        ).statusCode,
      ).toBe(401);
      const empty = 'other=1';
      expect(
        (
          await app.inject({
            method: 'POST',
            url: '/webhooks/github',
            payload: empty,
            headers: headers(empty, 'form-3'),
          })
        ).statusCode,
      ).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('serves Bull Board at /admin/queues behind the admin token: bearer, or ?token= once and then a cookie', async () => {
    const admin = 'admin-token-abc';
    const board = { name: queue.name, url: redisServer.url, prefix };
    await queue.add(
      'mirror-image',
      { source: 'docker://ghcr.io/acme/app:1.0', target: 'docker://mirror.internal/acme/app' },
      { jobId: 'board-visible' },
    );
    const app = buildServer(
      config,
      { ...secrets, admin },
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
      { board },
    );
    try {
      expect((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(401);
      expect(
        (await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: 'Bearer wrong' } }))
          .statusCode,
      ).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/admin/queues?token=wrong' })).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/admin/queues/api/queues' })).statusCode).toBe(401);

      const page = await app.inject({
        method: 'GET',
        url: '/admin/queues',
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toContain('<base href="/admin/queues/"');

      // A browser: the token once in the URL, then the cookie; the redirect drops the token.
      const login = await app.inject({ method: 'GET', url: `/admin/queues?token=${admin}` });
      expect(login.statusCode).toBe(303);
      expect(login.headers.location).toBe('/admin/queues');
      const setCookie = String(login.headers['set-cookie']);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).not.toContain(admin);
      const sessionCookie = setCookie.split(';')[0] ?? '';
      const api = await app.inject({
        method: 'GET',
        url: '/admin/queues/api/queues',
        headers: { cookie: sessionCookie },
      });
      expect(api.statusCode).toBe(200);
      const queues = (JSON.parse(api.body) as { queues: Array<{ name: string; counts: Record<string, number> }> })
        .queues;
      expect(queues.map((q) => q.name)).toEqual([queue.name]);
      expect(queues[0]?.counts.waiting).toBeGreaterThanOrEqual(1);
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/admin/queues/static/favicon-32x32.png',
            headers: { cookie: sessionCookie },
          })
        ).statusCode,
      ).toBe(200);
      // Board actions post JSON, which the webhook routes keep raw: parsed inside the board's scope.
      const added = await app.inject({
        method: 'POST',
        url: `/admin/queues/api/queues/${encodeURIComponent(queue.name)}/add`,
        headers: { cookie: sessionCookie, 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'sync', data: { scope: 'images', reason: 'board' } }),
      });
      expect(added.statusCode, added.body).toBe(200);
      const addedId = (JSON.parse(added.body) as { job: { id: string } }).job.id;
      expect((await queue.getJob(addedId))?.data).toEqual({ scope: 'images', reason: 'board' });
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/admin/queues/api/queues',
            headers: { cookie: 'airlock_admin=forged' },
          })
        ).statusCode,
      ).toBe(401);
    } finally {
      await app.close();
    }
    // No admin token: no board at all.
    const open = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
      { board },
    );
    expect((await open.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(404);
    await open.close();
  });
});

describe('airlock serve against replays and bad listen options (issue 16)', () => {
  it('takes the same signed GitHub body once, whatever X-GitHub-Delivery says, for a day', async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    try {
      const push = JSON.stringify({
        ref: 'refs/heads/master',
        repository: { full_name: 'kubevela/catalog' },
        after: randomUUID(),
      });
      const headers = (delivery?: string) => ({
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': sign(push),
        ...(delivery ? { 'x-github-delivery': delivery } : {}),
      });
      const before = await count();
      const first = await app.inject({
        method: 'POST',
        url: '/webhooks/github',
        payload: push,
        headers: headers(`replay-${randomUUID()}`),
      });
      expect(first.statusCode).toBe(202);
      // The signature does not cover the header: a captured delivery replayed under another id, or none.
      for (const delivery of [`replay-${randomUUID()}`, undefined]) {
        const again = await app.inject({
          method: 'POST',
          url: '/webhooks/github',
          payload: push,
          headers: headers(delivery),
        });
        expect(again.statusCode).toBe(200);
        expect(JSON.parse(again.body)).toEqual({ duplicate: true });
      }
      expect(await count()).toBe(before + 1);
      const ttl = await redis.ttl(
        `${prefix}:delivery:github:body-sha256-${createHash('sha256').update(push).digest('hex')}`,
      );
      expect(ttl).toBeGreaterThan(23 * 3600);
      // Another push (another body) is a new delivery.
      const next = JSON.stringify({
        ref: 'refs/heads/master',
        repository: { full_name: 'kubevela/catalog' },
        after: randomUUID(),
      });
      const other = await app.inject({
        method: 'POST',
        url: '/webhooks/github',
        payload: next,
        headers: { ...headers(`replay-${randomUUID()}`), 'x-hub-signature-256': sign(next) },
      });
      expect(other.statusCode).toBe(202);
    } finally {
      await app.close();
    }
  });

  it('exits 2 with one line when it cannot listen (port in use, a port that is none, an address not on this host)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-listen-'));
    const cfg = path.join(dir, 'airlock.yaml');
    // The board's own queue connection is what kept a failed server up.
    fs.writeFileSync(
      cfg,
      `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${prefix}"\nserve:\n  adminToken: { env: ADMIN_TOKEN }\n`,
    );
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const cases: Array<[string[], RegExp]> = [
        [
          ['--host', '127.0.0.1', '--port', String(port)],
          /^airlock: \[E_USAGE\] cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
        ],
        [
          ['--host', '127.0.0.1', '--port', 'abc'],
          /^airlock: \[E_USAGE\] --port "abc" is not a port number \(0-65535\)$/,
        ],
        [['--host', '127.0.0.1', '--port', '65536'], /^airlock: \[E_USAGE\] --port "65536" is not a port number/],
        [
          ['--host', '192.0.2.1', '--port', '0'],
          /^airlock: \[E_USAGE\] cannot listen on 192\.0\.2\.1:0: .*EADDRNOTAVAIL/,
        ],
      ];
      for (const [args, expected] of cases) {
        const r = await airlock(
          ['serve', '--config', cfg, '--queue', `listen-${randomUUID()}`, ...args],
          { TEST_REDIS_URL: redisServer.url, ADMIN_TOKEN: 'adm-123456' },
          30_000,
        );
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr.trim()).toMatch(expected);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('runs list and runs show escape control characters a webhook put in the reason', async () => {
    const app = buildServer(
      config,
      secrets,
      queueTriggers(queue, redis, prefix),
      await createPinoLogger({ level: 'silent' }),
    );
    const reason = 'release \u001b]0;owned\u0007\u001b[2J\u001b[1A\r\u009b31mdone';
    let run = '';
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/webhooks/generic',
        payload: JSON.stringify({ scope: 'images', reason }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.generic}` },
      });
      expect(res.statusCode).toBe(202);
      run = (JSON.parse(res.body) as { run: string }).run;
    } finally {
      await app.close();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-runs-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(cfg, `redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "${prefix}"\n`);
    const env = { TEST_REDIS_URL: redisServer.url };
    // eslint-disable-next-line no-control-regex
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    const listed = await airlock(['runs', 'list', '--config', cfg, '--queue', queue.name], env);
    expect(listed.code, listed.stderr).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(run));
    // The table cuts a long trigger; what it shows is escaped.
    expect(line).toContain('release \\x1b]0;owned\\x07\\x1b[2J');
    expect(listed.stdout).not.toMatch(raw);
    const shown = await airlock(['runs', 'show', run, '--config', cfg, '--queue', queue.name], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('release \\x1b]0;owned\\x07\\x1b[2J\\x1b[1A\\x0d\\x9b31mdone');
    expect(shown.stdout).not.toMatch(raw);
    // JSON keeps the data as it is, every control character written as an escape.
    const json = await airlock(['runs', 'show', run, '--config', cfg, '--queue', queue.name, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toMatch(raw);
    expect((JSON.parse(json.stdout) as { reason: string }).reason).toBe(reason);
  });
});
