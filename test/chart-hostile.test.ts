import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findVersion, parseIndex, stringifyIndex } from '../src/charts/index-file.js';
import { createHelmRepoReader, fileIndexCache, type CachedIndex } from '../src/sources/helm-repo.js';
import { airlock } from './support/cli.js';
import { startChartMuseumDouble, type ChartMuseumDouble } from './support/chartmuseum-double.js';
import { buildChart, sha256hex, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { testEngine } from './support/engine.js';
import { MT, blob, getManifest, pushBlob } from './support/images.js';
import { freePort } from './support/ports.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

/**
 * Issue 16, the chart items: an upstream that lies in index.yaml, Chart.yaml or an OCI manifest,
 * and an operator who types a path where a version goes. Every hostile name is refused with one
 * line naming the artifact and the field, at every kind of chart target, and nothing is written
 * outside the target nor requested outside a registry's /v2/.
 */

let registry: TestRegistry;
let proxy: TestProxy;
let cm: ChartMuseumDouble;
let repo: ChartRepoServer;
let work: string;
const tag = randomBytes(4).toString('hex');
// The issue's own form: climbs to / and names a file in /tmp (unique, so a regression is seen, not confused).
const escapeName = `../../../../../../tmp/airlock-escape-${tag}`;
const escapeFile = `/tmp/airlock-escape-${tag}-1.0.0.tgz`;

const victim1 = buildChart({ name: 'victim', version: '1.0.0' });
const victim2 = buildChart({ name: 'victim', version: '2.0.0' });
const victim3 = buildChart({ name: 'victim', version: '3.0.0' });
// The archive's own Chart.yaml names a path.
const liar = buildChart({
  name: 'liar',
  version: '1.0.0',
  files: { 'Chart.yaml': 'apiVersion: v2\nname: ../outside/liar\nversion: 1.0.0\n' },
});

function hostileIndex(url: string): string {
  const entry = (name: string, version: unknown, tgz: Buffer, file: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v2',
    name,
    version,
    created: '2024-01-02T03:04:05Z',
    digest: sha256hex(tgz),
    urls: [`${url}/charts/${file}`],
    ...extra,
  });
  return stringify({
    apiVersion: 'v1',
    entries: {
      victim: [
        // The case: the digest is right, the archive says "victim", the entry's name is a path.
        entry(escapeName, '1.0.0', victim1, 'victim-1.0.0.tgz'),
        entry('victim', '2.0.0', victim2, 'victim-2.0.0.tgz'),
        entry('victim', '../outside/v', victim2, 'victim-2.0.0.tgz'),
        // An unquoted number where a digest goes (issue 14).
        entry('victim', '3.0.0', victim3, 'victim-3.0.0.tgz', { digest: 12345 }),
      ],
      '../outside/evil': [entry('evil', '1.0.0', victim2, 'victim-2.0.0.tgz')],
      liar: [entry('liar', '1.0.0', liar, 'liar-1.0.0.tgz')],
    },
    generated: '2024-01-02T03:04:05Z',
  });
}

