import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/defaults.js';
import { parseMirrorImagePayload } from '../src/model/image-payload.js';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger, createPinoLogger } from '../src/core/log.js';
import { Readable, Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { parseChallenge } from '../src/oci/auth.js';
import { parseRetryAfter } from '../src/http/client.js';
import { formatRef, isLoopbackRegistry, parseImageRef, parseRegistryRef } from '../src/oci/reference.js';
import { nextLink } from '../src/oci/registry/tags.js';
import { clearSecrets, redact, redactValue, registerSecret } from '../src/core/secrets.js';
import { selectTags } from '../src/sources/tag-selection.js';
import { fileMirrorState } from '../src/state/mirror-state.js';
import { targetRepository } from '../src/targets/image-target.js';
import { createVerifyingStream } from '../src/oci/verify-stream.js';
import { writeStreamAtomic } from '../src/core/fs-atomic.js';
import { failedChildItems } from '../src/queue/sync-flow.js';
import { JOB } from '../src/model/job-names.js';
import { emptyRetryPlan } from '../src/model/retry-plan.js';

describe('image references', () => {
  it.each([
    ['redis', 'docker.io', 'library/redis', 'latest'],
    ['redis:7.2', 'docker.io', 'library/redis', '7.2'],
    ['bitnami/redis', 'docker.io', 'bitnami/redis', 'latest'],
    ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1'],
    ['docker://ghcr.io/fluxcd/helm-controller:v0.36.0', 'ghcr.io', 'fluxcd/helm-controller', 'v0.36.0'],
    ['localhost:5000/app', 'localhost:5000', 'app', 'latest'],
    ['localhost/app:1', 'localhost', 'app', '1'],
    ['127.0.0.1:5000/a/b/c:x', '127.0.0.1:5000', 'a/b/c', 'x'],
  ])('normalises %s like Docker', (input, registry, repository, tag) => {
    expect(parseRegistryRef(input)).toEqual({ transport: 'docker', registry, repository, tag });
  });

  it('keeps digests and drops the default tag when a digest is given', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseRegistryRef(`quay.io/x/y@${d}`)).toEqual({ transport: 'docker', registry: 'quay.io', repository: 'x/y', digest: d });
    expect(formatRef(parseRegistryRef(`quay.io/x/y:1@${d}`))).toBe(`docker://quay.io/x/y@${d}`);
  });

  it.each([
    ['docker://foo/Bar', /lowercase/],
    ['1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', /image id/],
    ['docker://ghcr.io/', /missing repository/],
    ['docker://ghcr.io/x:bad tag', /whitespace/],
    ['ghcr.io/x@sha256:abc', /digest/],
    ['ghcr.io/x:' + 'a'.repeat(200), /not a valid tag/],
  ])('rejects %s with E_REFERENCE', (input, why) => {
    expect(() => parseImageRef(input)).toThrow(why);
    try {
      parseImageRef(input);
    } catch (e) {
      expect(e).toMatchObject({ code: 'E_REFERENCE', artifact: input });
    }
  });

  it('rejects unknown transports and parses oci: layouts', () => {
    expect(() => parseImageRef('docker-archive:/tmp/x.tar')).toThrow(/unknown transport/);
    expect(() => parseImageRef('https://ghcr.io/x')).toThrow(/unknown transport/);
    expect(parseImageRef('oci:/tmp/store:1.0')).toEqual({ transport: 'oci', dir: '/tmp/store', tag: '1.0' });
    expect(parseImageRef('oci:/tmp/store')).toEqual({ transport: 'oci', dir: '/tmp/store' });
  });

  it('treats loopback registries as plain HTTP candidates', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.local:5000')).toBe(false);
  });
});

