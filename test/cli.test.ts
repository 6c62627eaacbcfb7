import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';
import { buildManifest, getManifest, pushImage, randomBlob } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let proxy: TestProxy;
let work: string;
const images: Record<string, ReturnType<typeof buildManifest>> = {};

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startProxy(upstream.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-cli-'));
  for (const tag of ['1.0.0', '1.1.0', '1.2.0', '2.0.0', 'latest']) {
    images[tag] = buildManifest({ layers: [randomBlob(20_000)] });
    await pushImage(upstream.url, 'team/app', tag, images[tag]!);
  }
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([upstream?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

const state = () => ['--state', path.join(work, `state-${Math.random().toString(36).slice(2)}.json`)];

describe('airlock CLI', () => {
  it('prints help', async () => {
    const r = await airlock(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('image');
    const c = await airlock(['image', 'copy', '--help']);
    expect(c.stdout).toContain('--from-file');
    const { version } = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const v = await airlock([flag]);
      expect([v.code, v.stdout.trim()]).toEqual([0, version]);
    }
  });

  it('copies one image and prints a JSON report', async () => {
    const r = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.0.0`,
      `docker://${target.host}/cli/app`,
      '--json',
      ...state(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; items: Array<{ status: string; targetDigest: string }> };
    expect(report.ok).toBe(true);
    expect(report.items[0]).toMatchObject({ status: 'copied', targetDigest: images['1.0.0']!.digest });
    expect((await getManifest(target.url, 'cli/app', '1.0.0')).status).toBe(200);
  });

  it('plans without copying on --dry-run', async () => {
    const r = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.1.0`,
      `docker://${target.host}/cli/dry`,
      '--dry-run',
      ...state(),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^planned /m);
    expect((await getManifest(target.url, 'cli/dry', '1.1.0')).status).toBe(404);
  });

  it('reports on a dry run what the target holds, not the source digest', async () => {
    const st = state();
    const dry = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.1.0`,
      `docker://${target.host}/cli/dry-json`,
      '--dry-run',
      '--json',
      ...st,
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    const [planned] = (JSON.parse(dry.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(planned).toMatchObject({ status: 'planned', sourceDigest: images['1.1.0']!.digest });
    expect(planned).not.toHaveProperty('targetDigest');
    // The target's tag holds another image: that is what the dry run reports for it.
    expect(
      (
        await airlock([
          'image',
          'copy',
          `docker://${upstream.host}/team/app:1.0.0`,
          `docker://${target.host}/cli/dry-json:1.1.0`,
          ...st,
        ])
      ).code,
    ).toBe(0);
    const other = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.1.0`,
      `docker://${target.host}/cli/dry-json`,
      '--dry-run',
      '--json',
      ...st,
    ]);
    expect((JSON.parse(other.stdout) as { items: Array<Record<string, unknown>> }).items[0]).toMatchObject({
      status: 'planned',
      sourceDigest: images['1.1.0']!.digest,
      targetDigest: images['1.0.0']!.digest,
    });
    const text = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.1.0`,
      `docker://${target.host}/cli/dry-json`,
      '--dry-run',
      ...st,
    ]);
    expect(text.stdout).toContain(
      `${images['1.1.0']!.digest.slice(0, 19)} (target has ${images['1.0.0']!.digest.slice(0, 19)})`,
    );
    expect(text.stdout).toMatch(/^1 image: 0 copied, 0 unchanged, 1 planned, 0 failed;/m);
  });

  it('says unchanged (trusted) for a target it did not check, and checks it with --verify-targets', async () => {
    const st = state();
    const args = [
      'image',
      'copy',
      `docker://${upstream.host}/team/app:1.2.0`,
      `docker://${target.host}/cli/trusted`,
      ...st,
    ];
    expect((await airlock(args)).code).toBe(0);
    const again = await airlock(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged \(trusted\) docker:\/\/.*team\/app:1\.2\.0 -> /m);
    expect(again.stdout).toMatch(/^1 image: 0 copied, 1 unchanged \(1 trusted\), 0 planned, 0 failed;/m);
    expect(again.stdout).toMatch(/^1 target was not checked: .*--verify-targets checks every target$/m);
    const json = await airlock([...args, '--json']);
    expect((JSON.parse(json.stdout) as { items: Array<Record<string, unknown>> }).items[0]).toMatchObject({
      status: 'unchanged',
      trusted: true,
    });
    const verified = await airlock([...args, '--verify-targets', '--json']);
    const item = (JSON.parse(verified.stdout) as { items: Array<Record<string, unknown>> }).items[0];
    expect(item).toMatchObject({ status: 'unchanged', targetDigest: images['1.2.0']!.digest });
    expect(item).not.toHaveProperty('trusted');
  });

  it.each([
    [
      ['image', 'copy', 'docker://upper/X', 'oci:/tmp/x'],
      2,
      /\[E_REFERENCE\] docker:\/\/upper\/X: invalid image reference/,
    ],
    [['image', 'copy', 'dir:/tmp/x', 'oci:/tmp/y'], 2, /\[E_TRANSPORT\]/],
    [
      ['image', 'copy', 'docker://127.0.0.1:1/x:1', 'oci:/tmp/y'],
      3,
      /\[E_UNREACHABLE\] docker:\/\/127\.0\.0\.1:1\/x:1: cannot reach 127\.0\.0\.1:1/,
    ],
    [['image', 'copy', 'only-one-arg'], 2, /needs SRC and DST/],
    [['image', 'copy', 'docker://x.io/a:1', 'oci:/tmp/y', '--platform', 'amd64'], 2, /invalid platform "amd64"/],
    [['config', 'check', '/nonexistent.yaml'], 2, /\[E_CONFIG\] cannot read config \/nonexistent\.yaml/],
  ])('airlock %j exits %i with a one-line error', async (args, code, message) => {
    const r = await airlock(
      [...args, '--log-level', 'fatal'].filter(
        (a) => !(args[0] === 'config' && (a === '--log-level' || a === 'fatal')),
      ),
    );
    expect(r.code).toBe(code);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toMatch(message as RegExp);
  });

  it.each([
    [['image', 'sync'], "required option '-c, --config <file>' not specified"],
    [['sync'], "required option '-c, --config <file>' not specified"],
    [['worker'], "required option '-c, --config <file>' not specified"],
    [['runs', 'show', '1'], "required option '-c, --config <file>' not specified"],
    [['chart', 'copy', 'a'], "missing required argument 'chart@version'"],
    [['image', 'copy', '--bogus'], "unknown option '--bogus'"],
    [['config', 'check'], "missing required argument 'file'"],
    [['bogus'], "unknown command 'bogus'"],
    [['imgae'], "unknown command 'imgae' (Did you mean image?)"],
  ])('a usage error the parser finds, airlock %j, is one [E_USAGE] line and exit 2', async (args, message) => {
    const r = await airlock(args);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `airlock: [E_USAGE] ${message}\n`]);
  });

  it.each([
    [['image', 'copy', 'a', 'b', '--concurrency', 'abc'], '--concurrency must be a positive whole number, got "abc"'],
    [['image', 'copy', 'a', 'b', '--concurrency', '0'], '--concurrency must be a positive whole number, got "0"'],
    [['worker', '-c', 'x', '--concurrency', '2x'], '--concurrency must be a positive whole number, got "2x"'],
    [['worker', '-c', 'x', '--lock-duration', 'abc'], '--lock-duration must be a positive whole number, got "abc"'],
    [['worker', '-c', 'x', '--stalled-interval', '0'], '--stalled-interval must be a positive whole number, got "0"'],
    [
      ['worker', '-c', 'x', '--shutdown-grace', 'soon'],
      '--shutdown-grace must be a non-negative whole number, got "soon"',
    ],
    [['serve', '-c', 'x', '--shutdown-grace', '-5'], '--shutdown-grace must be a non-negative whole number, got "-5"'],
    [
      ['sync', '-c', 'x', '--queue', '--unclaimed-after', 'x'],
      '--unclaimed-after must be a number of seconds, got "x"',
    ],
    [
      ['runs', 'retry', '1', '-c', 'x', '--unclaimed-after', '-1'],
      '--unclaimed-after must be a number of seconds, got "-1"',
    ],
  ])(
    'a numeric option that is not its number, airlock %j, is a usage error before anything runs',
    async (args, message) => {
      const r = await airlock(args);
      expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `airlock: [E_USAGE] ${message}\n`]);
    },
  );

  it('prints the help of a command group named without its subcommand on stderr, exit 2', async () => {
    for (const args of [['image'], ['runs'], []]) {
      const r = await airlock(args);
      expect([r.code, r.stdout], args.join(' ')).toEqual([2, '']);
      expect(r.stderr).toMatch(/^Usage: airlock/);
    }
    const help = await airlock(['help', 'image']);
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^Usage: airlock image/);
  });

  it('with --json, a command that fails before its run prints a report holding the error, and the same line on stderr', async () => {
    const bad = await airlock(['image', 'copy', 'docker://127.0.0.1:5000/Team/x:1', 'oci:./x', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'airlock: [E_REFERENCE] docker://127.0.0.1:5000/Team/x:1: invalid image reference: repository name "Team/x" must be lowercase\n',
    );
    const report = JSON.parse(bad.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      ok: false,
      error: {
        code: 'E_REFERENCE',
        artifact: 'docker://127.0.0.1:5000/Team/x:1',
        message: 'invalid image reference: repository name "Team/x" must be lowercase',
      },
      summary: { copied: 0, unchanged: 0, planned: 0, failed: 0 },
      items: [],
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    // A usage error the parser finds, and a config that cannot be read, alike.
    for (const args of [
      ['image', 'copy', '--bogus', '--json'],
      ['sync', '--config', '/nonexistent.yaml', '--json'],
    ]) {
      const r = await airlock(args);
      expect(r.code).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toMatch(/^E_(USAGE|CONFIG)$/);
      expect(r.stderr.split('\n')).toHaveLength(2);
    }
    // Without --json stdout stays empty.
    expect((await airlock(['image', 'copy', 'docker://127.0.0.1:5000/Team/x:1', 'oci:./x'])).stdout).toBe('');
  });

  it('exits 5 for an unknown manifest, naming it', async () => {
    const r = await airlock([
      'image',
      'copy',
      `docker://${upstream.host}/team/app:9.9.9`,
      `docker://${target.host}/cli/none`,
      ...state(),
    ]);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/failed +docker:\/\/.*team\/app:9\.9\.9 .*\[E_NOT_FOUND\]/);
  });

  it('copies a list with --from-file; a bad line and a missing image fail alone', async () => {
    const list = path.join(work, 'list.txt');
    fs.writeFileSync(
      list,
      [
        '# mirror list',
        `docker://${upstream.host}/team/app:1.0.0 docker://${target.host}/list/app`,
        `docker://${upstream.host}/team/app:1.2.0   docker://${target.host}/list/app`,
        'just-one-field',
        `docker://${upstream.host}/team/app:0.0.1 docker://${target.host}/list/app`,
        `docker://${upstream.host}/team/app:2.0.0 oci:${path.join(work, 'list-store')}`,
        '',
      ].join('\n'),
    );
    const r = await airlock(['image', 'copy', '--from-file', list, '--json', ...state()]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as {
      summary: Record<string, number>;
      items: Array<{ source: string; status: string; error?: { code: string } }>;
    };
    expect(report.summary).toMatchObject({ copied: 3, failed: 2 });
    expect(report.items.find((i) => i.source.endsWith('list.txt:4'))?.error?.code).toBe('E_USAGE');
    expect(report.items.find((i) => i.source.endsWith('/team/app:0.0.1'))?.error?.code).toBe('E_NOT_FOUND');
    expect((await getManifest(target.url, 'list/app', '1.2.0')).status).toBe(200);
  });

  it('syncs the images of a config, then re-syncs with HEAD requests only', async () => {
    const cfg = path.join(work, 'airlock.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  images:',
        `    registry: ${target.host}/mirror`,
        'images:',
        `  - source: ${proxy.host}/team/app`,
        '    semver: ">=1.1.0 <3"',
        '    newest: 2',
        `  - source: ${proxy.host}/team/app:latest`,
        `    target: ${target.host}/pinned/app`,
        `  - source: ${proxy.host}/team/missing`,
        '    newest: 1',
      ].join('\n'),
    );
    const check = await airlock(['config', 'check', cfg]);
    expect(check.code).toBe(0);
    const st = state();
    const first = await airlock(['image', 'sync', '--config', cfg, '--json', ...st]);
    const report = JSON.parse(first.stdout) as {
      summary: Record<string, number>;
      items: Array<{ source: string; target: string; status: string; error?: { code: string } }>;
    };
    expect(report.summary).toMatchObject({ copied: 3, failed: 1 });
    expect(report.items.find((i) => i.status === 'failed')).toMatchObject({
      source: `${proxy.host}/team/missing`,
      error: { code: 'E_NOT_FOUND' },
    });
    expect(first.code).toBe(5);
    const host = proxy.host.replace(':', '-');
    expect((await getManifest(target.url, `mirror/${host}/team/app`, '2.0.0')).status).toBe(200);
    expect((await getManifest(target.url, `mirror/${host}/team/app`, '1.2.0')).status).toBe(200);
    expect((await getManifest(target.url, `mirror/${host}/team/app`, '1.1.0')).status).toBe(404);
    expect((await getManifest(target.url, 'pinned/app', 'latest')).status).toBe(200);

    proxy.reset();
    const again = await airlock(['image', 'sync', '--config', cfg, '--json', ...st]);
    const second = JSON.parse(again.stdout) as { summary: Record<string, number> };
    expect(second.summary).toMatchObject({ copied: 0, unchanged: 3, blobsCopied: 0 });
    const kinds = new Set(proxy.log.map((e) => `${e.method} ${e.path.replace(/\/(manifests|tags)\/.*/, '/$1')}`));
    expect([...kinds].sort()).toEqual([
      'GET /v2/team/app/tags',
      'GET /v2/team/missing/tags',
      'HEAD /v2/team/app/manifests',
    ]);
  });
});