/** Every file under `dir` with its size, except under `skip` (the target itself). */
function tree(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (skip && (p === skip || p.startsWith(`${skip}${path.sep}`))) continue;
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)} ${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

async function catalog(): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/_catalog`);
  return ((await res.json()) as { repositories?: string[] }).repositories ?? [];
}

const oneLine = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('airlock: '));

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startProxy(registry.url);
  cm = await startChartMuseumDouble();
  repo = await startChartRepo([
    { name: 'victim', version: '1.0.0', tgz: victim1 },
    { name: 'victim', version: '2.0.0', tgz: victim2 },
    { name: 'victim', version: '3.0.0', tgz: victim3 },
    { name: 'liar', version: '1.0.0', tgz: liar },
  ]);
  repo.indexOverride = hostileIndex(repo.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-hostile-'));
  fs.mkdirSync(path.join(work, 't', 'outside'), { recursive: true });
  fs.writeFileSync(path.join(work, 't', 'outside', 'keep.txt'), 'a sibling of the target that must stay as it is\n');
});

afterAll(async () => {
  await Promise.all([proxy?.stop(), registry?.stop(), cm?.stop(), repo?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a chart name from index.yaml that is a path (issue 16 item 1)', () => {
  const targets = () => [
    { kind: 'directory', spec: path.join(work, 't', 'dir') },
    { kind: 'ChartMuseum', spec: `cm+${cm.url}` },
    { kind: 'OCI registry', spec: `oci://${proxy.host}/charts` },
  ];

  it.each([0, 1, 2])(
    'airlock chart copy refuses it with one line at target %#, writing and requesting nothing',
    async (i) => {
      const target = targets()[i]!;
      const before = tree(work, target.kind === 'directory' ? target.spec : undefined);
      const catalogBefore = await catalog();
      proxy.reset();
      cm.requests.length = 0;
      const r = await airlock(['chart', 'copy', repo.url, 'victim@1.0.0', target.spec]);
      expect(r.code, r.stderr).toBe(7);
      const lines = oneLine(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `airlock: [E_UNSUPPORTED] ${repo.url} victim@1.0.0: index.yaml entry victim 1.0.0 is invalid: name "${escapeName}" contains a path separator`,
      );
      expect(fs.existsSync(escapeFile)).toBe(false);
      expect(tree(work, target.kind === 'directory' ? target.spec : undefined)).toEqual(before);
      if (target.kind === 'directory')
        expect(fs.existsSync(target.spec) ? tree(target.spec).filter((f) => f.includes('.tgz')) : []).toEqual([]);
      // Nothing reached the target at all: the entry is refused before the target is asked.
      expect(proxy.log.filter((q) => !q.path.startsWith('/v2/') || q.path.includes('..'))).toEqual([]);
      expect(cm.requests.filter((q) => q.method !== 'GET' || !q.path.startsWith('/api/'))).toEqual([]);
      expect(await catalog()).toEqual(catalogBefore);
    },
  );

  it('airlock sync copies the honest version to every target and refuses the lying ones, one line each', async () => {
    const [dir, cmSpec, ociSpec] = targets().map((t) => t.spec) as [string, string, string];
    const cfg = path.join(work, 'sync.yaml');
    const write = (selection: string[]) =>
      fs.writeFileSync(
        cfg,
        [
          'targets:',
          '  charts:',
          `    - url: ${dir}`,
          `    - ${cmSpec}`,
          `    - ${ociSpec}`,
          'charts:',
          `  - repo: ${repo.url}`,
          '    name: victim',
          ...selection,
          '    images: false',
        ].join('\n'),
      );
    write(['    versions: ["1.0.0", "2.0.0", "3.0.0"]']);
    const before = tree(work, dir);
    proxy.reset();
    const state = ['--state', path.join(work, 'sync-state', 'state.json')];
    const r = await airlock(['sync', '--config', cfg, '--json', ...state]);
    const report = JSON.parse(r.stdout) as {
      items: Array<{ kind: string; source: string; status: string; error?: { code: string; message: string } }>;
    };
    const charts = report.items.filter((i) => i.kind === 'chart');
    expect(charts.filter((i) => i.status === 'copied').map((i) => i.source)).toEqual(
      Array(3).fill(`${repo.url} victim@2.0.0`),
    );
    const failed = charts.filter((i) => i.status === 'failed');
    expect(failed.map((i) => `${i.source} ${i.error?.code}`).sort()).toEqual([
      ...Array(3).fill(`${repo.url} victim@1.0.0 E_UNSUPPORTED`),
      ...Array(3).fill(`${repo.url} victim@3.0.0 E_UNSUPPORTED`),
    ]);
    expect(failed.find((i) => i.source.endsWith('@1.0.0'))?.error?.message).toBe(
      `index.yaml entry victim 1.0.0 is invalid: name "${escapeName}" contains a path separator`,
    );
    // Issue 14: an unquoted number where the digest goes is named, not "replace is not a function".
    expect(failed.find((i) => i.source.endsWith('@3.0.0'))?.error?.message).toBe(
      'index.yaml entry victim 3.0.0 is invalid: digest "12345" is not a sha256 digest (64 hex digits)',
    );
    expect(r.code).toBe(7);
    expect(r.stderr).not.toMatch(/is not a function/);

    expect(fs.existsSync(escapeFile)).toBe(false);
    expect(tree(work, dir).filter((f) => !f.startsWith('sync-state') && !f.startsWith('sync.yaml'))).toEqual(
      before.filter((f) => !f.startsWith('sync-state') && !f.startsWith('sync.yaml')),
    );
    expect(tree(dir).map((f) => f.split(' ')[0])).toEqual(['index.yaml', 'victim-2.0.0.tgz']);
    const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as {
      entries: Record<string, Array<{ name: string; version: string }>>;
    };
    expect(index.entries).toEqual({ victim: [expect.objectContaining({ name: 'victim', version: '2.0.0' })] });
    expect([...cm.storage.keys()].filter((k) => k.endsWith('.tgz'))).toEqual(['victim-2.0.0.tgz']);
    expect(await catalog()).toEqual(['charts/victim']);
    expect(proxy.log.filter((q) => !q.path.startsWith('/v2/') || q.path.includes('..'))).toEqual([]);
    expect((await getManifest(registry.url, 'charts/victim', '2.0.0')).bytes.length).toBeGreaterThan(0);

    // Selected from the index, the versions that are paths are not even candidates.
    write(['    newest: 10']);
    const again = await airlock(['sync', '--config', cfg, '--json', ...state]);
    expect(again.code, again.stderr).toBe(0);
    const items = (JSON.parse(again.stdout) as typeof report).items.filter((i) => i.kind === 'chart');
    expect(items.map((i) => `${i.source} ${i.status}`)).toEqual(Array(3).fill(`${repo.url} victim@2.0.0 unchanged`));
  });

  it('a chart key that is a path never becomes a chart: config names are checked at load', async () => {
    const cfg = path.join(work, 'evil.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        `  charts: [${path.join(work, 't', 'dir')}]`,
        'charts:',
        `  - repo: ${repo.url}`,
        '    name: ../outside/evil',
        '    versions: ["1.0.0", "../../x"]',
      ].join('\n'),
    );
    const r = await airlock(['config', 'check', cfg]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toEqual([
      `airlock: [E_CONFIG] ${cfg}: charts[0].name: chart name "../outside/evil" contains a path separator; charts[0].versions[1]: version "../../x" contains a path separator`,
    ]);
  });

  it('a Chart.yaml whose name is a path is refused, whatever the index says', async () => {
    const dir = path.join(work, 't', 'liar-dir');
    const r = await airlock(['chart', 'copy', repo.url, 'liar@1.0.0', dir]);
    expect(r.code).toBe(7);
    expect(oneLine(r.stderr)).toEqual([
      `airlock: [E_UNSUPPORTED] ${repo.url} liar@1.0.0: name in Chart.yaml "../outside/liar" contains a path separator`,
    ]);
    expect(fs.existsSync(path.join(work, 't', 'outside', 'liar-1.0.0.tgz'))).toBe(false);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });
});

