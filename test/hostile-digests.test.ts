import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';
import { startHostileRegistry, sha256, type HostileRegistry } from './support/hostile-registry.js';
import { getManifest, MT } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: HostileRegistry;
let target: TestRegistry;
let proxy: TestProxy;
let work: string;

beforeAll(async () => {
  upstream = await startHostileRegistry();
  target = await startRegistry();
  proxy = await startProxy(target.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-hostile-'));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), proxy?.stop()]);
  await target?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

/** A blob the upstream really serves, described honestly. */
function served(bytes: Buffer, mediaType: string): Desc {
  const d = sha256(bytes);
  upstream.blobs.set(d, bytes);
  return { mediaType, digest: d, size: bytes.length };
}

function manifest(body: Record<string, unknown>): { bytes: Buffer; mediaType: string } {
  return { bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, ...body })), mediaType: String(body.mediaType) };
}

function image(layers: Desc[], extra: Record<string, unknown> = {}): { bytes: Buffer; mediaType: string } {
  const config = served(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(4).toString('hex') })),
    MT.ociConfig,
  );
  return manifest({ mediaType: MT.ociManifest, config, layers, ...extra });
}

const escapeName = `airlock-escape-${randomBytes(6).toString('hex')}`;
const up = '../'.repeat(12);
const hostname = fs.existsSync('/etc/hostname') ? fs.statSync('/etc/hostname').size : 0;

