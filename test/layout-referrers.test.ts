import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import type { MirrorImagePayload } from '../src/model/image-payload.js';
import { silentLogger } from '../src/core/log.js';
import { testEngine } from './support/engine.js';
import {
  MT,
  blob,
  buildIndex,
  buildManifest,
  digest,
  getManifest,
  pushImage,
  pushManifest,
  randomBlob,
} from './support/images.js';
import { startProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let work: string;

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-layout-'));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

const copy = (p: MirrorImagePayload, engine = testEngine()) => mirrorImage(p, { engine, logger: silentLogger() });

/** Reads an OCI image layout by the image-spec rules, independently of airlock's layout code. */
function readLayout(dir: string) {
  const marker = JSON.parse(fs.readFileSync(path.join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion: string };
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as {
    schemaVersion: number;
    manifests: Array<{ digest: string; mediaType: string; size: number; annotations?: Record<string, string> }>;
  };
  const blobBytes = (d: string) => fs.readFileSync(path.join(dir, 'blobs', 'sha256', d.split(':')[1] ?? ''));
  return { marker, index, blobBytes };
}

describe('OCI image layout as target and source', () => {
  it('writes a valid layout whose blobs hash to their names, then copies it back to a registry digest-exact', async () => {
    const amd = buildManifest({ layers: [randomBlob(40_000)] });
    const arm = buildManifest({ layers: [randomBlob(40_000)] });
    for (const m of [amd, arm]) await pushImage(upstream.url, 'layout/app', m.digest, m);
    const index = buildIndex([
      { manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    await pushManifest(upstream.url, 'layout/app', '1.2.3', index);
    const dir = path.join(work, 'store');
    const r = await copy({ source: `docker://${upstream.host}/layout/app:1.2.3`, target: `oci:${dir}` });
    expect(r.targetDigest).toBe(index.digest);

    const layout = readLayout(dir);
    expect(layout.marker.imageLayoutVersion).toBe('1.0.0');
    expect(layout.index.manifests).toHaveLength(1);
    expect(layout.index.manifests[0]).toMatchObject({
      digest: index.digest,
      mediaType: MT.ociIndex,
      annotations: { 'org.opencontainers.image.ref.name': '1.2.3' },
    });
    for (const d of [
      index.digest,
      amd.digest,
      arm.digest,
      ...amd.blobs.map((b) => b.digest),
      ...arm.blobs.map((b) => b.digest),
    ]) {
      expect(digest(layout.blobBytes(d))).toBe(d);
    }
    expect(fs.readdirSync(path.join(dir, 'blobs', 'sha256')).some((f) => f.endsWith('.tmp'))).toBe(false);

    // Back out of the layout into another registry: same digest.
    const back = await copy({ source: `oci:${dir}:1.2.3`, target: `docker://${target.host}/from/layout` });
    expect(back.targetDigest).toBe(index.digest);
    const got = await getManifest(target.url, 'from/layout', '1.2.3');
    expect(got.bytes.equals(index.bytes)).toBe(true);

    // A second tag in the same layout keeps the first.
    const other = buildManifest({});
    await pushImage(upstream.url, 'layout/app', '2.0.0', other);
    await copy({ source: `docker://${upstream.host}/layout/app:2.0.0`, target: `oci:${dir}` });
    expect(
      readLayout(dir)
        .index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
        .sort(),
    ).toEqual(['1.2.3', '2.0.0']);
  });

  it('re-syncs into a layout without copying anything', async () => {
    const m = buildManifest({ layers: [randomBlob(10_000)] });
    await pushImage(upstream.url, 'layout/noop', 'v1', m);
    const dir = path.join(work, 'noop');
    await copy({ source: `docker://${upstream.host}/layout/noop:v1`, target: `oci:${dir}` });
    const again = await copy({ source: `docker://${upstream.host}/layout/noop:v1`, target: `oci:${dir}` });
    expect(again.status).toBe('unchanged');
  });

  it('fails cleanly on a layout tag that does not exist', async () => {
    const dir = path.join(work, 'empty');
    fs.mkdirSync(dir);
    const err = await copy({ source: `oci:${dir}:nope`, target: `docker://${target.host}/x/y` }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('referrers', () => {
  it('copies an artifact with subject, the referrers fallback tag and cosign tags with --referrers', async () => {
    const image = buildManifest({ layers: [randomBlob(5_000)] });
    await pushImage(upstream.url, 'signed/app', 'v1', image);
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
    const sbom = buildManifest({
      config: blob(Buffer.from('{}'), MT.ociEmpty),
      layers: [blob(Buffer.from('{"spdxVersion":"SPDX-2.3"}'), 'application/spdx+json')],
      artifactType: 'application/spdx+json',
      subject,
    });
    await pushImage(upstream.url, 'signed/app', sbom.digest, sbom);
    // distribution 2.8 has no referrers API: the pusher maintains the fallback tag, as the spec says.
    const fallbackTag = image.digest.replace(':', '-');
    const fallback = buildIndex([{ manifest: sbom }]);
    const fallbackBody = JSON.parse(fallback.bytes.toString()) as { manifests: Array<Record<string, unknown>> };
    fallbackBody.manifests[0] = { ...fallbackBody.manifests[0], artifactType: 'application/spdx+json' };
    const fallbackBytes = Buffer.from(JSON.stringify(fallbackBody));
    await pushManifest(upstream.url, 'signed/app', fallbackTag, { bytes: fallbackBytes, mediaType: MT.ociIndex });
    const sig = buildManifest({
      layers: [blob(Buffer.from('{"critical":{}}'), 'application/vnd.dev.cosign.simplesigning.v1+json')],
    });
    await pushImage(upstream.url, 'signed/app', `${fallbackTag}.sig`, sig);

    const plain = await copy({
      source: `docker://${upstream.host}/signed/app:v1`,
      target: `docker://${target.host}/signed/plain`,
    });
    expect(plain.referrers).toBe(0);
    expect((await getManifest(target.url, 'signed/plain', sbom.digest)).status).toBe(404);

    const r = await copy({
      source: `docker://${upstream.host}/signed/app:v1`,
      target: `docker://${target.host}/signed/app`,
      referrers: true,
    });
    expect(r.referrers).toBe(2);
    const gotSbom = await getManifest(target.url, 'signed/app', sbom.digest);
    expect(gotSbom.bytes.equals(sbom.bytes)).toBe(true);
    const gotIndex = JSON.parse((await getManifest(target.url, 'signed/app', fallbackTag)).bytes.toString()) as {
      manifests: Array<{ digest: string }>;
    };
    expect(gotIndex.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
    expect(digest((await getManifest(target.url, 'signed/app', `${fallbackTag}.sig`)).bytes)).toBe(sig.digest);
  });

  it('uses the referrers API where the source has one', async () => {
    const image = buildManifest({});
    await pushImage(upstream.url, 'api/app', 'v1', image);
    const sig = buildManifest({
      config: blob(Buffer.from('{}'), MT.ociEmpty),
      layers: [blob(Buffer.from('signature'), 'application/vnd.dev.sigstore.bundle.v0.3+json')],
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      subject: { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
    });
    await pushImage(upstream.url, 'api/app', sig.digest, sig);
    // distribution 2.8 has no referrers API; the proxy answers for it as a newer registry would.
    const proxy = await startProxy(upstream.url);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [
        {
          mediaType: sig.mediaType,
          digest: sig.digest,
          size: sig.bytes.length,
          artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        },
      ],
    });
    proxy.rules.push({
      match: (m, p) => m === 'GET' && p === `/v2/api/app/referrers/${image.digest}`,
      action: { type: 'status', status: 200, headers: { 'content-type': MT.ociIndex }, body },
    });
    try {
      const r = await copy({
        source: `docker://${proxy.host}/api/app:v1`,
        target: `docker://${target.host}/api/app`,
        referrers: true,
      });
      expect(r.referrers).toBe(1);
      expect(proxy.count('GET', /\/referrers\//)).toBe(1);
      expect(proxy.count('HEAD', new RegExp(`/manifests/${image.digest.replace(':', '-')}$`))).toBe(0);
      expect(digest((await getManifest(target.url, 'api/app', sig.digest)).bytes)).toBe(sig.digest);
      // The target has no API: the fallback tag now lists the signature.
      const fallback = JSON.parse(
        (await getManifest(target.url, 'api/app', image.digest.replace(':', '-'))).bytes.toString(),
      ) as { manifests: Array<{ digest: string }> };
      expect(fallback.manifests.map((m) => m.digest)).toEqual([sig.digest]);
    } finally {
      await proxy.stop();
    }
  });
});