describe('the airlock launcher', () => {
  // Node 22.1+ keeps the compiled code itself (module.enableCompileCache); the launcher's own
  // cache is for Node 20, where these tests look at its files.
  const nodeCaches = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
  const cacheFiles = (home: string) => {
    const dir = path.join(home, 'airlock', 'compile-cache');
    return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  };
  /** What a cache file is for: `command.file` (the hash, V8 version and architecture before it). */
  const cacheKinds = (home: string) =>
    cacheFiles(home)
      .map((f) => /-([a-z][a-z-]*\.[a-z-]+)\.bin$/.exec(f)?.[1])
      .sort();
  const snapshot = (files: string[]) =>
    files.map((f) => `${path.basename(f)} ${fs.statSync(f).mtimeMs} ${fs.readFileSync(f).length}`);

  it('keeps a compiled-code cache per command and file it loads, used as it is by later runs, also after a run that uploaded', async () => {
    const home = fs.mkdtempSync(path.join(work, 'cache-'));
    const env = { XDG_CACHE_HOME: home };
    const copy = (repo: string) =>
      airlock(
        [
          'image',
          'copy',
          `docker://${upstream.host}/team/app:1.2.0`,
          `docker://${target.host}/launcher/${repo}`,
          '--json',
          ...state(),
        ],
        env,
      );
    const first = await copy('a');
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { summary: { copied: number } }).summary.copied).toBe(1);
    const files = cacheFiles(home);
    expect(files.length).toBeGreaterThan(0);
    if (nodeCaches) return;
    expect(files.map((f) => path.basename(f))).toEqual(
      files.map(() => expect.stringMatching(/^[0-9a-f]{16}-.+-image\.[a-z-]+\.bin$/)),
    );
    // The uploads loaded the client for requests with a body, a file of its own.
    expect(cacheKinds(home)).toEqual(['image.main', 'image.undici-core']);
    const before = snapshot(files);
    // The uploads' client changes a V8 flag as it loads; a cache V8 refused for that would be
    // written again by every run.
    const noop = await copy('a');
    expect((JSON.parse(noop.stdout) as { summary: { unchanged: number } }).summary.unchanged).toBe(1);
    expect((await copy('b')).code).toBe(0);
    expect(snapshot(cacheFiles(home))).toEqual(before);

    const check = await airlock(
      ['config', 'check', '--no-secrets', path.join(import.meta.dirname, '..', 'config', 'airlock.example.yaml')],
      env,
    );
    expect(check.code, check.stderr).toBe(0);
    // The config file's libraries are files of their own, loaded (and cached) by the commands that
    // read one; semver by those that check or select by a range (the example has ranges).
    expect(cacheKinds(home)).toEqual([
      'config.main',
      'config.semver',
      'config.yaml',
      'config.zod',
      'image.main',
      'image.undici-core',
    ]);
  });

  it('replaces a damaged cache, writes none after help or a failure, and runs without a usable cache location', async () => {
    const dryRun = (env: Record<string, string>) =>
      airlock(
        [
          'image',
          'copy',
          `docker://${upstream.host}/team/app:1.1.0`,
          `docker://${target.host}/launcher/dry`,
          '--dry-run',
          ...state(),
        ],
        env,
      );
    const expectPlanned = (r: { code: number; stdout: string; stderr: string }) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^planned .*launcher\/dry:1\.1\.0/m);
    };
    const home = fs.mkdtempSync(path.join(work, 'cache-'));
    expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
    if (!nodeCaches) {
      const [file] = cacheFiles(home);
      fs.writeFileSync(file!, Buffer.alloc(4096, 7));
      expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
      expect(fs.readFileSync(file!).equals(Buffer.alloc(4096, 7))).toBe(false);
      const rewritten = snapshot([file!]);
      expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
      expect(snapshot([file!])).toEqual(rewritten);
      expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(file!)).mode & 0o777).toBe(0o700);
      // A cache others could have written is not run, and is replaced by one of this user's.
      fs.chmodSync(file!, 0o666);
      expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
      expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
      // Nor is a link in its place (it may point anywhere), nor a FIFO (which must not hold the
      // command up): each is replaced by a cache file.
      const elsewhere = path.join(work, 'elsewhere.bin');
      fs.copyFileSync(file!, elsewhere);
      fs.rmSync(file!);
      fs.symlinkSync(elsewhere, file!);
      expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
      expect(fs.lstatSync(file!).isFile()).toBe(true);
      fs.rmSync(file!);
      execFileSync('mkfifo', [file!]);
      expectPlanned(await dryRun({ XDG_CACHE_HOME: home }));
      expect(fs.lstatSync(file!).isFile()).toBe(true);
      // A cache directory others can write is neither read nor written.
      const shared = fs.mkdtempSync(path.join(work, 'cache-'));
      fs.mkdirSync(path.join(shared, 'airlock', 'compile-cache'), { recursive: true });
      fs.chmodSync(path.join(shared, 'airlock', 'compile-cache'), 0o777);
      expectPlanned(await dryRun({ XDG_CACHE_HOME: shared }));
      expect(cacheFiles(shared)).toEqual([]);

      const other = fs.mkdtempSync(path.join(work, 'cache-'));
      expect((await airlock(['image', 'copy', '--help'], { XDG_CACHE_HOME: other })).code).toBe(0);
      const failed = await airlock(
        [
          'image',
          'copy',
          `docker://${upstream.host}/team/nothing:1`,
          `docker://${target.host}/launcher/none`,
          ...state(),
        ],
        { XDG_CACHE_HOME: other },
      );
      expect(failed.code).toBe(5);
      expect(cacheFiles(other)).toEqual([]);
    }
    // A file where the cache directory should be: no cache, same command.
    const blocked = path.join(work, 'not-a-dir');
    fs.writeFileSync(blocked, '');
    expectPlanned(await dryRun({ XDG_CACHE_HOME: blocked }));
    const off = fs.mkdtempSync(path.join(work, 'cache-'));
    expectPlanned(await dryRun({ XDG_CACHE_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' }));
    expect(cacheFiles(off)).toEqual([]);
  });
});