describe('tag selection', () => {
  const tags = ['latest', '1.0.0', '1.1.0', '1.2.0-rc.1', '1.2.0', 'v2.0.0', '2.1', 'main', 'sha-abc'];
  it('combines exact tags, semver ranges, regexes and newest N', () => {
    expect(selectTags(tags, { tags: ['latest'] })).toEqual(['latest']);
    expect(selectTags(tags, { semver: '>=1.1.0 <2' }).sort()).toEqual(['1.1.0', '1.2.0']);
    expect(selectTags(tags, { regex: '^sha-' })).toEqual(['sha-abc']);
    expect(selectTags(tags, { newest: 2 })).toEqual(['2.1', 'v2.0.0']);
    expect(selectTags(tags, { semver: '^1', newest: 1, tags: ['main'] })).toEqual(['main', '1.2.0']);
  });
});

describe('target paths', () => {
  it('keeps the source host as a path component by default, and follows a custom rule', () => {
    const src = parseRegistryRef('127.0.0.1:5000/team/app', { defaultTag: false });
    expect(targetRepository(src, { registry: 'mirror.local', path: '{host}/{repository}' })).toBe('docker://mirror.local/127.0.0.1-5000/team/app');
    expect(targetRepository(parseRegistryRef('redis', { defaultTag: false }), { registry: 'mirror.local/base/', path: 'hub/{name}' })).toBe('docker://mirror.local/base/hub/redis');
    expect(targetRepository(src, { registry: 'oci:/srv/store', path: '{host}/{repository}' })).toBe('oci:/srv/store/127.0.0.1-5000/team/app');
    expect(() => targetRepository(src, { registry: 'm', path: '{owner}/x' })).toThrow(/unknown placeholder/);
  });
});

describe('config', () => {
  it('applies defaults and names the key path of a problem', () => {
    const c = parseConfig({ images: [{ source: 'redis', tags: ['7'] }] });
    expect(c.concurrency).toEqual({ images: 8, blobs: 8 });
    expect(() => parseConfig({ images: [{ source: 'redis', newest: -1 }] }, 'a.yaml')).toThrow(/a\.yaml: images\[0\]\.newest/);
    expect(() => parseConfig({ registries: [{ host: 'x', username: 'u', password: 'plain' }] })).toThrow(/registries\[0\]\.password: must be \{ env: VAR \} or \{ file: PATH \}/);
    expect(() => parseConfig({ images: [{ source: 'x', regex: '(' }] })).toThrow(/images\[0\]\.regex: invalid regular expression/);
    expect(() => parseConfig({ imagez: [] })).toThrow(/imagez/);
  });

  it('runs without a config file on exactly the defaults the schema gives an empty document', () => {
    expect(defaultConfig()).toStrictEqual(parseConfig({}));
    // Each call is a fresh object: commands change concurrency in place.
    const a = defaultConfig();
    a.concurrency.images = 1;
    expect(defaultConfig().concurrency.images).toBe(8);
  });

  it('reports unreadable and non-YAML files with E_CONFIG', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'images: [\n  - source: x\n');
    expect(() => loadConfig(path.join(dir, 'bad.yaml'))).toThrow(/not valid YAML at line/);
    expect(() => loadConfig(path.join(dir, 'missing.yaml'))).toThrow(/cannot read config .* ENOENT/);
  });

  it('validates the example config shipped in config/', () => {
    const c = loadConfig(path.join(import.meta.dirname, '..', 'config', 'airlock.example.yaml'));
    expect(c.images.length).toBeGreaterThan(0);
  });
});

