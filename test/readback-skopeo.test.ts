import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorChart } from '../src/jobs/mirror-chart.js';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import type { MirrorImagePayload } from '../src/model/image-payload.js';
import { silentLogger } from '../src/core/log.js';
import { createHelmRepoReader } from '../src/sources/helm-repo.js';
import { buildChart, startChartRepo } from './support/charts.js';
import { testEngine } from './support/engine.js';
import {
  MT,
  blob,
  buildIndex,
  buildManifest,
  digest,
  pushImage,
  pushManifest,
  randomBlob,
  type Blob,
  type BuiltManifest,
} from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

// What airlock writes, read back by a real client: skopeo (containers/image) inspects and copies
// every kind of image from the target registry and from oci: layouts, and the digests must be the
// source's. skopeo is required here (.ci/run installs it), never skipped.
const execFileP = promisify(execFile);

let upstream: TestRegistry;
let target: TestRegistry;
let work: string;
let policy: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-skopeo-'));
  // Our own signature policy, so the machine's /etc/containers/policy.json plays no part.
  policy = path.join(work, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  try {
    await execFileP('skopeo', ['--version']);
  } catch (e) {
    throw new Error(
      `skopeo is required to read back what airlock writes (Debian package skopeo; .ci/run installs it): ${(e as Error).message}`,
      { cause: e },
    );
  }
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop()]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Runs skopeo with the test's policy and no registry configuration or credentials of the machine's. */
async function skopeo(...args: string[]): Promise<Buffer> {
  const env = {
    ...process.env,
    REGISTRY_AUTH_FILE: path.join(work, 'no-auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(work, 'no-registries.conf'),
  };
  try {
    const { stdout } = await execFileP('skopeo', ['--policy', policy, ...args], {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
      env,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`skopeo ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`, { cause: e });
  }
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const plain = (ref: string) => (ref.startsWith('docker://') ? ['--tls-verify=false'] : []);

/** `skopeo inspect --raw`: the manifest bytes as the client receives them. */
async function inspectRaw(ref: string): Promise<Buffer> {
  return skopeo('inspect', '--raw', ...plain(ref), ref);
}

/**
 * `skopeo copy --all --preserve-digests REF dir:OUT`: the client fetches every manifest and blob,
 * verifies each against its digest, and writes them out; we check what it wrote.
 */
async function copyToDir(
  ref: string,
  preserveDigests = true,
): Promise<{ manifest: Buffer; child(d: string): Buffer; blob(d: string): Buffer; files: string[] }> {
  const out = fs.mkdtempSync(path.join(work, 'dir-'));
  fs.rmSync(out, { recursive: true });
  await skopeo(
    'copy',
    '--all',
    ...(preserveDigests ? ['--preserve-digests'] : []),
    ...(ref.startsWith('docker://') ? ['--src-tls-verify=false'] : []),
    ref,
    `dir:${out}`,
  );
  const hex = (d: string) => d.split(':')[1] ?? '';
  return {
    manifest: fs.readFileSync(path.join(out, 'manifest.json')),
    child: (d) => fs.readFileSync(path.join(out, `${hex(d)}.manifest.json`)),
    blob: (d) => fs.readFileSync(path.join(out, hex(d))),
    files: fs.readdirSync(out),
  };
}

const copy = (p: MirrorImagePayload) => mirrorImage(p, { engine: testEngine(), logger: silentLogger() });

/** Where airlock put one source: a repository of the target registry and an OCI layout directory. */
interface Written {
  registry: string;
  layout: string;
}

/** airlock copies `repo:tag` from upstream to the target registry and into a layout of its own. */
async function mirrorBoth(
  repo: string,
  tag: string,
  extra: Partial<MirrorImagePayload> = {},
): Promise<Written & { targetDigest: string }> {
  const layoutDir = path.join(work, `layout-${repo.replace(/\//g, '-')}`);
  const a = await copy({
    source: `docker://${upstream.host}/${repo}:${tag}`,
    target: `docker://${target.host}/mirror/${repo}`,
    ...extra,
  });
  const b = await copy({ source: `docker://${upstream.host}/${repo}:${tag}`, target: `oci:${layoutDir}`, ...extra });
  expect(b.targetDigest).toBe(a.targetDigest);
  return {
    registry: `docker://${target.host}/mirror/${repo}`,
    layout: `oci:${layoutDir}`,
    targetDigest: a.targetDigest,
  };
}

/**
 * containers/image (oci/layout/oci_transport.go getManifestDescriptor, every version up to
 * eb498145c97a4a6fc54ae0de79a2c4fb47f8859f) resolves a name in index.json only for OCI manifest and
 * index media types. airlock's layouts keep Docker manifests byte-exact, under their own media
 * type, so skopeo reaches one as the only image of its layout (`oci:DIR`, no name).
 */
async function expectLayoutNameRefused(layout: string, tag: string): Promise<void> {
  await expect(inspectRaw(`${layout}:${tag}`)).rejects.toThrow(
    /no descriptor found for reference|unsupported manifest MIME types/,
  );
}

/** The manifest (and its children and blobs) read by skopeo at `ref` are the source's bytes. */
async function expectReadBack(ref: string, top: BuiltManifest, children: BuiltManifest[] = []): Promise<void> {
  const raw = await inspectRaw(ref);
  expect(sha(raw), `${ref} inspect --raw`).toBe(top.digest);
  expect(raw.equals(top.bytes)).toBe(true);
  const dir = await copyToDir(ref);
  expect(sha(dir.manifest), `${ref} copied manifest`).toBe(top.digest);
  const blobs: Blob[] = [...top.blobs];
  for (const c of children) {
    const bytes = dir.child(c.digest);
    expect(sha(bytes), `${ref} child ${c.digest}`).toBe(c.digest);
    blobs.push(...c.blobs);
  }
  for (const b of blobs) {
    const bytes = dir.blob(b.digest);
    expect(sha(bytes), `${ref} blob ${b.digest}`).toBe(b.digest);
  }
}

function platformIndex(
  children: Array<[BuiltManifest, string, string, string?]>,
  mediaType = MT.ociIndex,
): BuiltManifest {
  return buildIndex(
    children.map(([manifest, os, architecture, variant]) => ({
      manifest,
      platform: { os, architecture, ...(variant ? { variant } : {}) },
    })),
    mediaType,
  );
}

describe('skopeo reads back images airlock wrote', () => {
  it('Docker schema 2 manifest', async () => {
    const m = buildManifest({
      mediaType: MT.dockerManifest,
      layers: [randomBlob(50_000, MT.dockerLayer), randomBlob(3_000, MT.dockerLayer)],
    });
    await pushImage(upstream.url, 'rb/docker', 'v1', m);
    const w = await mirrorBoth('rb/docker', 'v1');
    expect(w.targetDigest).toBe(m.digest);
    await expectReadBack(`${w.registry}:v1`, m);
    await expectLayoutNameRefused(w.layout, 'v1');
    await expectReadBack(w.layout, m);
  });

  it('Docker manifest list and its manifests', async () => {
    const a = buildManifest({ mediaType: MT.dockerManifest });
    const b = buildManifest({ mediaType: MT.dockerManifest });
    for (const m of [a, b]) await pushImage(upstream.url, 'rb/dlist', m.digest, m);
    const list = platformIndex(
      [
        [a, 'linux', 'amd64'],
        [b, 'linux', 's390x'],
      ],
      MT.dockerList,
    );
    await pushManifest(upstream.url, 'rb/dlist', 'stable', list);
    const w = await mirrorBoth('rb/dlist', 'stable');
    await expectReadBack(`${w.registry}:stable`, list, [a, b]);
    await expectLayoutNameRefused(w.layout, 'stable');
    await expectReadBack(w.layout, list, [a, b]);
    // A child by digest, as a runtime pulls it after picking its platform.
    expect(sha(await inspectRaw(`${w.registry}@${b.digest}`))).toBe(b.digest);
  });

  it('OCI manifest', async () => {
    const m = buildManifest({
      layers: [randomBlob(80_000)],
      annotations: { 'org.opencontainers.image.source': 'https://example.test/app' },
    });
    await pushImage(upstream.url, 'rb/oci', '1.0', m);
    const w = await mirrorBoth('rb/oci', '1.0');
    await expectReadBack(`${w.registry}:1.0`, m);
    await expectReadBack(`${w.layout}:1.0`, m);
  });

  it('OCI index with its manifests', async () => {
    const amd = buildManifest({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = buildManifest({ platform: { os: 'linux', architecture: 'arm64' } });
    for (const m of [amd, arm]) await pushImage(upstream.url, 'rb/index', m.digest, m);
    const index = platformIndex([
      [amd, 'linux', 'amd64'],
      [arm, 'linux', 'arm64', 'v8'],
    ]);
    await pushManifest(upstream.url, 'rb/index', '2.0', index);
    const w = await mirrorBoth('rb/index', '2.0');
    await expectReadBack(`${w.registry}:2.0`, index, [amd, arm]);
    await expectReadBack(`${w.layout}:2.0`, index, [amd, arm]);
  });

  it("platform-filtered index: airlock's own index, holding the source's child unchanged", async () => {
    const amd = buildManifest({});
    const arm = buildManifest({});
    for (const m of [amd, arm]) await pushImage(upstream.url, 'rb/filter', m.digest, m);
    const index = platformIndex([
      [amd, 'linux', 'amd64'],
      [arm, 'linux', 'arm64', 'v8'],
    ]);
    await pushManifest(upstream.url, 'rb/filter', '3.0', index);
    const w = await mirrorBoth('rb/filter', '3.0', { platforms: ['linux/arm64'] });
    expect(w.targetDigest).not.toBe(index.digest);
    for (const ref of [`${w.registry}:3.0`, `${w.layout}:3.0`]) {
      const raw = await inspectRaw(ref);
      expect(sha(raw)).toBe(w.targetDigest);
      const body = JSON.parse(raw.toString()) as {
        mediaType: string;
        manifests: Array<{ digest: string; platform: unknown }>;
      };
      expect(body.mediaType).toBe(MT.ociIndex);
      expect(body.manifests).toEqual([
        expect.objectContaining({
          digest: arm.digest,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        }),
      ]);
      const dir = await copyToDir(ref);
      expect(sha(dir.manifest)).toBe(w.targetDigest);
      expect(sha(dir.child(arm.digest))).toBe(arm.digest);
      for (const b of arm.blobs) expect(sha(dir.blob(b.digest))).toBe(b.digest);
      expect(dir.files).not.toContain(`${amd.digest.split(':')[1]}.manifest.json`);
    }
    await expect(inspectRaw(`${w.registry}@${amd.digest}`)).rejects.toThrow(/manifest unknown|not found/i);
  });

  it('Docker plugin manifest (plugin config, no conversion)', async () => {
    const config = blob(
      Buffer.from(
        JSON.stringify({
          Description: 'sshfs',
          Entrypoint: ['/docker-volume-sshfs'],
          Interface: { Socket: 'sshfs.sock', Types: ['docker.volumedriver/1.0'] },
          rootfs: { type: 'layers', diff_ids: [] },
        }),
      ),
      MT.pluginConfig,
    );
    const m = buildManifest({ mediaType: MT.dockerManifest, config, layers: [randomBlob(20_000, MT.dockerLayer)] });
    await pushImage(upstream.url, 'rb/sshfs', 'latest', m);
    const w = await mirrorBoth('rb/sshfs', 'latest');
    await expectReadBack(`${w.registry}:latest`, m);
    await expectLayoutNameRefused(w.layout, 'latest');
    await expectReadBack(w.layout, m);
    expect(
      (JSON.parse((await inspectRaw(`${w.registry}:latest`)).toString()) as { config: { mediaType: string } }).config
        .mediaType,
    ).toBe(MT.pluginConfig);
  });

  it('referrers: the artifact with a subject, the referrers tag and a cosign signature tag', async () => {
    const image = buildManifest({ layers: [randomBlob(5_000)] });
    await pushImage(upstream.url, 'rb/signed', 'v1', image);
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
    const sbom = buildManifest({
      config: blob(Buffer.from('{}'), MT.ociEmpty),
      layers: [blob(Buffer.from('{"spdxVersion":"SPDX-2.3"}'), 'application/spdx+json')],
      artifactType: 'application/spdx+json',
      subject,
    });
    await pushImage(upstream.url, 'rb/signed', sbom.digest, sbom);
    // distribution 2.8 has no referrers API: the pusher keeps the referrers tag, as the spec says.
    const referrersTag = image.digest.replace(':', '-');
    const listed = JSON.parse(buildIndex([{ manifest: sbom }]).bytes.toString()) as {
      manifests: Array<Record<string, unknown>>;
    };
    listed.manifests[0] = { ...listed.manifests[0], artifactType: 'application/spdx+json' };
    await pushManifest(upstream.url, 'rb/signed', referrersTag, {
      bytes: Buffer.from(JSON.stringify(listed)),
      mediaType: MT.ociIndex,
    });
    const sig = buildManifest({
      layers: [blob(Buffer.from('{"critical":{}}'), 'application/vnd.dev.cosign.simplesigning.v1+json')],
    });
    await pushImage(upstream.url, 'rb/signed', `${referrersTag}.sig`, sig);

    const w = await mirrorBoth('rb/signed', 'v1', { referrers: true });
    expect(w.targetDigest).toBe(image.digest);
    await expectReadBack(`${w.registry}:v1`, image);
    await expectReadBack(`${w.layout}:v1`, image);
    for (const base of [w.registry, w.layout]) {
      // The referrers tag is an index listing the SBOM, as written by airlock at a target without the API.
      const listingRaw = await inspectRaw(`${base}:${referrersTag}`);
      const listing = JSON.parse(listingRaw.toString()) as {
        mediaType: string;
        manifests: Array<{ digest: string; artifactType?: string }>;
      };
      expect(listing.mediaType).toBe(MT.ociIndex);
      expect(listing.manifests).toEqual([
        expect.objectContaining({ digest: sbom.digest, artifactType: 'application/spdx+json' }),
      ]);
      // Its descriptors carry artifactType (distribution-spec 1.1). skopeo 1.9's containers/image
      // has image-spec 1.0 types without that field and must re-serialise such an index ("Manifest
      // list must be converted", refused with --preserve-digests): the index bytes are checked by
      // inspect --raw above, the referrer inside by a copy that lets skopeo rewrite the index.
      const dir = await copyToDir(`${base}:${referrersTag}`, false);
      expect(sha(dir.child(sbom.digest))).toBe(sbom.digest);
      for (const b of sbom.blobs) expect(sha(dir.blob(b.digest))).toBe(b.digest);
      await expectReadBack(`${base}:${referrersTag}.sig`, sig);
    }
    await expectReadBack(`${w.registry}@${sbom.digest}`, sbom);
  });

  it('Helm chart OCI artifact: copied unchanged, and pushed by airlock from a classic repository', async () => {
    const config = blob(
      Buffer.from(JSON.stringify({ name: 'podinfo', version: '6.5.0', apiVersion: 'v2' })),
      MT.helmConfig,
    );
    const m = buildManifest({ config, layers: [randomBlob(4_000, MT.helmChart)] });
    await pushImage(upstream.url, 'rb/charts/podinfo', '6.5.0', m);
    const w = await mirrorBoth('rb/charts/podinfo', '6.5.0');
    await expectReadBack(`${w.registry}:6.5.0`, m);
    await expectReadBack(`${w.layout}:6.5.0`, m);

    // A chart from a classic repository: airlock builds the artifact; its layer is the archive itself.
    const tgz = buildChart({ name: 'demo', version: '1.2.3+build.4' });
    const repo = await startChartRepo([{ name: 'demo', version: '1.2.3+build.4', tgz }]);
    try {
      const engine = testEngine();
      const r = await mirrorChart(
        { source: repo.url, chart: 'demo', version: '1.2.3+build.4', target: `oci://${target.host}/rb/helm` },
        { engine, logger: silentLogger(), repos: createHelmRepoReader(engine) },
      );
      const ref = `docker://${target.host}/rb/helm/demo:1.2.3_build.4`;
      const raw = await inspectRaw(ref);
      const manifest = JSON.parse(raw.toString()) as {
        config: { mediaType: string };
        layers: Array<{ mediaType: string; digest: string }>;
      };
      expect(manifest.config.mediaType).toBe(MT.helmConfig);
      expect(manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual([[MT.helmChart, digest(tgz)]]);
      expect(r.target).toBe(`oci://${target.host}/rb/helm/demo:1.2.3_build.4`);
      const dir = await copyToDir(ref);
      expect(sha(dir.manifest)).toBe(sha(raw));
      expect(dir.blob(digest(tgz)).equals(tgz)).toBe(true);
    } finally {
      await repo.stop();
    }
  });
});
