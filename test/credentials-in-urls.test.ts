import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { displayUrl, urlCredentialProblem } from '../src/core/url-credentials.js';
import { startServeProcess, startWorkerProcess, type AirlockProcess } from './support/airlock-processes.js';
import { buildChart, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { airlock } from './support/cli.js';
import { freePort } from './support/ports.js';
import { startRedis, type TestRedis } from './support/redis.js';

/**
 * Issue 16 item 3: credentials written inside URLs showed in reports, state keys, Redis job data,
 * runs and metrics labels. The policy: such URLs are refused where they enter (config, CLI), with a
 * pointer to where credentials go (registries[], AIRLOCK_AUTH_<HOST>, AIRLOCK_TOKEN_<HOST>), which
 * send them as a header and never make them part of a URL. These tests refuse every form, then
 * mirror from servers that require credentials the supported way and look for the secrets in
 * every output the issue names.
 */

const envVar = (kind: string, url: string) =>
  `AIRLOCK_${kind}_${new URL(url).host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** A file server that answers only requests with `Authorization: Bearer <token>` (the token may rotate). */
async function startTokenFileServer(files: Map<string, Buffer>, auth: { token: string }) {
  const port = await freePort();
  const seen: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${auth.token}`) return void res.writeHead(401).end('unauthorized');
    const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!body) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${port}`, seen, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Every value under the prefix, whatever its type: what a Redis dump of the deployment would show. */
async function redisText(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      out.push(key);
      const type = await redis.type(key);
      if (type === 'string') out.push((await redis.get(key)) ?? '');
      else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return out.join('\n');
}

describe('credentials written inside URLs are refused where they enter', () => {
  it.each([
    [
      'charts[0].repo',
      { charts: [{ repo: 'http://reader:pw-in-url-1@127.0.0.1:8080/repo', name: 'x' }] },
      'AIRLOCK_AUTH_127_0_0_1_8080',
    ],
    [
      'charts[0].repo',
      { charts: [{ repo: 'oci://robot:pw-in-url-1@ghcr.io/charts', name: 'x' }] },
      'AIRLOCK_AUTH_GHCR_IO',
    ],
    ['files[0].url', { files: [{ url: 'https://pw-in-url-1@files.example/a.tgz' }] }, 'AIRLOCK_TOKEN_FILES_EXAMPLE'],
    [
      'files[0].url',
      { files: [{ url: 'https://files.example/a.tgz?x=1&token=pw-in-url-1' }] },
      'AIRLOCK_TOKEN_FILES_EXAMPLE',
    ],
    ['files[0].url', { files: [{ url: 'https://files.example/a.tgz?X-Amz-Signature=pw-in-url-1' }] }, 'registries[]'],
    [
      'botkube[0].url',
      { botkube: [{ name: 'b', url: 'https://x.io/index.yaml?private_token=pw-in-url-1' }] },
      'AIRLOCK_TOKEN_X_IO',
    ],
    [
      'targets.charts[0]',
      { targets: { charts: ['cm+https://cm:pw-in-url-1@museum.example'] } },
      'AIRLOCK_AUTH_MUSEUM_EXAMPLE',
    ],
    [
      'targets.charts[0].baseUrl',
      { targets: { charts: [{ url: '/srv/charts', baseUrl: 'https://charts.example/?sig=pw-in-url-1' }] } },
      'registries[]',
    ],
    [
      'targets.files.baseUrl',
      { targets: { files: { dir: '/srv/files', baseUrl: 'https://u:pw-in-url-1@files.example' } } },
      'registries[]',
    ],
    ['images[0].source', { images: [{ source: 'robot:pw-in-url-1@ghcr.io/acme/app' }] }, 'AIRLOCK_AUTH_GHCR_IO'],
    [
      'targets.images.registry',
      { targets: { images: { registry: 'docker://robot:pw-in-url-1@mirror.example' } } },
      'AIRLOCK_AUTH_MIRROR_EXAMPLE',
    ],
    [
      'addons.catalogs[0].source',
      { addons: { catalogs: [{ name: 'c', source: 'https://bot:pw-in-url-1@git.example/catalog.git' }] } },
      'AIRLOCK_GIT_AUTH_GIT_EXAMPLE',
    ],
    [
      'addons.publish.git.remote',
      {
        addons: {
          catalogs: [{ name: 'c', source: '/srv/catalog' }],
          publish: { git: { remote: 'https://pw-in-url-1@git.example/mirror.git' } },
        },
      },
      'AIRLOCK_GIT_AUTH_GIT_EXAMPLE',
    ],
    [
      'addons.chartRepository',
      {
        addons: {
          catalogs: [{ name: 'c', source: '/srv/catalog' }],
          chartRepository: 'https://charts.example/?access_token=pw-in-url-1',
        },
      },
      'AIRLOCK_TOKEN_CHARTS_EXAMPLE',
    ],
    [
      'plugins.service.endpoint',
      {
        plugins: {
          target: { registry: 'harbor.example' },
          service: { endpoint: 'grpc://admin:pw-in-url-1@repo.example:50051', token: { env: 'T' } },
        },
      },
      'plugins.service.token',
    ],
  ])('%s', (key, doc, pointer) => {
    let message = '';
    try {
      parseConfig(doc, 'airlock.yaml');
    } catch (e) {
      expect(e).toMatchObject({ code: 'E_CONFIG' });
      message = (e as Error).message;
    }
    expect(message).toContain(`airlock.yaml: ${key}: carries`);
    expect(message).toContain(pointer);
    expect(message).not.toContain('pw-in-url-1');
    expect(message).not.toContain('\n');
  });

  it('accepts what carries no credential: query strings that are not one, ssh users, scp-like remotes, digests', () => {
    expect(() =>
      parseConfig({
        files: [{ url: 'https://files.example/download?version=1.2&os=linux' }],
        images: [{ source: `ghcr.io/acme/app@sha256:${'a'.repeat(64)}` }],
        addons: {
          catalogs: [
            { name: 'a', source: 'ssh://git@git.example/catalog.git' },
            { name: 'b', source: 'git@git.example:org/catalog.git' },
          ],
        },
      }),
    ).not.toThrow();
    expect(urlCredentialProblem('ssh://git:pw@git.example/x.git', 'git')).toMatch(/carries credentials/);
    // For URLs from upstream content (never checked at the door): a display form for labels.
    expect(displayUrl('https://u:p@x.io/a.tgz?token=t0k&os=linux')).toBe('https://x.io/a.tgz?token=***&os=linux');
    expect(displayUrl('https://x.io/a.tgz?os=linux')).toBe('https://x.io/a.tgz?os=linux');
  });

  it('refuses them on the command line too, before any request, without echoing them', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'url-creds-cli-'));
    const cases: Array<[string[], string]> = [
      [
        ['chart', 'copy', 'http://reader:pw-in-url-2@127.0.0.1:9/repo', 'podinfo@1.0.0', path.join(work, 'charts')],
        'SOURCE carries credentials',
      ],
      [
        ['chart', 'copy', 'http://127.0.0.1:9/repo', 'podinfo@1.0.0', 'cm+http://cm:pw-in-url-2@127.0.0.1:9'],
        'TARGET carries credentials',
      ],
      [
        ['chart', 'images', 'http://127.0.0.1:9/repo?token=pw-in-url-2', 'podinfo@1.0.0'],
        'REPO_URL carries a credential',
      ],
      [
        [
          'botkube',
          'mirror',
          'https://x.io/index.yaml?token=pw-in-url-2',
          '--to',
          path.join(work, 'bk'),
          '--base-url',
          'https://files.example',
        ],
        'INDEX_URL carries a credential',
      ],
      [['addons', 'plan', '--helm', 'https://bot:pw-in-url-2@addons.example'], '--helm carries credentials'],
      [
        ['addons', 'plan', '--catalog', 'https://bot:pw-in-url-2@git.example/catalog.git'],
        'AIRLOCK_GIT_AUTH_GIT_EXAMPLE',
      ],
      [
        ['image', 'copy', 'robot:pw-in-url-2@127.0.0.1:9/acme/app:1', `oci:${path.join(work, 'store')}`],
        'SRC carries credentials before the registry',
      ],
      [
        ['image', 'copy', '127.0.0.1:9/acme/app:1', 'docker://robot:pw-in-url-2@127.0.0.1:9/mirror/app'],
        'DST carries credentials',
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await airlock(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(expected);
      expect(r.stderr + r.stdout).not.toContain('pw-in-url-2');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(fs.readdirSync(work)).toEqual([]);
  });
});

describe('credentials go through registries[] and the environment, and appear in no output', () => {
  let redisServer: TestRedis;
  let repo: ChartRepoServer;
  let files: Awaited<ReturnType<typeof startTokenFileServer>>;
  const chartAuth = { username: 'reader', password: 'chart-pass-3f9a1c' };
  const fileAuth = { token: 'file-token-77d2e0' };
  const tool = randomBytes(4096);
  let work: string;
  const secrets = () => [
    chartAuth.password,
    fileAuth.token,
    Buffer.from(`${chartAuth.username}:${chartAuth.password}`).toString('base64'),
  ];
  const expectNoSecret = (what: string, text: string) => {
    for (const s of secrets()) expect(text.includes(s), `${what} holds a credential`).toBe(false);
  };

  beforeAll(async () => {
    redisServer = await startRedis();
    repo = await startChartRepo(
      [{ name: 'podinfo', version: '6.5.0', tgz: buildChart({ name: 'podinfo', version: '6.5.0' }) }],
      { basicAuth: chartAuth },
    );
    files = await startTokenFileServer(new Map([['/private/tool.tar.gz', tool]]), fileAuth);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'url-creds-'));
  });
  afterAll(async () => {
    await Promise.all([repo?.stop(), files?.stop()]);
    await redisServer?.stop();
  });

  const configLines = (dir: string) => [
    'targets:',
    `  charts: ["${path.join(dir, 'charts')}"]`,
    '  files:',
    `    dir: ${path.join(dir, 'files')}`,
    '    baseUrl: https://files.airgap.example',
    'charts:',
    `  - repo: ${repo.url}`,
    '    name: podinfo',
    '    versions: ["6.5.0"]',
    '    images: false',
    'files:',
    `  - url: ${files.url}/private/tool.tar.gz`,
    // Fails (404): its error goes into the report, the run's failures and the metrics labels.
    `  - url: ${files.url}/private/missing.tar.gz`,
    '',
  ];
  const credentialEnv = () => ({
    [envVar('AUTH', repo.url)]: `${chartAuth.username}:${chartAuth.password}`,
    [envVar('TOKEN', files.url)]: fileAuth.token,
  });

  it('one-shot sync: report, --json report and state file; state keys stay when the credential rotates', async () => {
    const dir = path.join(work, 'one-shot');
    fs.mkdirSync(dir);
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(cfg, configLines(dir).join('\n'));
    const state = path.join(dir, 'state.json');

    const denied = await airlock(['sync', '--config', cfg, '--state', state, '--json']);
    expect(denied.code).not.toBe(0);
    expect(repo.requests.at(-1)?.status).toBe(401);

    const first = await airlock(['sync', '--config', cfg, '--state', state, '--json'], credentialEnv());
    expect(first.code, first.stderr).toBe(5); // the missing file: E_NOT_FOUND
    const report = JSON.parse(first.stdout) as { items: Array<{ kind: string; source: string; status: string }> };
    expect(report.items.map((i) => `${i.kind} ${i.status}`).sort()).toEqual([
      'chart copied',
      'file copied',
      'file failed',
    ]);
    expect(
      fs.readFileSync(path.join(dir, 'files', new URL(files.url).host.replace(':', '-'), 'private', 'tool.tar.gz')),
    ).toEqual(tool);
    expect(files.seen.at(-1)).toBe(`Bearer ${fileAuth.token}`);
    expectNoSecret('--json report', first.stdout);
    expectNoSecret('stderr', first.stderr);
    const keys = Object.keys(
      (JSON.parse(fs.readFileSync(state, 'utf8')) as { records: Record<string, unknown> }).records,
    );
    expect(keys.filter((k) => k.startsWith(`chart ${repo.url} podinfo@6.5.0 -> `))).toHaveLength(1);

    // The password rotates: the same state keys, so nothing is downloaded again.
    chartAuth.password = 'chart-pass-rotated-8b21';
    fileAuth.token = 'file-token-rotated-5c3e';
    repo.requests.length = 0;
    const second = await airlock(['sync', '--config', cfg, '--state', state], credentialEnv());
    expect(second.stdout).toMatch(/unchanged\s+.*podinfo@6\.5\.0/);
    expect(repo.requests.filter((r) => r.path.endsWith('.tgz'))).toEqual([]);
    expectNoSecret('text report', second.stdout + second.stderr);
    expect(
      Object.keys((JSON.parse(fs.readFileSync(state, 'utf8')) as { records: Record<string, unknown> }).records),
    ).toEqual(keys);
    expectNoSecret('state file', fs.readFileSync(state, 'utf8'));
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isFile() && !p.endsWith('.tgz') && !p.endsWith('tool.tar.gz'))
        expectNoSecret(p, fs.readFileSync(p, 'utf8'));
    }
  });

  it('queued run: Redis job data and mirror state, runs list/show, /metrics labels', async () => {
    const dir = path.join(work, 'queued');
    fs.mkdirSync(dir);
    const prefix = `{url-creds-${randomUUID().slice(0, 8)}}`;
    const queueName = `url-creds-${randomUUID()}`;
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      ['redis:', '  url: { env: TEST_REDIS_URL }', `  prefix: "${prefix}"`, ...configLines(dir)].join('\n'),
    );
    const env = { TEST_REDIS_URL: redisServer.url, ...credentialEnv() };
    const redis = new Redis(redisServer.url);
    const queue = new Queue(queueName, { connection: { url: redisServer.url }, prefix });
    let worker: AirlockProcess | undefined;
    let serve: (AirlockProcess & { url: string }) | undefined;
    try {
      worker = await startWorkerProcess(cfg, queueName, env);
      serve = await startServeProcess(cfg, queueName, { TEST_REDIS_URL: redisServer.url });
      const run = await airlock(['sync', '--config', cfg, '--queue', queueName, '--json'], env, 120_000);
      expect(run.code, run.stderr).toBe(5); // one E_NOT_FOUND: the one-shot sync's exit code
      const summary = JSON.parse(run.stdout) as { id: string; summary: Record<string, number> };
      expect(summary.summary).toMatchObject({ copied: 2, failed: 1 });
      expectNoSecret('sync --queue --json', run.stdout + run.stderr);

      const list = await airlock(['runs', 'list', '--config', cfg, '--queue', queueName, '--json'], {
        TEST_REDIS_URL: redisServer.url,
      });
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain(summary.id);
      expectNoSecret('runs list --json', list.stdout);
      const shown = await airlock(['runs', 'show', summary.id, '--config', cfg, '--queue', queueName], {
        TEST_REDIS_URL: redisServer.url,
      });
      expect(shown.stdout).toContain('missing.tar.gz');
      expectNoSecret('runs show', shown.stdout);

      const dump = await redisText(redis, prefix);
      expect(dump).toContain(`${repo.url}`); // job data and state are there, without credentials
      expectNoSecret('Redis job data and mirror state', dump);

      const metrics = await (await fetch(`${serve.url}/metrics`)).text();
      expect(metrics).toContain(`airlock_last_success_timestamp_seconds{source="${repo.url} podinfo"}`);
      expect(metrics).toMatch(
        new RegExp(
          `airlock_upstream_errors_total\\{upstream="${files.url.replace(/[.]/g, '\\.')}",code="E_NOT_FOUND"\\} 1`,
        ),
      );
      expectNoSecret('/metrics', metrics);
      expectNoSecret('worker and serve logs', worker.stderr() + serve.stderr());
    } finally {
      await worker?.stop();
      await serve?.stop();
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.quit();
    }
  });
});
