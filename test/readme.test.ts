import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runProcess } from './support/cli.js';
import { buildManifest, pushImage, randomBlob } from './support/images.js';
import { registryBinary, startRegistry, type TestRegistry } from './support/registry.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface ReadmeCommand {
  /** The command as written. */
  text: string;
  /** Its comment: on its line, or the comment lines just above it in the block. */
  note: string;
  /** Every comment of its block. */
  blockNote: string;
  line: number;
}

/** The commands of README's `sh` blocks and the `npx airlock` / `npm` commands quoted in its prose. */
function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  let inSh = false;
  let inOther = false;
  let notes: string[] = [];
  let block: ReadmeCommand[] = [];
  let blockNotes: string[] = [];
  markdown.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (/^```sh\s*$/.test(line)) {
      inSh = true;
      notes = [];
      block = [];
      blockNotes = [];
      return;
    }
    if (line.startsWith('```')) {
      if (inSh) inSh = false;
      else inOther = !inOther;
      return;
    }
    if (inSh) {
      if (line.startsWith('#')) notes.push(line.slice(1).trim());
      else if (line) {
        const m = /^(.*?)(?:\s+#\s*(.*))?$/.exec(line)!;
        const command = {
          text: m[1]!.trim(),
          note: [...notes, m[2] ?? ''].join(' ').trim(),
          blockNote: '',
          line: i + 1,
        };
        out.push(command);
        block.push(command);
        notes = [];
      }
      blockNotes.push(line.includes('#') ? line.slice(line.indexOf('#') + 1).trim() : '');
      for (const c of block) c.blockNote = blockNotes.join(' ').trim();
      return;
    }
    if (inOther) return;
    for (const m of raw.matchAll(/`((?:[A-Z_]+=\S+ )*(?:npx airlock|npm (?:ci|test|run [^\s`]+))[^`]*)`/g))
      out.push({ text: m[1]!, note: '', blockNote: '', line: i + 1 });
  });
  return out;
}

/** `NAME=value` words before the command, then its words (README commands need no shell quoting). */
function words(command: string): { env: Record<string, string>; argv: string[] } {
  const all = command.split(/\s+/);
  const env: Record<string, string> = {};
  while (all[0] && /^[A-Z_][A-Z0-9_]*=/.test(all[0])) {
    const [k, ...v] = all.shift()!.split('=');
    env[k!] = v.join('=');
  }
  return { env, argv: all };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function run(
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(argv, { cwd, env });
}

const NEEDS_LOCAL_REGISTRY = /needs a registry at 127\.0\.0\.1:5000 holding team\/app:1\.0/;

describe("README's commands", () => {
  const commands = readmeCommands(README);

  it('are found (the quick start, the set-up and deploy blocks)', () => {
    expect(commands.map((c) => c.text)).toEqual(
      expect.arrayContaining([
        'npm ci && npm run demo',
        'npx airlock image copy docker://127.0.0.1:5000/team/app:1.0 oci:./store:1.0',
        'npx airlock image sync --config config/airlock.example.yaml --dry-run',
        'docker compose up -d --scale worker=3',
      ]),
    );
  });

  it('name only npm scripts that exist', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const c of commands.filter((x) => words(x.text).argv[0] === 'npm')) {
      for (const part of c.text.split('&&').map((p) => words(p.trim()).argv)) {
        if (part[1] === 'run') expect(Object.keys(scripts), `README line ${c.line}: ${c.text}`).toContain(part[2]);
        else expect(['ci', 'test', 'install'], `README line ${c.line}: ${c.text}`).toContain(part[1]);
      }
    }
  });

  it('say what they need when they cannot run offline', () => {
    for (const c of commands) {
      const [first, second] = words(c.text).argv;
      if (first === 'docker') expect(c.blockNote, `README line ${c.line}: ${c.text}`).toMatch(/needs Docker/);
      else
        expect(
          first === 'npm' || (first === 'npx' && second === 'airlock'),
          `README line ${c.line}: an unknown kind of command: ${c.text}`,
        ).toBe(true);
    }
  });

  it('run as written on a fresh checkout: offline ones succeed, the others fail with a one-line error naming what is missing', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-readme-'));
    // The files a command names relative to a clone's root.
    fs.symlinkSync(path.join(ROOT, 'config'), path.join(cwd, 'config'));
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-readme-home-'));
    const env = { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
    let registry: TestRegistry | undefined;
    try {
      for (const c of commands.filter(
        (x) => x.text.startsWith('npx airlock') || /^[A-Z_]+=\S+ npx airlock/.test(x.text),
      )) {
        const { env: extra, argv } = words(c.text);
        const cmd = [process.execPath, CLI, ...argv.slice(2)];
        const where = `README line ${c.line}: ${c.text}`;
        if (NEEDS_LOCAL_REGISTRY.test(c.note)) {
          // What the note asks for, provided as written when this machine lets us.
          if (!registryBinary() || !(await portFree(5000))) {
            console.warn(`${where}: skipped, no registry can listen on 127.0.0.1:5000 here`);
            continue;
          }
          registry = await startRegistry({ port: 5000 });
          const image = buildManifest({ layers: [randomBlob(10_000)] });
          await pushImage(registry.url, 'team/app', '1.0', image);
          const r = await run(cmd, cwd, { ...env, ...extra });
          expect(r.code, `${where}\n${r.stderr}`).toBe(0);
          expect(r.stdout, where).toMatch(/^copied /m);
          execFileSync('skopeo', [
            '--insecure-policy',
            'copy',
            '--quiet',
            `oci:${path.join(cwd, 'store')}:1.0`,
            `dir:${path.join(home, 'check')}`,
          ]);
          expect(fs.readFileSync(path.join(home, 'check', 'manifest.json')).equals(image.bytes), where).toBe(true);
          // The mirror state is in the cache directory, not in the working tree.
          expect(fs.readdirSync(cwd).sort(), where).toEqual(['config', 'store']);
          expect(fs.existsSync(path.join(home, '.cache', 'airlock', 'mirror-state.json')), where).toBe(true);
          continue;
        }
        const r = await run(cmd, cwd, { ...env, ...extra });
        if (!/\bneeds\b/.test(c.note)) {
          expect(r.code, `${where}\n${r.stderr}`).toBe(0);
          continue;
        }
        expect(r.code, `${where}\n${r.stdout}${r.stderr}`).toBeGreaterThan(1);
        const last = r.stderr.trimEnd().split('\n').at(-1) ?? '';
        expect(last, where).toMatch(/^airlock: \[E_[A-Z_]+\] /);
        // A missing secret is named in the error, and the README says so beside the command; a
        // secret file the note does not mention would fail the command however the reader sets it up.
        for (const m of r.stderr.matchAll(/environment variable ([A-Z0-9_]+)/g)) expect(c.note, where).toContain(m[1]);
        for (const m of r.stderr.matchAll(/reads secret file (\S+),/g)) expect(c.note, where).toContain(m[1]);
      }
    } finally {
      await registry?.stop();
      fs.rmSync(cwd, { recursive: true, force: true });
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