describe('config check says what every run would refuse in the config, by key path (exit 2, E_CONFIG)', () => {
  const to = 'targets:\n  images:\n    registry: 127.0.0.1:5001\n';
  const write = (name: string, yaml: string) => {
    const file = path.join(work, `${name}.yaml`);
    fs.writeFileSync(file, yaml);
    return file;
  };

  it.each([
    [
      'source',
      `${to}images:\n  - source: 127.0.0.1:5000/Team/App\n`,
      'images[0].source: invalid image reference: repository name "Team/App" must be lowercase',
    ],
    [
      'target',
      'images:\n  - source: 127.0.0.1:5000/team/app\n    target: 127.0.0.1:5001/UPPER/app\n',
      'images[0].target: invalid image reference: repository name "UPPER/app" must be lowercase',
    ],
    [
      'tags',
      `${to}images:\n  - source: redis\n    tags: ["bad tag", "-lead"]\n`,
      'images[0].tags[0]: tag "bad tag" is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128); images[0].tags[1]: tag "-lead" is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128)',
    ],
    [
      'registry',
      'targets:\n  images:\n    registry: http://127.0.0.1:5001/x\nimages:\n  - source: redis\n',
      'targets.images.registry: invalid image reference: "http:" is not a registry host (host name, IPv4 or [IPv6] address, optional :port)',
    ],
    [
      'path',
      `${to}    path: "{hst}/{repository}"\nimages:\n  - source: redis\n`,
      'targets.images.path: unknown placeholder in "{hst}/{repository}" (use {host}, {repository}, {name})',
    ],
    [
      'no-target',
      'images:\n  - source: redis\n',
      'images[0]: no target: set images[0].target or targets.images.registry',
    ],
    [
      'no-chart-target',
      'charts:\n  - repo: https://charts.example\n    name: app\n',
      'charts: is set but targets.charts is empty (every chart version goes to each targets.charts entry)',
    ],
    [
      'chart-target',
      'targets:\n  charts: ["s3://bucket/x"]\n',
      'targets.charts[0]: a chart target is oci://HOST/PATH, cm+http(s)://HOST[/TENANT] or a directory',
    ],
    [
      'semver',
      `${to}  charts: [/srv/c]\nimages:\n  - source: redis\n    semver: "not-a-range!!"\ncharts:\n  - repo: https://c.example\n    name: a\n    semver: latest\n`,
      'images[0].semver: "not-a-range!!" is not a semver range; charts[0].semver: "latest" is not a semver range',
    ],
    [
      'secrets',
      `registries:\n  - host: a.example\n    username: u\n    password: { env: AIRLOCK_CLI_TEST_UNSET }\n  - host: b.example\n    username: u\n    password: { file: /nonexistent/token }\n`,
      'registries[0].password reads environment variable AIRLOCK_CLI_TEST_UNSET, which is not set; registries[1].password reads secret file /nonexistent/token, which cannot be read (ENOENT)',
    ],
  ])('%s', async (name, yaml, expected) => {
    const file = write(`check-${name}`, yaml);
    const r = await airlock(['config', 'check', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([`airlock: [E_CONFIG] ${file}: ${expected}`]);
  });

  it('runs refuse the same config at start with the same line; --no-secrets leaves out only the secrets', async () => {
    const bad = write('run-source', `${to}images:\n  - source: 127.0.0.1:5000/Team/App\n`);
    for (const args of [
      ['image', 'sync', '--config', bad, '--dry-run', ...state()],
      ['sync', '--config', bad, '--dry-run', ...state()],
    ]) {
      const r = await airlock(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toEqual([
        `airlock: [E_CONFIG] ${bad}: images[0].source: invalid image reference: repository name "Team/App" must be lowercase`,
      ]);
    }
    const secrets = write(
      'secrets-only',
      'registries:\n  - host: a.example\n    username: u\n    password: { env: AIRLOCK_CLI_TEST_UNSET }\n',
    );
    const ok = await airlock(['config', 'check', '--no-secrets', secrets]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${secrets}: ok (0 image entries, 1 registries; secrets not read)\n`);
    const set = await airlock(['config', 'check', secrets], { AIRLOCK_CLI_TEST_UNSET: 'hunter22' });
    expect(set.code, set.stderr).toBe(0);
  });
});