describe('the charts addons need (issue 16 item 1, the addon path)', () => {
  it('a lying index entry or a chart name that is a path in a catalog fails that chart alone, with one line, writing nothing outside', async () => {
    const root = path.join(work, 'catalog');
    const helm = (chart: string, version: string) =>
      `operator: {\n\tname: "op"\n\ttype: "helm"\n\tproperties: {\n\t\trepoType: "helm"\n\t\turl:      "${repo.url}"\n\t\tchart:    "${chart}"\n\t\tversion:  "${version}"\n\t}\n}\n`;
    const addon = (name: string, chart: string, version: string) => {
      fs.mkdirSync(path.join(root, 'addons', name, 'resources'), { recursive: true });
      fs.writeFileSync(path.join(root, 'addons', name, 'metadata.yaml'), `name: ${name}\nversion: 1.0.0\n`);
      fs.writeFileSync(path.join(root, 'addons', name, 'resources', 'operator.cue'), helm(chart, version));
    };
    addon('lied-to', 'victim', '1.0.0');
    addon('pathy', '../outside/evil', '1.0.0');
    addon('honest', 'victim', '2.0.0');
    const dir = path.join(work, 't', 'addon-charts');
    const cfg = path.join(work, 'addons.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  images:',
        `    registry: ${registry.host}`,
        '  charts:',
        `    - url: ${dir}`,
        'addons:',
        '  catalogs:',
        '    - name: test',
        `      source: ${root}`,
      ].join('\n'),
    );
    const before = tree(work, dir);
    const r = await airlock([
      'addons',
      'sync',
      '--config',
      cfg,
      '--json',
      '--state',
      path.join(work, 'addon-state', 'state.json'),
    ]);
    const report = JSON.parse(r.stdout) as {
      items: Array<{ kind: string; source: string; status: string; error?: { code: string; message: string } }>;
    };
    const charts = report.items.filter((i) => i.kind === 'chart');
    expect(charts.filter((i) => i.status === 'copied').map((i) => i.source)).toEqual([`${repo.url} victim@2.0.0`]);
    const failed = charts.filter((i) => i.status === 'failed').map((i) => i.error?.message);
    expect(failed).toContain(
      `index.yaml entry victim 1.0.0 is invalid: name "${escapeName}" contains a path separator`,
    );
    expect(failed).toContain('chart name "../outside/evil" contains a path separator');
    expect(r.code).not.toBe(0);
    expect(fs.existsSync(escapeFile)).toBe(false);
    expect(tree(work, dir).filter((f) => !/^(addon-state|addons\.yaml|catalog)/.test(f))).toEqual(
      before.filter((f) => !/^(addon-state|addons\.yaml|catalog)/.test(f)),
    );
    expect(tree(dir).map((f) => f.split(' ')[0])).toEqual(['index.yaml', 'victim-2.0.0.tgz']);
  });
});

