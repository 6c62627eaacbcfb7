import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorBotkubeRepository } from '../src/botkube/mirror-plugin-index.js';
import { parsePluginIndex, validatePluginIndex, type PluginIndex } from '../src/botkube/plugin-index.js';
import { mirrorFile } from '../src/files/static-mirror.js';
import { REDACTED, redact } from '../src/core/secrets.js';
import { airlock } from './support/cli.js';
import { testEngine } from './support/engine.js';
import { startStaticServer, type StaticServer } from './support/static-server.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'botkube');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Botkube repository mirror', () => {
  let upstream: StaticServer;
  let deps: StaticServer; // another origin (localhost), like get.helm.sh
  let work: string;
  const bins: Record<string, Buffer> = {};
  let index: PluginIndex;

  beforeAll(async () => {
    upstream = await startStaticServer();
    deps = await startStaticServer({ host: 'localhost' });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'botkube-'));
    for (const name of [
      'executor_kubectl_linux_amd64.tar.gz',
      'executor_kubectl_darwin_arm64.tar.gz',
      'old_kubectl_linux_amd64',
      'source_k8s_linux_amd64.tar.gz',
      'helm-v3.10.3-linux-amd64.tar.gz',
      'schema.json',
    ]) {
      bins[name] = randomBytes(2048);
    }
    upstream.files.set('/v1.1.0/executor_kubectl_linux_amd64.tar.gz', bins['executor_kubectl_linux_amd64.tar.gz']!);
    // GitHub-style: a release asset redirects to object storage.
    upstream.redirects.set('/v1.1.0/executor_kubectl_darwin_arm64.tar.gz', `${upstream.url}/objects/abc123`);
    upstream.files.set('/objects/abc123', bins['executor_kubectl_darwin_arm64.tar.gz']!);
    upstream.files.set('/v1.0.0/old_kubectl_linux_amd64', bins.old_kubectl_linux_amd64!);
    // go-getter reads `filename` and `checksum` from a URL's query: an upstream URL carrying them must not keep them.
    upstream.files.set(
      '/v1.0.0/source_k8s_linux_amd64.tar.gz?filename=x&checksum=md5:0',
      bins['source_k8s_linux_amd64.tar.gz']!,
    );
    upstream.files.set('/schemas/k8s.json', bins['schema.json']!);
    deps.files.set('/helm-v3.10.3-linux-amd64.tar.gz', bins['helm-v3.10.3-linux-amd64.tar.gz']!);
    index = {
      entries: [
        {
          name: 'kubectl',
          type: 'executor',
          version: 'v1.0.0',
          description: 'old',
          urls: [
            {
              url: `${upstream.url}/v1.0.0/old_kubectl_linux_amd64`,
              checksum: sha(bins.old_kubectl_linux_amd64!),
              platform: { os: 'linux', architecture: 'amd64' },
            },
          ],
        },
        {
          name: 'kubectl',
          type: 'executor',
          version: 'v1.1.0',
          urls: [
            {
              url: `${upstream.url}/v1.1.0/executor_kubectl_linux_amd64.tar.gz`,
              checksum: sha(bins['executor_kubectl_linux_amd64.tar.gz']!),
              platform: { os: 'linux', architecture: 'amd64' },
              dependencies: { helm: { url: `${deps.url}/helm-v3.10.3-linux-amd64.tar.gz` } },
            },
            {
              url: `${upstream.url}/v1.1.0/executor_kubectl_darwin_arm64.tar.gz`,
              platform: { os: 'darwin', architecture: 'arm64' },
            },
          ],
        },
        {
          name: 'kubernetes',
          type: 'source',
          version: '1.0.0',
          jsonSchema: { refURL: `${upstream.url}/schemas/k8s.json` },
          externalRequest: { payload: { jsonSchema: { refURL: `${upstream.url}/schemas/k8s.json` } } },
          urls: [
            {
              url: `${upstream.url}/v1.0.0/source_k8s_linux_amd64.tar.gz?filename=x&checksum=md5:0`,
              platform: { os: 'linux', architecture: 'amd64' },
            },
          ],
        },
      ],
    };
    upstream.files.set('/plugins-index.yaml', Buffer.from(stringify(index)));
  });

  afterAll(async () => {
    await Promise.all([upstream?.stop(), deps?.stop()]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('mirrors assets, dependencies and schemas, rewrites the index, and every rewritten URL serves the right bytes', async () => {
    const dir = path.join(work, 'static');
    const served = await startStaticServer({ dir });
    try {
      const target = { dir, baseUrl: served.url };
      const r = await mirrorBotkubeRepository(testEngine(), target, {
        name: 'botkube',
        indexUrl: `${upstream.url}/plugins-index.yaml`,
        plugins: ['kubectl', 'source/kubernetes'],
        versions: ['v1.0.0'],
        headers: { authorization: 'Bearer index-secret-77' },
      });
      expect(r.failures).toEqual([]);
      expect(r.indexUrl).toBe(`${served.url}/botkube/plugins-index.yaml`);
      expect(parse(r.values)).toEqual({
        plugins: { repositories: { botkube: { url: `${served.url}/botkube/plugins-index.yaml` } } },
      });
      // The index token went to the index origin only.
      expect(deps.requests.every((q) => !q.authorization)).toBe(true);

      const mirrored = parsePluginIndex(
        fs.readFileSync(path.join(dir, 'botkube', 'plugins-index.yaml'), 'utf8'),
        'mirrored',
      );
      expect(validatePluginIndex(mirrored)).toEqual([]);
      expect(mirrored.entries.map((e) => `${e.name}@${e.version}`)).toEqual([
        'kubectl@v1.0.0',
        'kubectl@v1.1.0',
        'kubernetes@1.0.0',
      ]);
      const urls: Array<{ url: string; checksum?: string }> = [];
      for (const e of mirrored.entries) {
        for (const u of e.urls) {
          urls.push({ url: u.url, checksum: u.checksum });
          for (const d of Object.values(u.dependencies ?? {}) as Array<{ url: string }>) urls.push({ url: d.url });
        }
        if (e.jsonSchema?.refURL) urls.push({ url: e.jsonSchema.refURL });
        if (e.externalRequest?.payload?.jsonSchema?.refURL)
          urls.push({ url: e.externalRequest.payload.jsonSchema.refURL });
      }
      expect(urls).toHaveLength(7);
      for (const u of urls) {
        expect(u.url.startsWith(`${served.url}/`)).toBe(true);
        expect(u.url).not.toContain('?');
        const res = await fetch(u.url);
        expect(res.status).toBe(200);
        const body = Buffer.from(await res.arrayBuffer());
        if (u.checksum) expect(sha(body)).toBe(u.checksum);
      }
      // File names and archive extensions survive; the checksum upstream left out is recorded.
      expect(mirrored.entries[2]?.urls[0]?.url).toMatch(/\/q-[0-9a-f]{10}\/source_k8s_linux_amd64\.tar\.gz$/);
      const darwin = mirrored.entries[1]?.urls[1];
      expect(darwin?.url).toMatch(/\/executor_kubectl_darwin_arm64\.tar\.gz$/);
      expect(darwin?.checksum).toBe(sha(bins['executor_kubectl_darwin_arm64.tar.gz']!));

      // Re-sync: nothing downloaded again (only the index is read).
      upstream.requests.length = 0;
      deps.requests.length = 0;
      const again = await mirrorBotkubeRepository(testEngine(), target, {
        name: 'botkube',
        indexUrl: `${upstream.url}/plugins-index.yaml`,
        plugins: ['kubectl', 'source/kubernetes'],
        versions: ['v1.0.0'],
      });
      expect(again.files.every((f) => f.status === 'unchanged')).toBe(true);
      expect(upstream.requests.map((q) => q.path)).toEqual(['/plugins-index.yaml']);
      expect(deps.requests).toEqual([]);
    } finally {
      await served.stop();
    }
  });

  it('keeps the newest version of a plugin even when only an older one is asked for', async () => {
    const dir = path.join(work, 'newest');
    const r = await mirrorBotkubeRepository(
      testEngine(),
      { dir, baseUrl: 'https://plugins.internal' },
      { name: 'extra', indexUrl: `${upstream.url}/plugins-index.yaml`, plugins: ['kubectl'], versions: ['v1.0.0'] },
    );
    const mirrored = parsePluginIndex(fs.readFileSync(path.join(dir, 'extra', 'plugins-index.yaml'), 'utf8'), 'x');
    expect(mirrored.entries.map((e) => e.version)).toEqual(['v1.0.0', 'v1.1.0']);
    expect(r.files.length).toBe(4);
  });

  it('on a checksum mismatch or a missing asset: errors per file, the rest copied, the previous index left in place', async () => {
    const dir = path.join(work, 'broken');
    fs.mkdirSync(path.join(dir, 'botkube'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'botkube', 'plugins-index.yaml'), 'entries: [] # previous\n');
    const bad: PluginIndex = structuredClone(index);
    bad.entries[0]!.urls[0]!.checksum = 'f'.repeat(64);
    bad.entries[2]!.urls[0]!.url = `${upstream.url}/v1.0.0/gone.tar.gz`;
    upstream.files.set('/bad-index.yaml', Buffer.from(stringify(bad)));
    const r = await mirrorBotkubeRepository(
      testEngine(),
      { dir, baseUrl: 'https://plugins.internal' },
      { name: 'botkube', indexUrl: `${upstream.url}/bad-index.yaml` },
    );
    expect(r.indexUrl).toBeNull();
    expect(r.failures.map((f) => f.code).sort()).toEqual(['E_DIGEST_MISMATCH', 'E_NOT_FOUND']);
    const mismatch = r.failures.find((f) => f.code === 'E_DIGEST_MISMATCH');
    expect(mismatch?.artifact).toBe(`${upstream.url}/v1.0.0/old_kubectl_linux_amd64`);
    expect(mismatch?.message).toMatch(/^executor\/kubectl@v1\.0\.0: checksum mismatch/);
    expect(r.files.length).toBeGreaterThanOrEqual(4);
    expect(fs.readFileSync(path.join(dir, 'botkube', 'plugins-index.yaml'), 'utf8')).toBe('entries: [] # previous\n');
    expect(
      fs
        .readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.tmp')),
    ).toEqual([]);
  });

  it('knows the bare header token as a secret when already the index fetch fails', async () => {
    const r = mirrorBotkubeRepository(
      testEngine(),
      { dir: path.join(work, 'no-index'), baseUrl: 'https://p.internal' },
      {
        name: 'x',
        indexUrl: `${upstream.url}/no-such-index.yaml`,
        headers: { authorization: 'Bearer index-fetch-secret-91' },
      },
    );
    await expect(r).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(redact('echoed: index-fetch-secret-91')).toBe(`echoed: ${REDACTED}`);
  });

  it('refuses the invalid fixture and a non-YAML index from the CLI, and prints the values snippet on success', async () => {
    upstream.files.set('/invalid.yaml', fs.readFileSync(path.join(FIXTURES, 'plugins-index-invalid.yaml')));
    upstream.files.set('/garbage.yaml', Buffer.from('entries: [\n  {'));
    const dir = path.join(work, 'cli');
    const inv = await airlock([
      'botkube',
      'mirror',
      `${upstream.url}/invalid.yaml`,
      '--to',
      dir,
      '--base-url',
      'https://p.internal',
    ]);
    expect(inv.code).toBe(7);
    expect(inv.stderr).toMatch(
      /\[E_UNSUPPORTED\] .*invalid\.yaml: plugin index is invalid \(Botkube would refuse it\): entries\[0\]/,
    );
    const garbage = await airlock([
      'botkube',
      'mirror',
      `${upstream.url}/garbage.yaml`,
      '--to',
      dir,
      '--base-url',
      'https://p.internal',
    ]);
    expect(garbage.code).toBe(7);
    expect(garbage.stderr).toMatch(/not valid YAML/);
    const ok = await airlock([
      'botkube',
      'mirror',
      `${upstream.url}/plugins-index.yaml`,
      '--to',
      dir,
      '--base-url',
      'https://p.internal',
      '--name',
      'mirror',
      '--plugin',
      'kubernetes',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      'plugins:\n  repositories:\n    mirror:\n      url: https://p.internal/mirror/plugins-index.yaml',
    );
  });

  it('airlock files sync mirrors files and botkube repositories from the config', async () => {
    const dir = path.join(work, 'files');
    const cfg = path.join(work, 'files.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  files:',
        `    dir: ${dir}`,
        '    baseUrl: https://files.internal',
        'files:',
        `  - url: ${upstream.url}/schemas/k8s.json`,
        `    checksum: ${sha(bins['schema.json']!)}`,
        `  - url: ${upstream.url}/missing.yaml`,
        'botkube:',
        '  - name: botkube',
        `    url: ${upstream.url}/plugins-index.yaml`,
        '    plugins: [kubernetes]',
      ].join('\n'),
    );
    const r = await airlock(['files', 'sync', '--config', cfg, '--json']);
    expect(r.code).toBe(5);
    type Item = { kind: string; source: string; target: string; status: string; error?: { code: string } };
    const out = JSON.parse(r.stdout) as { items: Item[] };
    const host = new URL(upstream.url).host.replace(':', '-');
    expect(
      out.items.find(
        (i) =>
          i.source === `${upstream.url}/schemas/k8s.json` &&
          i.kind === 'file' &&
          i.target.startsWith('https://files.internal/'),
      ),
    ).toMatchObject({ status: 'copied', target: `https://files.internal/${host}/schemas/k8s.json` });
    expect(out.items.find((i) => i.source === `${upstream.url}/missing.yaml`)).toMatchObject({
      status: 'failed',
      error: { code: 'E_NOT_FOUND' },
    });
    expect(out.items.find((i) => i.kind === 'plugin-index')).toMatchObject({
      status: 'copied',
      target: 'https://files.internal/botkube/plugins-index.yaml',
    });
    // The same through airlock sync, a second time: the index is unchanged and nothing is downloaded.
    upstream.requests.length = 0;
    const again = await airlock(['sync', '--config', cfg, '--only', 'files', '--json']);
    const items = (JSON.parse(again.stdout) as { items: Item[] }).items;
    expect(items.find((i) => i.kind === 'plugin-index')?.status).toBe('unchanged');
    expect(upstream.requests.map((q) => q.path).sort()).toEqual(['/missing.yaml', '/plugins-index.yaml']);
  });
});

describe('static file mirror', () => {
  let upstream: StaticServer;
  let dir: string;

  beforeAll(async () => {
    upstream = await startStaticServer({ etags: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'static-files-'));
  });

  afterAll(async () => {
    await upstream?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('revalidates a file without a checksum by a conditional GET and refreshes it when upstream changed', async () => {
    const target = { dir, baseUrl: 'https://files.internal' };
    const engine = testEngine();
    upstream.files.set('/runtime.yaml', Buffer.from('version: 1\n'));
    const first = await mirrorFile(engine, `${upstream.url}/runtime.yaml`, target);
    expect(first).toMatchObject({ status: 'copied', sha256: sha(Buffer.from('version: 1\n')) });

    upstream.requests.length = 0;
    expect(await mirrorFile(engine, `${upstream.url}/runtime.yaml`, target)).toMatchObject({
      status: 'unchanged',
      sha256: first.sha256,
    });
    expect(upstream.requests.map((q) => q.status)).toEqual([304]);

    upstream.files.set('/runtime.yaml', Buffer.from('version: 2\n'));
    upstream.requests.length = 0;
    const refreshed = await mirrorFile(engine, `${upstream.url}/runtime.yaml`, target);
    expect(refreshed).toMatchObject({ status: 'copied', sha256: sha(Buffer.from('version: 2\n')) });
    expect(upstream.requests.map((q) => q.status)).toEqual([200]);
    expect(fs.readFileSync(path.join(dir, first.path), 'utf8')).toBe('version: 2\n');
  });

  it('trusts the recorded hash of a checksummed file while size and mtime match, and re-reads it once they do not', async () => {
    const target = { dir, baseUrl: 'https://files.internal' };
    const engine = testEngine();
    const body = Buffer.from('release bytes');
    upstream.files.set('/tool.tar.gz', body);
    const first = await mirrorFile(engine, `${upstream.url}/tool.tar.gz`, target, { checksum: sha(body) });
    expect(first.status).toBe('copied');
    const file = path.join(dir, first.path);

    // A whole-second mtime survives utimes exactly; the new mtime makes the file hashed and recorded once.
    const mtime = new Date('2024-01-02T03:04:05Z');
    fs.utimesSync(file, mtime, mtime);
    upstream.requests.length = 0;
    expect((await mirrorFile(engine, `${upstream.url}/tool.tar.gz`, target, { checksum: sha(body) })).status).toBe(
      'unchanged',
    );
    // Same size and mtime, other bytes: only the sidecar was consulted, no request made.
    fs.writeFileSync(file, 'RELEASE BYTES');
    fs.utimesSync(file, mtime, mtime);
    expect((await mirrorFile(engine, `${upstream.url}/tool.tar.gz`, target, { checksum: sha(body) })).status).toBe(
      'unchanged',
    );
    expect(upstream.requests).toEqual([]);

    // A changed mtime makes the file hashed again: the mismatch is noticed and the file replaced.
    fs.utimesSync(file, new Date(), new Date());
    expect((await mirrorFile(engine, `${upstream.url}/tool.tar.gz`, target, { checksum: sha(body) })).status).toBe(
      'copied',
    );
    expect(fs.readFileSync(file).equals(body)).toBe(true);
    expect(upstream.requests.map((q) => q.path)).toEqual(['/tool.tar.gz']);
  });
});