describe('logger', () => {
  it('writes, once pino is up, every line that passed the level, in order, with child bindings and secrets redacted', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _e, cb) {
        lines.push(...String(chunk).trim().split('\n'));
        cb();
      },
    });
    registerSecret('s3cr3t-token-value');
    const logger = createLogger({ level: 'info', destination });
    logger.debug('below the level');
    logger.info({ n: 1 }, 'first');
    logger.child({ jobId: '42' }).warn('second with s3cr3t-token-value');
    logger.error('third');
    await logger.flush();
    const got = lines.map((l) => JSON.parse(l) as { msg: string; n?: number; jobId?: string; level: number });
    expect(got.map((l) => l.msg)).toEqual(['first', 'second with ***', 'third']);
    expect(got[0]).toMatchObject({ n: 1, level: 30 });
    expect(got[1]).toMatchObject({ jobId: '42', level: 40 });
    clearSecrets();
  });

  it('logs Fastify requests as method and redacted URL, responses as status, and copies only plain values', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _e, cb) {
        lines.push(...String(chunk).trim().split('\n'));
        cb();
      },
    });
    const app = Fastify({ loggerInstance: (await createPinoLogger({ level: 'info', destination })) as FastifyBaseLogger });
    app.get('/hook', async () => ({ ok: true }));
    try {
      expect((await app.inject({ method: 'GET', url: '/hook?token=abcdef123456&x=1' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
    const got = lines.map((l) => JSON.parse(l) as { msg: string; req?: unknown; res?: unknown });
    expect(got.find((l) => l.msg === 'incoming request')?.req).toEqual({ method: 'GET', url: '/hook?token=***&x=1' });
    expect(got.find((l) => l.msg === 'request completed')?.res).toEqual({ statusCode: 200 });
    expect(lines.join('\n')).not.toContain('abcdef123456');

    class Box {
      constructor(readonly password: string) {}
    }
    const box = new Box('hunter2-secret');
    const out = redactValue({ box, list: [{ token: 'x' }], url: 'https://u:pw-123@h/', err: new Error('token=abc failed') }) as Record<string, unknown>;
    expect(out.box).toBe(box);
    expect(out.list).toEqual([{ token: '***' }]);
    expect(out.url).toBe('https://u:***@h/');
    expect(out.err).toEqual({ type: 'Error', message: 'token=*** failed', code: undefined });
  });

  it('writes plain JSON lines to stderr when pino cannot start, instead of keeping them', () => {
    const log = path.resolve(import.meta.dirname, '../dist/src/core/log.js');
    // A destination pino cannot even inspect makes starting pino fail in the child process.
    const script = `
      const { createLogger } = await import(${JSON.stringify(log)});
      const destination = new Proxy({}, { get() { throw new Error('no destination'); } });
      const logger = createLogger({ level: 'info', destination });
      logger.info({ n: 1 }, 'while loading token=abcdef123');
      await logger.flush();
      logger.child({ jobId: '7' }).warn('after the failure');
      logger.debug('below the level');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^airlock: cannot start the logger: .*no destination/);
    const got = lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toHaveLength(2);
    expect(got[0]).toMatchObject({ level: 30, name: 'airlock', n: 1, msg: 'while loading token=***' });
    expect(got[1]).toMatchObject({ level: 40, jobId: '7', msg: 'after the failure' });
  });

  it('stays silent without loading anything, and names a bad level', async () => {
    const logger = createLogger({ level: 'silent' });
    logger.fatal('nothing');
    await logger.flush();
    expect(() => createLogger({ level: 'verbose' })).toThrow(/unknown log level "verbose"/);
  });
});

describe('mirror-image payloads', () => {
  it('accepts what the planners and webhooks enqueue', () => {
    const p = { source: 'docker://docker.io/library/redis:7', target: 'docker://127.0.0.1:5000/redis', platforms: ['linux/amd64'], referrers: true, immutable: false };
    expect(parseMirrorImagePayload(p)).toEqual(p);
  });

  it('names what is wrong with anything else', () => {
    const bad = (payload: unknown) => () => parseMirrorImagePayload(payload);
    expect(bad(null)).toThrow(/mirror-image payload invalid: not an object/);
    expect(bad(['docker://a/b:1'])).toThrow(/not an object/);
    expect(bad({ target: 'docker://x/y' })).toThrow(/source must be a non-empty string/);
    expect(bad({ source: 'docker://a/b:1', target: '' })).toThrow(/target must be a non-empty string/);
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', platforms: 'linux/amd64' })).toThrow(/platforms must be a list of strings/);
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', dryRun: 'yes' })).toThrow(/dryRun must be true or false/);
    expect(bad({ source: 'docker://a/b:1', target: 'docker://x/y', tag: 'v1' })).toThrow(/unknown key "tag"/);
  });
});

describe('protocol helpers', () => {
  it('parses challenges, Retry-After and Link headers', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"')).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', realm: 'x' });
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(55_000);
    expect(nextLink('</v2/x/tags/list?last=b&n=2>; rel="next"', 'https://r.io/v2/x/tags/list')).toBe('https://r.io/v2/x/tags/list?last=b&n=2');
    expect(nextLink('<https://evil.io/v2/x/tags/list>; rel="next"', 'https://r.io/v2/x/tags/list')).toBeUndefined();
  });

  it('redacts registered secrets, basic credentials and token-looking fields', () => {
    clearSecrets();
    registerSecret('hunter2-long');
    expect(redact('password is hunter2-long')).toBe('password is ***');
    expect(redact('Authorization: Bearer eyJabc.def')).toBe('Authorization: Bearer ***');
    expect(redact('https://user:pw@host/x')).toBe('https://user:***@host/x');
    expect(redact('{"token":"abc123"}')).toBe('{"token":"***"}');
  });
});

describe('file mirror state', () => {
  it('persists records atomically and reads them back', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'state-')), 'sub', 'state.json');
    const s = fileMirrorState(file);
    await s.set('a -> b', { sourceDigest: 'sha256:1', targetDigest: 'sha256:1', at: 'now' });
    await s.flush();
    expect(await fileMirrorState(file).get('a -> b')).toMatchObject({ targetDigest: 'sha256:1' });
    fs.writeFileSync(file, '{broken');
    await expect(fileMirrorState(file).get('x')).rejects.toMatchObject({ code: 'E_STATE' });
  });

  it('keeps every record set while the file is still being read (a run starts all its jobs at once)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'state-')), 'state.json');
    const old = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`old${i}`, { sourceDigest: 'sha256:0', targetDigest: 'sha256:0', at: 'then' }]));
    fs.writeFileSync(file, JSON.stringify({ version: 1, records: old }));
    const s = fileMirrorState(file);
    const keys = Array.from({ length: 20 }, (_, i) => `new${i}`);
    await Promise.all(keys.map((k) => s.set(k, { sourceDigest: 'sha256:1', targetDigest: 'sha256:1', at: 'now' })));
    await s.flush();
    const reread = fileMirrorState(file);
    for (const k of keys) expect(await reread.get(k), k).toMatchObject({ targetDigest: 'sha256:1' });
    expect(await reread.get('old1999')).toMatchObject({ targetDigest: 'sha256:0' });
  });
});

describe('atomic stream writes', () => {
  it('renames a verified stream into place and leaves nothing behind when a transform fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
    try {
      const body = Buffer.from('layer bytes');
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const good = path.join(dir, 'good');
      await writeStreamAtomic(good, Readable.from([body]), createVerifyingStream({ digest, size: body.length }, 'test'));
      expect(fs.readFileSync(good)).toEqual(body);

      const bad = path.join(dir, 'bad');
      const wrong = createVerifyingStream({ digest: `sha256:${'0'.repeat(64)}`, size: body.length }, 'test');
      await expect(writeStreamAtomic(bad, Readable.from([body]), wrong)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
      expect(fs.readdirSync(dir)).toEqual(['good']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('failed flow children as report items', () => {
  it('a failed addon chart is a chart item named by its first source; an unknown job is a job item', () => {
    const alternatives = [{ repo: 'https://charts.example', chart: 'app', version: '1.0.0', repoType: 'helm' }, { repo: 'oci://mirror/charts', chart: 'app', version: '1.0.0', repoType: 'oci' }];
    const [chart] = failedChildItems({ name: JOB.mirrorAddonChart, data: { key: 'k', alternatives }, reason: '[E_NOT_FOUND] no such chart' }, emptyRetryPlan());
    expect(chart).toMatchObject({ kind: 'chart', source: 'https://charts.example app@1.0.0', status: 'failed', error: { code: 'E_NOT_FOUND', message: 'no such chart' } });
    const [other] = failedChildItems({ name: 'from-a-newer-producer', data: {}, reason: 'boom' }, emptyRetryPlan());
    expect(other).toMatchObject({ kind: 'job', source: 'from-a-newer-producer', status: 'failed' });
  });
});