describe('an OCI chart source whose manifest names a path as a layer digest', () => {
  it('is refused before any blob request leaves /v2/', async () => {
    const config = blob(Buffer.from('{"name":"victim","version":"1.0.0"}'), 'application/vnd.cncf.helm.config.v1+json');
    await pushBlob(registry.url, 'upstream/victim', config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.length },
        layers: [
          {
            mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
            digest: 'sha256:../../../../../tmp/x',
            size: 10,
          },
        ],
      }),
    );
    // The registry would not store such a manifest; the proxy answers with it.
    proxy.rules.push({
      match: (m, p) => p === '/v2/upstream/victim/manifests/1.0.0',
      action: { type: 'status', status: 200, headers: { 'content-type': MT.ociManifest }, body: manifest.toString() },
    });
    proxy.reset();
    const dir = path.join(work, 't', 'from-oci');
    const r = await airlock(['chart', 'copy', `oci://${proxy.host}/upstream`, 'victim@1.0.0', dir]);
    proxy.rules.length = 0;
    expect(r.code).not.toBe(0);
    const lines = oneLine(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^airlock: \[E_UNSUPPORTED\] .*digest "sha256:\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/x" /);
    expect(
      proxy.log.map((q) => q.path).filter((p) => !p.startsWith('/v2/') || p.includes('..') || p.includes('/blobs/')),
    ).toEqual([]);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });
});

describe('CHART@VERSION from the operator (issue 16 item 13)', () => {
  it.each([
    ['victim@../outside/v', 'version in CHART@VERSION "../outside/v" contains a path separator'],
    ['../outside/victim@1.0.0', 'chart name in CHART@VERSION "../outside/victim" contains a path separator'],
    ['victim@..', 'version in CHART@VERSION ".." is a relative path'],
  ])('%s is refused with one line, exit 2, nothing written', async (spec, message) => {
    const dir = path.join(work, 't', 'operator');
    const r = await airlock(['chart', 'copy', repo.url, spec, dir]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toEqual([`airlock: [E_USAGE] ${message}`]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(path.join(work, 't', 'outside'))).toEqual(['keep.txt']);
  });
});

/** A repository whose index.yaml is `body` (a Buffer, or a generator of chunks sent chunked, without a length). */
async function indexServer(
  body: Buffer | (() => Generator<Buffer>),
): Promise<{ url: string; sent: () => number; stop: () => Promise<void> }> {
  const port = await freePort();
  let sent = 0;
  const server = http.createServer((req, res) => {
    if (!req.url?.endsWith('/index.yaml')) return void res.writeHead(404).end();
    if (Buffer.isBuffer(body)) {
      sent += body.length;
      return void res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    }
    res.writeHead(200, { 'content-type': 'application/x-yaml' });
    const chunks = body();
    // Written as fast as the client reads, until it hangs up.
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) return void res.end();
        sent += next.value.length;
        if (!res.write(next.value)) return void res.once('drain', pump);
      }
    };
    res.on('close', () => chunks.return(undefined));
    pump();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}/repo`,
    sent: () => sent,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An index that never ends: a header, then chart after chart. */
function* endlessIndex(): Generator<Buffer> {
  yield Buffer.from('apiVersion: v1\nentries:\n');
  const block = Buffer.from(
    Array.from(
      { length: 200 },
      (_, i) =>
        `  - name: c\n    version: 1.0.${i}\n    urls: [https://x.example/c-1.0.${i}.tgz]\n    digest: ${'a'.repeat(64)}\n`,
    ).join(''),
  );
  for (let n = 0; ; n++) {
    yield Buffer.from(`  c${n}:\n`);
    yield block;
  }
}

