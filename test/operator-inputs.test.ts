import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorBotkubeRepository } from '../src/botkube/mirror-plugin-index.js';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { scheduleProblem } from '../src/config/schedule-check.js';
import { resolveSecret } from '../src/config/secret-ref.js';
import { formatErrorLine, type AirlockError } from '../src/core/errors.js';
import { clearSecrets, redact, registerSecret } from '../src/core/secrets.js';
import { readFileBounded } from '../src/core/bounded-read.js';
import { airlock } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { startStaticServer, type StaticServer } from './support/static-server.js';

/** Issue 16 items 10, 11, 13 (Botkube) and 14 (secret and config files): what an operator types or points at. */

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'operator-inputs-'));
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function caught(fn: () => unknown): AirlockError {
  try {
    fn();
  } catch (e) {
    return e as AirlockError;
  }
  throw new Error('expected an error');
}

describe('the secret redactor and config errors (item 10)', () => {
  it('keeps the words of a config error that names a secret key', () => {
    const unset = caught(() => resolveSecret({ env: 'AIRLOCK_TEST_UNSET_VAR' }, 'registries[0].password', {}));
    expect(redact(formatErrorLine(unset))).toBe(
      '[E_CONFIG] registries[0].password reads environment variable AIRLOCK_TEST_UNSET_VAR, which is not set',
    );
    const shape = caught(() => parseConfig({ serve: { registry: { token: 'in-clear-123' } } }, 'airlock.yaml'));
    expect(redact(shape.message)).toBe(
      'airlock.yaml: serve.registry.token: must be { env: VAR } or { file: PATH } (secrets are never written in the config)',
    );
    const header = caught(() =>
      resolveSecret({ env: 'AIRLOCK_TEST_UNSET_VAR' }, 'botkube[repo].headers.X-Auth-Token', {}),
    );
    expect(redact(header.message)).toBe(
      'botkube[repo].headers.X-Auth-Token reads environment variable AIRLOCK_TEST_UNSET_VAR, which is not set',
    );
  });

  it('still redacts secrets written as values, in every form it did', () => {
    clearSecrets();
    expect(redact('password: hunter2-abc')).toBe('password: ***');
    expect(redact('registries[0].password: "hunter2-abc"')).toBe('registries[0].password: "***"');
    expect(redact('db.password=hunter2-abc')).toBe('db.password=***');
    expect(redact('{"token":"t0k3n-xyz","user":"u"}')).toBe('{"token":"***","user":"u"}');
    expect(redact('X-Auth-Token: t0k3n-xyz')).toBe('X-Auth-Token: ***');
    expect(redact('GET /hook?access_token=t0k3n-xyz&x=1')).toBe('GET /hook?access_token=***&x=1');
    expect(redact('Authorization: Bearer abc.def')).toBe('Authorization: Bearer ***');
    expect(redact('https://user:pw-123@host/x')).toBe('https://user:***@host/x');
    // A registered secret goes wherever it appears, key path or not.
    registerSecret('s3cr3t-registered');
    expect(redact('registries[0].password: s3cr3t-registered')).toBe('registries[0].password: ***');
    clearSecrets();
  });
});

