import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './support/cli.js';
import { buildManifest, pushImage, randomBlob, type BuiltManifest } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { startStaticServer } from './support/static-server.js';

const MiB = 1024 * 1024;
// Escape sequences and carriage returns out: what a reader of the terminal sees, line by line.
const plainLines = (out: string) =>
  out
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n')
    .split(/[\r\n]+/)
    .filter((l) => l.trim() !== '');

let upstream: TestRegistry;
let proxy: TestProxy;
let work: string;
let image: BuiltManifest;
const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(async () => {
  upstream = await startRegistry();
  proxy = await startProxy(upstream.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-progress-'));
  image = buildManifest({ layers: [randomBlob(6 * MiB), randomBlob(3 * MiB)] });
  await pushImage(upstream.url, 'slow/app', '1', image);
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Blob downloads through the proxy at `bytesPerSecond`: a copy long enough to watch. */
function throttle(bytesPerSecond: number): void {
  proxy.rules.length = 0;
  proxy.rules.push({
    match: (method, p) => method === 'GET' && p.includes('/blobs/'),
    action: { type: 'throttle', bytesPerSecond },
  });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), 100 columns wide, as an operator's
 * shell would; `stdoutFile` sends stdout to a file instead, so only stderr is the terminal.
 */
function onTerminal(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; stdoutFile?: string },
): Promise<{ code: number; screen: string }> {
  const command = `stty cols 100 rows 40; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}${options.stdoutFile ? ` > ${quote(options.stdoutFile)}` : ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out on the terminal: ${screen}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe.skipIf(!hasScript)('the progress display on a terminal', () => {
  it('shows bytes of the total, speed, ETA and the image in flight, then its line as it finishes; stdout keeps the report', async () => {
    throttle(3 * MiB);
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const out = path.join(cwd, 'report.txt');
    const source = `docker://${proxy.host}/slow/app:1`;
    const r = await onTerminal(['image', 'copy', source, 'oci:./store:1'], {
      cwd,
      env: { XDG_CACHE_HOME: path.join(cwd, 'cache') },
      stdoutFile: out,
    });
    expect(r.code, r.screen).toBe(0);
    const lines = plainLines(r.screen);
    // The bar over the bytes the manifest announced before any blob moved.
    expect(
      lines.some((l) => /\d+%/.test(l) && /MiB of 9\.0 MiB/.test(l)),
      r.screen,
    ).toBe(true);
    expect(
      lines.some((l) => /[\d.]+ (KiB|MiB)\/s/.test(l) && /ETA \d+s/.test(l)),
      r.screen,
    ).toBe(true);
    expect(
      lines.some((l) => l.startsWith(`  ${source}  `) && / of 9\.0 MiB$/.test(l)),
      r.screen,
    ).toBe(true);
    expect(lines.filter((l) => l.startsWith(`copied    ${source} -> `))).toHaveLength(1);
    // The live lines fit the terminal's width (a wrapped line would break the redraw).
    for (const l of lines.filter((x) => /\d+\/\d+ done/.test(x) || x.startsWith('  ')))
      expect(l.length, l).toBeLessThan(100);
    const report = fs.readFileSync(out, 'utf8');
    expect(report).toMatch(/^copied {4}docker:\/\/.*slow\/app:1 -> .*9\.0 MiB, 3 blobs copied/m);
    expect(report).toMatch(/^1 image: 1 copied, 0 unchanged, 0 planned, 0 failed;/m);
    // Read back by skopeo, which checks every blob against its digest.
    execFileSync('skopeo', [
      '--insecure-policy',
      'copy',
      '--quiet',
      `oci:${path.join(cwd, 'store')}:1`,
      `dir:${path.join(cwd, 'check')}`,
    ]);
    expect(fs.readFileSync(path.join(cwd, 'check', 'manifest.json')).equals(image.bytes)).toBe(true);
  });

  it('prints a failure once on a terminal at the default log level', async () => {
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const r = await onTerminal(['image', 'copy', `docker://${upstream.host}/slow/none:1`, 'oci:./store:1'], {
      cwd,
      env: { XDG_CACHE_HOME: path.join(cwd, 'cache') },
    });
    expect(r.code, r.screen).toBe(5);
    expect(r.screen.split('[E_NOT_FOUND]')).toHaveLength(2);
    expect(r.screen).not.toContain('"level"');
    expect(r.screen).not.toContain('airlock: [');
    expect(plainLines(r.screen).at(-1)).toMatch(/^1 image: 0 copied, 0 unchanged, 0 planned, 1 failed;/);
  });

  it('shows a retry warning as one line of text above the display, not as a JSON log line', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({
      match: (method, p) => method === 'GET' && p.includes('/blobs/'),
      action: { type: 'status', status: 503, headers: { 'retry-after': '0' } },
      times: 1,
    });
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const r = await onTerminal(['image', 'copy', `docker://${proxy.host}/slow/app:1`, 'oci:./store:1'], {
      cwd,
      env: { XDG_CACHE_HOME: path.join(cwd, 'cache') },
    });
    expect(r.code, r.screen).toBe(0);
    const warnings = plainLines(r.screen).filter((l) => l.startsWith('airlock: warning: '));
    expect(warnings, r.screen).toEqual([
      `airlock: warning: registry asked to back off, retrying (url=http://${proxy.host}, status=503, attempt=1, wait=0ms)`,
    ]);
    expect(r.screen).not.toContain('"level"');
  });

  it('shows the bytes of a file download as they arrive, as it does for images', async () => {
    const files = await startStaticServer();
    const fileProxy = await startProxy(files.url);
    try {
      const body = randomBytes(6 * MiB);
      files.files.set('/tools/tool.tar.gz', body);
      fileProxy.rules.push({
        match: (method) => method === 'GET',
        action: { type: 'throttle', bytesPerSecond: 3 * MiB },
      });
      const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
      const url = `${fileProxy.url}/tools/tool.tar.gz`;
      fs.writeFileSync(
        path.join(cwd, 'files.yaml'),
        [
          'targets:',
          '  files:',
          '    dir: ./static',
          '    baseUrl: https://files.internal',
          'files:',
          `  - url: ${url}`,
          '',
        ].join('\n'),
      );
      const r = await onTerminal(['files', 'sync', '--config', 'files.yaml'], {
        cwd,
        env: { XDG_CACHE_HOME: path.join(cwd, 'cache') },
        stdoutFile: path.join(cwd, 'report.txt'),
      });
      expect(r.code, r.screen).toBe(0);
      const lines = plainLines(r.screen);
      expect(
        lines.some((l) => /\d+%/.test(l) && /MiB of 6\.0 MiB/.test(l)),
        r.screen,
      ).toBe(true);
      expect(
        lines.some((l) => l.startsWith(`  ${url}  `) && / of 6\.0 MiB$/.test(l)),
        r.screen,
      ).toBe(true);
      const copy = filesUnder(path.join(cwd, 'static')).filter((f) => f.endsWith('/tools/tool.tar.gz'));
      expect(copy).toHaveLength(1);
      expect(fs.readFileSync(copy[0]!).equals(body)).toBe(true);
    } finally {
      await fileProxy.stop();
      await files.stop();
    }
  });

  it('draws nothing with --json, and nothing when stderr is a pipe', async () => {
    const cwd = fs.mkdtempSync(path.join(work, 'tty-'));
    const out = path.join(cwd, 'report.json');
    const env = { XDG_CACHE_HOME: path.join(cwd, 'cache') };
    const r = await onTerminal(['image', 'copy', `docker://${upstream.host}/slow/app:1`, 'oci:./store:1', '--json'], {
      cwd,
      env,
      stdoutFile: out,
    });
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toBe('');
    expect((JSON.parse(fs.readFileSync(out, 'utf8')) as { summary: { copied: number } }).summary.copied).toBe(1);
    const piped = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI, 'image', 'copy', `docker://${upstream.host}/slow/app:1`, 'oci:./piped:1'],
        { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolve({ code, stderr, stdout }));
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^copied {4}/m);
  });
});