describe('a huge index.yaml (issue 16 item 4)', () => {
  it('past limits.chartIndexBytes is refused with one line, whether its length is announced or not', async () => {
    const big = Buffer.from(
      stringify({
        apiVersion: 'v1',
        entries: {
          victim: Array.from({ length: 2000 }, (_, i) => ({
            name: 'victim',
            version: `1.0.${i}`,
            urls: ['x.tgz'],
            digest: 'b'.repeat(64),
          })),
        },
      }),
    );
    const cfg = path.join(work, 'limits.yaml');
    fs.writeFileSync(cfg, 'limits:\n  chartIndexBytes: 65536\n');
    for (const server of [await indexServer(big), await indexServer(endlessIndex)]) {
      try {
        const r = await airlock([
          'chart',
          'copy',
          server.url,
          'victim@1.0.0',
          path.join(work, 't', 'big'),
          '--config',
          cfg,
        ]);
        expect(r.code).toBe(7);
        expect(oneLine(r.stderr)).toEqual([
          `airlock: [E_TOO_LARGE] ${server.url}: index.yaml is larger than 65536 bytes (limits.chartIndexBytes)`,
        ]);
      } finally {
        await server.stop();
      }
    }
    expect(big.length).toBeGreaterThan(65536);
  });

  it('an index that never ends stops at the default 256 MiB with one line, not a heap crash', async () => {
    const server = await indexServer(endlessIndex);
    try {
      // A 1 GiB heap: what the old parser blew through long before its 256 MiB read limit.
      const r = await airlock(
        ['chart', 'copy', server.url, 'victim@1.0.0', path.join(work, 't', 'endless')],
        { NODE_OPTIONS: '--max-old-space-size=1024' },
        180_000,
      );
      expect(r.code, r.stderr).toBe(7);
      expect(oneLine(r.stderr)).toEqual([
        `airlock: [E_TOO_LARGE] ${server.url}: index.yaml is larger than 256 MiB (limits.chartIndexBytes)`,
      ]);
      // It stopped reading at the limit: the server got no further than its socket buffers allow.
      expect(server.sent()).toBeLessThan(300 * 1024 * 1024);
    } finally {
      await server.stop();
    }
  }, 240_000);

  it('in a layout other than block style, an index is parsed whole only up to 16 MiB', () => {
    const versions = Array.from({ length: 150_000 }, (_, i) => ({
      name: 'c',
      version: `1.0.${i}`,
      urls: ['c.tgz'],
      digest: 'c'.repeat(64),
    }));
    const json = JSON.stringify({ apiVersion: 'v1', entries: { c: versions } });
    expect(json.length).toBeGreaterThan(16 * 1024 * 1024);
    expect(() => parseIndex(json, 'repo')).toThrow(
      /^index\.yaml of \d+\.\d MiB is not in the block layout Helm writes .*up to 16 MiB$/,
    );
    const small = JSON.stringify({ apiVersion: 'v1', entries: { c: versions.slice(0, 3) } });
    expect(findVersion(parseIndex(small, 'repo'), 'c', '1.0.2', 'repo').urls).toEqual(['c.tgz']);
  });
});