describe('schedules are checked as the scheduler reads them (item 11)', () => {
  it('names the schedule and the key of a bad cron pattern or time zone', () => {
    expect(scheduleProblem({ name: 'n', cron: '61 * * * *' })).toEqual({
      key: 'cron',
      message: 'schedule "n": cron "61 * * * *" is not valid: Constraint error, got value 61 expected range 0-59',
    });
    expect(scheduleProblem({ name: 'n', cron: 'every day' })?.message).toMatch(
      /^schedule "n": cron "every day" has 2 field\(s\); expected 5/,
    );
    expect(scheduleProblem({ name: 'n', cron: '0 0 31 2 *' })?.key).toBe('cron');
    expect(scheduleProblem({ name: 'n', cron: '0 3 * * *', tz: 'Mars/Olympus' })).toEqual({
      key: 'tz',
      message: 'schedule "n": unknown time zone "Mars/Olympus" (an IANA name such as Europe/Berlin or UTC)',
    });
    for (const ok of [
      { cron: '0 3 * * *', tz: 'Europe/Berlin' },
      { cron: '*/30 * * * * *' },
      { cron: '@daily' },
      { cron: '0 3 * * 1-5', tz: 'UTC' },
    ]) {
      expect(scheduleProblem({ name: 'ok', ...ok })).toBeUndefined();
    }
  });

  it('airlock config check and airlock scheduler refuse them before touching Redis', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        'cron: "61 * * * *"',
        '',
        /schedules\[0\]\.cron: schedule "nightly": cron "61 \* \* \* \*" is not valid: Constraint error/,
      ],
      ['cron: "every day"', '', /schedules\[0\]\.cron: schedule "nightly": cron "every day" has 2 field/],
      [
        'cron: "0 3 * * *"',
        '    tz: Mars/Olympus\n',
        /schedules\[0\]\.tz: schedule "nightly": unknown time zone "Mars\/Olympus"/,
      ],
    ];
    for (const [cron, tz, expected] of cases) {
      const cfg = path.join(work, 'schedules.yaml');
      // Redis on a port nothing listens on: the check comes first.
      fs.writeFileSync(cfg, `redis:\n  url: redis://127.0.0.1:9\nschedules:\n  - name: nightly\n    ${cron}\n${tz}`);
      for (const args of [
        ['config', 'check', cfg],
        ['scheduler', '--config', cfg],
      ]) {
        const r = await airlock(args);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(expected);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    }
    const good = path.join(work, 'good-schedules.yaml');
    fs.writeFileSync(good, 'schedules:\n  - name: nightly\n    cron: "0 3 * * *"\n    tz: Europe/Berlin\n');
    const ok = await airlock(['config', 'check', good]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('botkube mirror --name (item 13)', () => {
  let upstream: StaticServer;
  beforeAll(async () => {
    upstream = await startStaticServer();
    upstream.files.set('/index.yaml', Buffer.from('entries: []\n'));
  });
  afterAll(async () => {
    await upstream?.stop();
  });

  it('refuses a name that is not one path segment before any request, and writes nothing', async () => {
    const to = path.join(work, 'botkube', 'to');
    for (const name of ['../..', '..', 'a/b', '.airlock', 'x y']) {
      const r = await airlock([
        'botkube',
        'mirror',
        `${upstream.url}/index.yaml`,
        '--to',
        to,
        '--base-url',
        'https://files.example',
        '--name',
        name,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^airlock: \[E_USAGE\] --name "/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(upstream.requests).toEqual([]);
    expect(fs.existsSync(path.join(work, 'botkube'))).toBe(false);
    // A queued payload takes the processor's own check.
    const engine = testEngine();
    try {
      await expect(
        mirrorBotkubeRepository(
          engine,
          { dir: to, baseUrl: 'https://files.example' },
          { name: '../escape', indexUrl: `${upstream.url}/index.yaml` },
        ),
      ).rejects.toMatchObject({
        code: 'E_USAGE',
        message: 'Botkube repository name "../escape" contains a path separator',
      });
    } finally {
      await engine.close();
    }
    expect(upstream.requests).toEqual([]);
  });
});

describe('secret and config files are read with a bound (item 14)', () => {
  it('refuses /dev/zero as a secret or a config, at once, with a clear message', async () => {
    const secret = caught(() => resolveSecret({ file: '/dev/zero' }, 'registries[0].password'));
    expect(secret).toMatchObject({
      code: 'E_CONFIG',
      message:
        'registries[0].password reads secret file /dev/zero, which is larger than 64 KiB, too large for a secret',
    });
    const config = caught(() => loadConfig('/dev/zero'));
    expect(config).toMatchObject({
      code: 'E_CONFIG',
      message: 'cannot read config /dev/zero: larger than 16 MiB, too large for a config file',
    });

    const cfg = path.join(work, 'zero-secret.yaml');
    fs.writeFileSync(
      cfg,
      'registries:\n  - host: 127.0.0.1:9\n    username: u\n    password: { file: /dev/zero }\nimages:\n  - source: 127.0.0.1:9/a/b:1\ntargets:\n  images:\n    registry: 127.0.0.1:9\n',
    );
    const r = await airlock(['image', 'sync', '--config', cfg], {}, 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'airlock: [E_CONFIG] registries[0].password reads secret file /dev/zero, which is larger than 64 KiB, too large for a secret',
    );
    const c = await airlock(['config', 'check', '/dev/zero'], {}, 30_000);
    expect(c.code).toBe(2);
    expect(c.stderr.trim()).toBe(
      'airlock: [E_CONFIG] cannot read config /dev/zero: larger than 16 MiB, too large for a config file',
    );
  });

  it('reads files up to the bound whole', () => {
    const file = path.join(work, 'exact.bin');
    fs.writeFileSync(file, Buffer.alloc(1000, 7));
    expect(readFileBounded(file, 1000)).toEqual(Buffer.alloc(1000, 7));
    expect(() => readFileBounded(file, 999)).toThrow('larger than');
    const secretFile = path.join(work, 'secret.txt');
    fs.writeFileSync(secretFile, 'pa55-word\n');
    expect(resolveSecret({ file: secretFile }, 'k')).toBe('pa55-word');
  });
});