describe('Ctrl-C during a copy', () => {
  it('with --json, SIGTERM still leaves one report on stdout: what finished, what was in flight', async () => {
    throttle(512 * 1024);
    const cwd = fs.mkdtempSync(path.join(work, 'sigterm-json-'));
    const source = `docker://${proxy.host}/slow/app:1`;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: path.join(cwd, 'cache') };
    const child = spawn(process.execPath, [CLI, 'image', 'copy', source, 'oci:./store:1', '--json'], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const moving = (f: string) => f.endsWith('.partial') && fs.statSync(f).size > 0;
    for (let i = 0; i < 300 && !filesUnder(path.join(cwd, 'store')).some(moving); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      items: unknown[];
      summary: { copied: number };
      interrupted: { signal: string; inFlight: Array<{ name: string; bytes: number; plannedBytes: number }> };
    };
    expect(report).toMatchObject({ ok: false, items: [], summary: { copied: 0 } });
    expect(report.interrupted).toMatchObject({ signal: 'SIGTERM', notStarted: [] });
    // The two layers and the config blob.
    expect(report.interrupted.inFlight).toEqual([
      { name: source, bytes: expect.any(Number), plannedBytes: expect.any(Number) },
    ]);
    expect(report.interrupted.inFlight[0]!.plannedBytes).toBeGreaterThanOrEqual(9 * MiB);
    expect(report.interrupted.inFlight[0]!.bytes).toBeGreaterThan(0);
    // stderr says it in words, as without --json.
    expect(stderr).toContain('airlock: interrupted (SIGTERM): 0 of 1 artifact done');
  });

  it('prints what was done and what was not, and leaves no temporary file in the layout; the next run completes it', async () => {
    throttle(512 * 1024);
    const cwd = fs.mkdtempSync(path.join(work, 'sigint-'));
    const cache = path.join(cwd, 'cache');
    const store = path.join(cwd, 'store');
    const source = `docker://${proxy.host}/slow/app:1`;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: cache };
    const child = spawn(process.execPath, [CLI, 'image', 'copy', source, 'oci:./store:1'], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupted with a layer half-written: its partial blob is there, with bytes in it.
    const isPartial = (f: string) => f.endsWith('.partial') && fs.statSync(f).size > 256 * 1024;
    for (let i = 0; i < 300; i++) {
      if (filesUnder(store).some(isPartial)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(filesUnder(store).some(isPartial)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stdout).toBe('');
    expect(stderr).toContain('airlock: interrupted (SIGINT): 0 of 1 artifact done');
    expect(stderr).toMatch(
      new RegExp(
        `^ {2}in flight {4}${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\([\\d.]+ (KiB|MiB) of 9\\.0 MiB moved\\)$`,
        'm',
      ),
    );
    // The partial blobs stay, and the summary says so and where (not that nothing half-written is left).
    expect(stderr).toMatch(
      /^airlock: removed \d+ temporary files? \(unfinished writes, locks\); kept \d+ partial blobs? under store\/\.airlock\/partial as resume points for the next run; tags are written last/m,
    );
    expect(stderr).not.toContain('nothing half-written');
    const kept = Number(/kept (\d+) partial blob/.exec(stderr)?.[1]);
    const left = filesUnder(store);
    expect(left.filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
    expect(left.filter((f) => f.endsWith('.partial') && fs.statSync(f).size > 0)).toHaveLength(kept);
    // What stays is the partial blob under .airlock/partial, which the next run resumes (a Range request).
    expect(
      left.filter(
        (f) =>
          !f.includes(`${path.sep}.airlock${path.sep}partial${path.sep}`) &&
          !f.includes(`${path.sep}blobs${path.sep}`) &&
          !f.endsWith('oci-layout') &&
          !f.endsWith('index.json'),
      ),
    ).toEqual([]);
    // No tag points at what is missing.
    const index = path.join(store, 'index.json');
    if (fs.existsSync(index)) expect(fs.readFileSync(index, 'utf8')).not.toContain('"1"');

    proxy.rules.length = 0;
    const again = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'image', 'copy', source, 'oci:./store:1'], {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', (code) => resolve({ code, stdout: out }));
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^copied /m);
    execFileSync('skopeo', [
      '--insecure-policy',
      'copy',
      '--quiet',
      `oci:${store}:1`,
      `dir:${path.join(cwd, 'check')}`,
    ]);
    expect(fs.readFileSync(path.join(cwd, 'check', 'manifest.json')).equals(image.bytes)).toBe(true);
    // The mirror state went to the cache directory, not beside the layout in the working directory.
    expect(fs.readdirSync(cwd).sort()).toEqual(['cache', 'check', 'store']);
    expect(fs.existsSync(path.join(cache, 'airlock', 'mirror-state.json'))).toBe(true);
  });
});