/** What a hostile upstream may put in a descriptor, and where it goes. */
const cases: Array<{ name: string; build: () => { bytes: Buffer; mediaType: string }; code: string; why: RegExp }> = [
  {
    name: 'a layer digest that walks out of the layout',
    build: () =>
      image([
        served(randomBytes(100), MT.ociLayer),
        { mediaType: MT.ociLayer, digest: `sha256:${up}tmp/${escapeName}`, size: 5 },
      ]),
    code: 'E_UNSUPPORTED',
    why: /layer digest "sha256:(\.\.\/)+tmp\/airlock-escape-[0-9a-f]+" is not a sha256 digest/,
  },
  {
    name: 'a layer digest naming an existing file with its size',
    build: () => image([{ mediaType: MT.ociLayer, digest: `sha256:${up}etc/hostname`, size: hostname }]),
    code: 'E_UNSUPPORTED',
    why: /layer digest "sha256:(\.\.\/)+etc\/hostname" is not a sha256 digest/,
  },
  {
    name: 'a config digest that walks out',
    build: () =>
      manifest({
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: `sha256:${up}tmp/${escapeName}`, size: 2 },
        layers: [],
      }),
    code: 'E_UNSUPPORTED',
    why: /config digest/,
  },
  {
    name: 'an index child digest that walks out',
    build: () =>
      manifest({
        mediaType: MT.ociIndex,
        manifests: [
          {
            mediaType: MT.ociManifest,
            digest: `sha256:${up}tmp/${escapeName}`,
            size: 10,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    code: 'E_UNSUPPORTED',
    why: /index child digest/,
  },
  {
    name: 'a subject digest that walks out',
    build: () =>
      image([served(randomBytes(50), MT.ociLayer)], {
        subject: { mediaType: MT.ociManifest, digest: `sha256:${up}tmp/${escapeName}`, size: 10 },
      }),
    code: 'E_UNSUPPORTED',
    why: /subject digest/,
  },
  {
    name: 'an md5 layer digest',
    build: () => image([{ mediaType: MT.ociLayer, digest: `md5:${'a'.repeat(32)}`, size: 5 }]),
    code: 'E_UNSUPPORTED',
    why: /layer digest "md5:a{32}" uses an unsupported digest algorithm "md5" \(sha256, sha512\)/,
  },
  {
    name: 'a sha999 layer digest',
    build: () => image([{ mediaType: MT.ociLayer, digest: `sha999:${'b'.repeat(64)}`, size: 5 }]),
    code: 'E_UNSUPPORTED',
    why: /uses an unsupported digest algorithm "sha999"/,
  },
];

function escaped(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(escapeName));
}

function layoutTags(dir: string): string[] {
  const index = path.join(dir, 'index.json');
  if (!fs.existsSync(index)) return [];
  const parsed = JSON.parse(fs.readFileSync(index, 'utf8')) as {
    manifests: Array<{ annotations?: Record<string, string> }>;
  };
  return parsed.manifests
    .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
    .filter((t): t is string => !!t);
}

/** The one line the CLI prints for a failure (the rest of stderr is the JSON log). */
function expectOneLine(stderr: string, code: string, why: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.startsWith('airlock:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`[${code}]`);
  expect(lines[0]).toMatch(why);
}

describe('descriptor digests from a hostile upstream', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))(
    '%s: refused into an oci: layout, nothing written outside it, no tag',
    async (_name, i) => {
      const c = cases[i]!;
      const tag = `oci${i}`;
      upstream.put('evil/app', tag, c.build());
      upstream.requests.length = 0;
      const dir = path.join(work, `layout-${i}`);
      const r = await airlock(['image', 'copy', `docker://${upstream.host}/evil/app:${tag}`, `oci:${dir}:${tag}`]);
      expect(r.code).toBe(7);
      expectOneLine(r.stderr, c.code, c.why);
      expect(escaped()).toEqual([]);
      expect(layoutTags(dir)).toEqual([]);
      // Every request stayed below /v2/: the digest never became a path at the source either.
      expect(upstream.requests.length).toBeGreaterThan(0);
      expect(upstream.requests.filter((q) => !q.path.startsWith('/v2/'))).toEqual([]);
    },
  );

  it.each(cases.map((c, i) => [c.name, i] as const))(
    '%s: refused into a registry, no request outside /v2/, no tag',
    async (_name, i) => {
      const c = cases[i]!;
      const tag = `reg${i}`;
      upstream.put('evil/app', tag, c.build());
      upstream.requests.length = 0;
      proxy.reset();
      const r = await airlock([
        'image',
        'copy',
        `docker://${upstream.host}/evil/app:${tag}`,
        `docker://${proxy.host}/evil/app`,
      ]);
      expect(r.code).toBe(7);
      expectOneLine(r.stderr, c.code, c.why);
      expect(upstream.requests.filter((q) => !q.path.startsWith('/v2/'))).toEqual([]);
      expect(proxy.log.filter((q) => !q.path.startsWith('/v2/'))).toEqual([]);
      expect((await getManifest(target.url, 'evil/app', tag)).status).toBe(404);
      expect(escaped()).toEqual([]);
    },
  );

  it('refuses a referrer descriptor that walks out, with the image itself intact', async () => {
    const good = image([served(randomBytes(64), MT.ociLayer)]);
    const d = upstream.put('evil/signed', 'v1', good);
    upstream.referrers.set(
      `evil/signed@${d}`,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociIndex,
          manifests: [
            {
              mediaType: MT.ociManifest,
              digest: `sha256:${up}tmp/${escapeName}`,
              size: 3,
              artifactType: 'application/x',
            },
          ],
        }),
      ),
    );
    upstream.requests.length = 0;
    const dir = path.join(work, 'layout-referrers');
    const r = await airlock([
      'image',
      'copy',
      '--referrers',
      `docker://${upstream.host}/evil/signed:v1`,
      `oci:${dir}:v1`,
    ]);
    expect(r.code).toBe(7);
    expectOneLine(r.stderr, 'E_UNSUPPORTED', /referrer digest "sha256:(\.\.\/)+tmp\/airlock-escape-[0-9a-f]+"/);
    expect(escaped()).toEqual([]);
    expect(upstream.requests.filter((q) => !q.path.startsWith('/v2/'))).toEqual([]);
  });

  it('never builds a blob path from a bad digest in a layout used as a source (index.json that lies)', async () => {
    const dir = path.join(work, 'lying-layout');
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MT.ociManifest,
            digest: `sha256:${up}etc/hostname`,
            size: hostname,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
          },
        ],
      }),
    );
    const r = await airlock(['image', 'copy', `oci:${dir}:v1`, `oci:${path.join(work, 'copy-of-lying')}:v1`]);
    expect(r.code).toBe(7);
    expectOneLine(r.stderr, 'E_UNSUPPORTED', /digest "sha256:(\.\.\/)+etc\/hostname" is not a sha256 digest/);
  });
});
