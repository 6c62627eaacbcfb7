import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { createLogger, silentLogger } from '../src/core/log.js';
import { testEngine } from './support/engine.js';
import { buildManifest, digest, getManifest, pushImage, randomBlob } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { startTokenIssuer, type TokenIssuer } from './support/token-issuer.js';

const user = { username: 'mirror', password: 's3cret-pa55word' };
let issuer: TokenIssuer;
let tokenRegistry: TestRegistry;
let basicRegistry: TestRegistry;
let plain: TestRegistry;

beforeAll(async () => {
  issuer = await startTokenIssuer({ users: { [user.username]: user.password }, anonymousPull: true });
  [tokenRegistry, basicRegistry, plain] = await Promise.all([
    startRegistry({ token: issuer }),
    startRegistry({ htpasswd: user }),
    startRegistry(),
  ]);
});

afterAll(async () => {
  await Promise.all([tokenRegistry?.stop(), basicRegistry?.stop(), plain?.stop()]);
  await issuer?.stop();
});

const envFor = (host: string) => ({
  [`AIRLOCK_AUTH_${host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`]: `${user.username}:${user.password}`,
});

describe('registry authentication', () => {
  it('pulls anonymously through the bearer token flow and pushes with credentials, caching tokens', async () => {
    const m = buildManifest({ layers: [randomBlob(10_000), randomBlob(10_000)] });
    await pushImage(tokenRegistry.url, 'team/app', '1.0', m, user);
    // Pull from the token registry (anonymous pull) into the basic-auth registry (credentials from env).
    const engine = testEngine({ env: envFor(basicRegistry.host) });
    const before = issuer.issued;
    const r = await mirrorImage(
      { source: `docker://${tokenRegistry.host}/team/app:1.0`, target: `docker://${basicRegistry.host}/team/app` },
      { engine, logger: silentLogger() },
    );
    expect(r.targetDigest).toBe(m.digest);
    // One pull token for the whole copy (manifest HEAD, GET and three blobs), not one per request.
    expect(issuer.issued - before).toBe(1);
    const got = await getManifest(basicRegistry.url, 'team/app', '1.0', user);
    expect(digest(got.bytes)).toBe(m.digest);
  });

  it('pushes to a token-auth registry with credentials from config', async () => {
    const m = buildManifest({});
    await pushImage(plain.url, 'src/img', 'v2', m);
    const engine = testEngine({
      config: {
        registries: [{ host: tokenRegistry.host, username: user.username, password: { env: 'TOKEN_REG_PASSWORD' } }],
      },
      env: { TOKEN_REG_PASSWORD: user.password },
    });
    const r = await mirrorImage(
      { source: `docker://${plain.host}/src/img:v2`, target: `docker://${tokenRegistry.host}/mirrored/img` },
      { engine, logger: silentLogger() },
    );
    expect(r.status).toBe('copied');
    expect(
      issuer.requests.some((q) => q.user === user.username && q.scopes.includes('repository:mirrored/img:pull,push')),
    ).toBe(true);
  });

  it('fails with E_UNAUTHORIZED naming the image when credentials are missing or wrong, and leaks no secret', async () => {
    const m = buildManifest({});
    await pushImage(plain.url, 'src/denied', 'v1', m);
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    const wrong = {
      [`AIRLOCK_AUTH_${basicRegistry.host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`]: 'mirror:wrong-password-123',
    };
    const engine = testEngine({ env: wrong, logger });
    const err = await mirrorImage(
      { source: `docker://${plain.host}/src/denied:v1`, target: `docker://${basicRegistry.host}/x/denied` },
      { engine, logger },
    ).catch((e: unknown) => e);
    // The failure is at the target, and the error says so.
    expect(err).toMatchObject({ code: 'E_UNAUTHORIZED', artifact: `docker://${basicRegistry.host}/x/denied:v1` });
    expect(String((err as Error).message)).toMatch(/401/);
    logger.info(
      { authorization: `Basic ${Buffer.from('mirror:wrong-password-123').toString('base64')}` },
      'password wrong-password-123 in a message',
    );
    await logger.flush();
    const all = lines.join('');
    expect(all).toContain('in a message');
    expect(all).not.toContain('wrong-password-123');
    expect(all).not.toContain(Buffer.from('mirror:wrong-password-123').toString('base64'));

    const none = await mirrorImage(
      { source: `docker://${plain.host}/src/denied:v1`, target: `docker://${basicRegistry.host}/x/denied` },
      { engine: testEngine(), logger: silentLogger() },
    ).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'E_UNAUTHORIZED' });
  });

  it('reads credentials from a docker config.json', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockercfg-'));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        auths: { [basicRegistry.host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString('base64') } },
      }),
    );
    const m = buildManifest({});
    await pushImage(plain.url, 'src/dockercfg', 'v1', m);
    const { createEngine } = await import('../src/app/engine.js');
    const { parseConfig } = await import('../src/config/load.js');
    const engine = createEngine({
      config: parseConfig({}),
      logger: silentLogger(),
      env: {},
      dockerConfigPath: path.join(dir, 'config.json'),
    });
    const r = await mirrorImage(
      { source: `docker://${plain.host}/src/dockercfg:v1`, target: `docker://${basicRegistry.host}/x/dockercfg` },
      { engine, logger: silentLogger() },
    );
    expect(r.targetDigest).toBe(m.digest);
    await engine.close();
  });
});

describe('credentials and upload Locations', () => {
  it('never sends the target credentials to another origin an upload POST points at', async () => {
    const { startProxy } = await import('./support/proxy.js');
    // A is the target as configured; B is another origin (another port) in front of the same registry.
    const [a, b] = await Promise.all([startProxy(tokenRegistry.url), startProxy(tokenRegistry.url)]);
    try {
      a.rules.push({
        match: (method, p) => method === 'POST' && /\/blobs\/uploads\/$/.test(p.split('?')[0] ?? ''),
        action: {
          type: 'rewriteHeaders',
          rewrite: (h) => ({
            ...h,
            location: `${b.url}${new URL(String(h.location), a.url).pathname}${new URL(String(h.location), a.url).search}`,
          }),
        },
      });
      const m = buildManifest({ layers: [randomBlob(20_000)] });
      await pushImage(plain.url, 'src/elsewhere', 'v1', m);
      const engine = testEngine({ env: envFor(a.host) });
      const err = await mirrorImage(
        { source: `docker://${plain.host}/src/elsewhere:v1`, target: `docker://${a.host}/mirrored/elsewhere` },
        { engine, logger: silentLogger() },
      ).catch((e: unknown) => e);
      await engine.close();
      // The upload could not complete without credentials, so the copy failed; what matters is who saw them.
      expect(err).toMatchObject({ code: 'E_UNAUTHORIZED' });
      expect(a.log.some((e) => e.method === 'POST' && e.authorization)).toBe(true);
      const elsewhere = b.log.filter((e) => ['PUT', 'PATCH', 'DELETE', 'GET'].includes(e.method));
      expect(elsewhere.length).toBeGreaterThan(0);
      expect(elsewhere.filter((e) => e.authorization)).toEqual([]);
      expect((await getManifest(tokenRegistry.url, 'mirrored/elsewhere', 'v1', user)).status).toBe(404);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