describe('index entries as Helm reads them', () => {
  const text = [
    'apiVersion: v1',
    'entries:',
    '  a:',
    '  - name: a',
    '    version: 1.10',
    `    digest: ${'1'.repeat(64)}`,
    '    urls: [a.tgz]',
    '  - name: a',
    '    version: [not, a, version]',
    '    urls: [a.tgz]',
    '  b:',
    '  - name: b',
    '    version: 1.0.0',
    '    description: "an unterminated string',
    '    urls: [b.tgz]',
    '  - name: b',
    '    version: 2.0.0',
    '    urls: [b.tgz]',
    '  c:',
    '  - name: c',
    '    version: 1.0.0',
    `    digest: sha256:${'ABCDEF0123456789'.repeat(4)}`,
    '    urls: [c.tgz]',
    'generated: "2024-01-01T00:00:00Z"',
    '',
  ].join('\n');

  it('keep the text of string fields (1.10 stays 1.10; an all-digit digest stays digits), and one bad entry spoils only itself', () => {
    const index = parseIndex(text, 'repo');
    expect(Object.keys(index.entries)).toEqual(['a', 'b', 'c']);
    expect(index.entries.a?.map((e) => [e.version, e.digest])).toEqual([['1.10', '1'.repeat(64)]]);
    expect(() => findVersion(index, 'a', 'x', 'repo')).toThrow(
      /no version x \(newest: 1\.10; 1 invalid entry skipped, e\.g\. version \["not","a","version"\] is object, not a string\)/,
    );
    expect(index.entries.b?.map((e) => e.version)).toEqual(['2.0.0']);
    expect(() => findVersion(index, 'b', '1.0.0', 'repo')).toThrow(/no version 1\.0\.0 .*an entry is not valid YAML/);
    // sha256: prefix and upper case are Helm-compatible spellings of the same digest.
    expect(index.entries.c?.[0]?.digest).toBe('abcdef0123456789'.repeat(4));
  });

  it('are read in the block layout as UnmarshalStrict reads the whole text: first document, merge keys, a repeated key refused with its line', () => {
    const a = ['apiVersion: v1', 'entries:', '  a:', '  - name: a', '    version: 1.0.0', '    urls: [a.tgz]', ''].join(
      '\n',
    );
    // A second document is never read, whatever it holds.
    expect(Object.keys(parseIndex(`${a}---\napiVersion: x\nentries:\n  z: []\n`, 'repo').entries)).toEqual(['a']);
    expect(parseIndex(`${a}...\n%not yaml\n`, 'repo').apiVersion).toBe('v1');
    // A chart key twice under entries:, a header key twice, entries: twice: the whole index is refused.
    expect(() => parseIndex(`${a}  b:\n  - version: 1.0.0\n  a:\n  - version: 2.0.0\n`, 'repo')).toThrow(
      /^index\.yaml is not valid YAML: line 9: key "a" already set in map$/,
    );
    expect(() => parseIndex(`x: 1\n${a}x: 2\n`, 'repo')).toThrow(
      /^index\.yaml is not valid YAML: line 8: key "x" already set in map$/,
    );
    expect(() => parseIndex(`${a}entries:\n  b: []\n`, 'repo')).toThrow(/line 7: key "entries" already set in map/);
    // A key twice within one entry spoils that entry, named with its line in the index.
    const twice = parseIndex(`${a}  - name: a\n    version: 2.0.0\n    version: 3.0.0\n`, 'repo');
    expect(twice.entries.a?.map((e) => e.version)).toEqual(['1.0.0']);
    expect(() => findVersion(twice, 'a', '3.0.0', 'repo')).toThrow(
      /an entry is not valid YAML \(line 9: key "version" already set in map\)/,
    );
    // A merge key applies where it stands, and a merged string field keeps its text.
    const merged = parseIndex(
      `${a}  - <<: {name: a, version: 1.10, urls: [m.tgz]}\n    digest: ${'1'.repeat(64)}\n`,
      'repo',
    );
    expect(merged.entries.a?.map((e) => [e.version, e.urls, e.digest])).toEqual([
      ['1.0.0', ['a.tgz'], undefined],
      ['1.10', ['m.tgz'], '1'.repeat(64)],
    ]);
    // YAML 1.1: `yes` is a boolean to go-yaml, so an index airlock writes quotes such a string.
    const written = stringifyIndex({
      apiVersion: 'v1',
      entries: { a: [{ name: 'a', version: '1.0.0', urls: ['a.tgz'], description: 'yes', annotations: { on: 'on' } }] },
    });
    expect(findVersion(parseIndex(written, 'repo'), 'a', '1.0.0', 'repo')).toMatchObject({
      description: 'yes',
      annotations: { on: 'on' },
    });
    expect(
      parseIndex(`${a}  - name: a\n    version: 2.0.0\n    urls: [a.tgz]\n    description: yes\n`, 'repo').entries
        .a?.[1]?.description,
    ).toBe('yes');
    expect(
      parseIndex(`${a}  - name: a\n    version: 2.0.0\n    urls: [a.tgz]\n    deprecated: yes\n`, 'repo').entries.a?.[1]
        ?.deprecated,
    ).toBe(true);
  });

  it('a re-sync takes the charts it parsed before from the cache, checked again', async () => {
    const cacheMap = new Map<string, CachedIndex>();
    const cache = {
      get: async (k: string) => structuredClone(cacheMap.get(k)),
      set: async (k: string, v: CachedIndex) => void cacheMap.set(k, structuredClone(v)),
    };
    const engine = testEngine();
    await createHelmRepoReader(engine, { cache }).entry(repo.url, 'victim', '2.0.0');
    const key = `${repo.url}/index.yaml#charts`;
    const parsed = cacheMap.get(key);
    expect(parsed?.charts?.victim?.entries.map((e) => e.version)).toEqual(['2.0.0']);
    expect(parsed?.charts?.victim?.rejected.map((r) => r.version)).toEqual(['1.0.0', '../outside/v', '3.0.0']);
    // What the cache says is what a re-sync uses (the index answers 304)...
    const edited = structuredClone(parsed!);
    edited.charts!.victim!.entries[0]!.urls = ['https://mirror.example/victim-2.0.0.tgz'];
    cacheMap.set(key, edited);
    expect((await createHelmRepoReader(engine, { cache }).entry(repo.url, 'victim', '2.0.0')).urls).toEqual([
      'https://mirror.example/victim-2.0.0.tgz',
    ]);
    await expect(createHelmRepoReader(engine, { cache }).entry(repo.url, 'victim', '1.0.0')).rejects.toThrow(
      /name ".*airlock-escape.*" contains a path separator/,
    );
    // ...but a cached entry is checked like a fresh one.
    edited.charts!.victim!.entries[0]!.version = '../../x';
    cacheMap.set(key, edited);
    await expect(createHelmRepoReader(engine, { cache }).entry(repo.url, 'victim', '2.0.0')).rejects.toThrow(
      /has no version 2\.0\.0 \(no valid entry; 4 invalid entries skipped/,
    );
  });

  it('on disk, the index text lies beside its JSON record, one file per index, named by its validators', async () => {
    const dir = path.join(work, 'index-cache');
    const cache = fileIndexCache(dir);
    const key = 'https://charts.example/index.yaml';
    await cache.set(key, { etag: '"a"', text: 'apiVersion: v1\nentries: {}\n' });
    expect(await cache.get(key)).toEqual({ etag: '"a"', text: 'apiVersion: v1\nentries: {}\n' });
    await cache.set(key, { etag: '"b"', text: 'apiVersion: v1\nentries:\n  a: []\n' });
    await cache.set(`${key}#charts`, { etag: '"b"', charts: { a: { entries: [], rejected: [] } } });
    expect((await cache.get(key))?.text).toBe('apiVersion: v1\nentries:\n  a: []\n');
    expect((await cache.get(`${key}#charts`))?.charts).toEqual({ a: { entries: [], rejected: [] } });
    const files = fs.readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.yaml'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(2);
    // A record whose text is gone is no record: the next run downloads the index.
    for (const f of files.filter((x) => x.endsWith('.yaml'))) fs.rmSync(path.join(dir, f));
    expect(await cache.get(key)).toBeUndefined();
  });
});
