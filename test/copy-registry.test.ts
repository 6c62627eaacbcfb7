import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { silentLogger } from '../src/core/log.js';
import { memoryMirrorState } from '../src/state/mirror-state.js';
import { testEngine } from './support/engine.js';
import {
  MT,
  blob,
  buildIndex,
  buildManifest,
  digest,
  getBlob,
  getManifest,
  pushImage,
  pushManifest,
  randomBlob,
} from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let upstream: TestRegistry;
let target: TestRegistry;
let proxy: TestProxy;

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([upstream?.stop(), target?.stop()]);
});

async function expectSameManifest(
  repo: string,
  ref: string,
  expected: { bytes: Buffer; digest: string },
  targetRepo = repo,
) {
  const got = await getManifest(target.url, targetRepo, ref);
  expect(got.status).toBe(200);
  expect(digest(got.bytes)).toBe(expected.digest);
  expect(got.bytes.equals(expected.bytes)).toBe(true);
}

function copy(source: string, dest: string, extra: Record<string, unknown> = {}, engine = testEngine()) {
  return mirrorImage({ source, target: dest, ...extra }, { engine, logger: silentLogger() });
}

describe('image copy between registries', () => {
  it('copies a single-arch OCI image byte-for-byte, blobs verified', async () => {
    const m = buildManifest({ layers: [randomBlob(300_000), randomBlob(5_000)] });
    await pushImage(upstream.url, 'app/single', 'v1', m);
    const r = await copy(`docker://${upstream.host}/app/single:v1`, `docker://${target.host}/mirror/single`);
    expect(r.status).toBe('copied');
    expect(r.targetDigest).toBe(m.digest);
    expect(r.stats.blobsCopied).toBe(3);
    await expectSameManifest('app/single', 'v1', m, 'mirror/single');
    for (const b of m.blobs) {
      const got = await getBlob(target.url, 'mirror/single', b.digest);
      expect(got.bytes.equals(b.bytes)).toBe(true);
    }
  });

  it('copies a multi-arch OCI index with every child before the tag', async () => {
    const amd = buildManifest({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = buildManifest({ platform: { os: 'linux', architecture: 'arm64' } });
    for (const m of [amd, arm]) await pushImage(upstream.url, 'app/multi', m.digest, m);
    const index = buildIndex([
      { manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    await pushManifest(upstream.url, 'app/multi', '1.0', index);
    const r = await copy(`docker://${upstream.host}/app/multi:1.0`, `docker://${target.host}/app/multi`);
    expect(r.targetDigest).toBe(index.digest);
    expect(r.manifests).toBe(3);
    await expectSameManifest('app/multi', '1.0', index);
    await expectSameManifest('app/multi', amd.digest, amd);
    await expectSameManifest('app/multi', arm.digest, arm);
  });

  it('copies a Docker schema2 manifest list and its Docker manifests unchanged', async () => {
    const a = buildManifest({ mediaType: MT.dockerManifest });
    const b = buildManifest({ mediaType: MT.dockerManifest });
    for (const m of [a, b]) await pushImage(upstream.url, 'library/dock', m.digest, m);
    const list = buildIndex(
      [
        { manifest: a, platform: { os: 'linux', architecture: 'amd64' } },
        { manifest: b, platform: { os: 'linux', architecture: 's390x' } },
      ],
      MT.dockerList,
    );
    await pushManifest(upstream.url, 'library/dock', 'stable', list);
    const r = await copy(`docker://${upstream.host}/library/dock:stable`, `docker://${target.host}/library/dock`);
    expect(r.targetDigest).toBe(list.digest);
    const got = await getManifest(target.url, 'library/dock', 'stable');
    expect(got.headers.get('content-type')).toBe(MT.dockerList);
    expect(got.bytes.equals(list.bytes)).toBe(true);
  });

  it('filters platforms, says the index digest changed, and refuses when digest-exact is asked', async () => {
    const amd = buildManifest({});
    const arm = buildManifest({});
    for (const m of [amd, arm]) await pushImage(upstream.url, 'app/filter', m.digest, m);
    const index = buildIndex([
      { manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ]);
    await pushManifest(upstream.url, 'app/filter', '2.0', index);
    const src = `docker://${upstream.host}/app/filter:2.0`;
    await expect(
      copy(src, `docker://${target.host}/app/filter`, { platforms: ['linux/arm64'], digestExact: true }),
    ).rejects.toMatchObject({ code: 'E_PLATFORM' });
    await expect(copy(src, `docker://${target.host}/app/filter`, { platforms: ['windows/amd64'] })).rejects.toThrow(
      /linux\/amd64, linux\/arm64\/v8/,
    );
    const r = await copy(src, `docker://${target.host}/app/filter`, { platforms: ['linux/arm64'] });
    expect(r.targetDigest).not.toBe(index.digest);
    expect(r.warnings.join(' ')).toMatch(/digest .* differs from the source/);
    const got = await getManifest(target.url, 'app/filter', '2.0');
    const body = JSON.parse(got.bytes.toString()) as { manifests: Array<{ digest: string }> };
    expect(body.manifests.map((m) => m.digest)).toEqual([arm.digest]);
    expect((await getManifest(target.url, 'app/filter', amd.digest)).status).toBe(404);
  });

  it('copies a Docker managed plugin (schema2 with plugin config) without conversion', async () => {
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
    await pushImage(upstream.url, 'vieux/sshfs', 'latest', m);
    const r = await copy(`docker://${upstream.host}/vieux/sshfs:latest`, `docker://${target.host}/plugins/sshfs`);
    expect(r.targetDigest).toBe(m.digest);
    const got = await getManifest(target.url, 'plugins/sshfs', 'latest');
    expect(got.headers.get('content-type')).toBe(MT.dockerManifest);
    expect(JSON.parse(got.bytes.toString()).config.mediaType).toBe(MT.pluginConfig);
  });

  it('copies a Helm chart OCI artifact with its config and chart layer', async () => {
    const config = blob(
      Buffer.from(JSON.stringify({ name: 'podinfo', version: '6.5.0', apiVersion: 'v2' })),
      MT.helmConfig,
    );
    const m = buildManifest({
      config,
      layers: [randomBlob(4_000, MT.helmChart)],
      annotations: { 'org.opencontainers.image.title': 'podinfo' },
    });
    await pushImage(upstream.url, 'charts/podinfo', '6.5.0', m);
    const r = await copy(`docker://${upstream.host}/charts/podinfo:6.5.0`, `docker://${target.host}/charts/podinfo`);
    expect(r.targetDigest).toBe(m.digest);
    await expectSameManifest('charts/podinfo', '6.5.0', m);
  });

  it('copies by digest without creating a tag', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'app/pinned', 'x', m);
    const r = await copy(`docker://${upstream.host}/app/pinned@${m.digest}`, `docker://${target.host}/app/pinned`);
    expect(r.targetDigest).toBe(m.digest);
    await expectSameManifest('app/pinned', m.digest, m);
    const tags = (await (await fetch(`${target.url}/v2/app/pinned/tags/list`)).json()) as { tags: string[] | null };
    expect(tags.tags ?? []).toEqual([]);
  });

  it('re-syncs an unchanged image with HEAD requests only, and a pinned digest with none', async () => {
    const m = buildManifest({ layers: [randomBlob(50_000), randomBlob(50_000)] });
    await pushImage(upstream.url, 'app/noop', '3.1', m);
    const state = memoryMirrorState();
    const engine = testEngine({ state });
    const src = `docker://${proxy.host}/app/noop:3.1`;
    const first = await copy(src, `docker://${target.host}/app/noop`, {}, engine);
    expect(first.status).toBe('copied');
    proxy.reset();
    const again = await copy(src, `docker://${target.host}/app/noop`, {}, testEngine({ state }));
    expect(again.status).toBe('unchanged');
    expect(again.stats).toEqual({ blobsCopied: 0, blobsSkipped: 0, blobsMounted: 0, bytes: 0 });
    expect(proxy.log.map((e) => `${e.method} ${e.path}`)).toEqual(['HEAD /v2/app/noop/manifests/3.1']);

    const pinned = `docker://${proxy.host}/app/noop@${m.digest}`;
    await copy(pinned, `docker://${target.host}/app/noop`, {}, engine);
    proxy.reset();
    const none = await copy(pinned, `docker://${target.host}/app/noop`, {}, engine);
    expect(none.status).toBe('unchanged');
    expect(proxy.log).toEqual([]);
  });

  it("takes a recent record's word for the target, checks it once the record is older than state.trustTargetSeconds, and --verify-targets checks it always", async () => {
    const m = buildManifest({ layers: [randomBlob(20_000)] });
    await pushImage(upstream.url, 'app/trust', '1', m);
    const targetProxy = await startProxy(target.url);
    try {
      const state = memoryMirrorState();
      const src = `docker://${proxy.host}/app/trust:1`;
      const dst = `docker://${targetProxy.host}/app/trust`;
      const key = `docker://${proxy.host}/app/trust:1 -> docker://${targetProxy.host}/app/trust:1`;
      expect((await copy(src, dst, {}, testEngine({ state }))).status).toBe('copied');
      const requests = () => [...proxy.log, ...targetProxy.log].map((e) => `${e.method} ${e.path}`);
      const reset = () => {
        proxy.reset();
        targetProxy.reset();
      };

      // Within the hour: one HEAD at the source, none at the target.
      reset();
      expect((await copy(src, dst, {}, testEngine({ state }))).status).toBe('unchanged');
      expect(requests()).toEqual(['HEAD /v2/app/trust/manifests/1']);

      // Someone deletes the copy at the target. A record older than the window no longer vouches:
      // the target is asked, the image copied again, and the record renewed.
      const del = await fetch(`${target.url}/v2/app/trust/manifests/${m.digest}`, { method: 'DELETE' });
      expect(del.status).toBe(202);
      const aged = (await state.get(key))!;
      await state.set(key, { ...aged, at: new Date(Date.now() - 2 * 3600_000).toISOString() });
      reset();
      expect((await copy(src, dst, {}, testEngine({ state }))).status).toBe('copied');
      expect(requests()).toContain('HEAD /v2/app/trust/manifests/1');
      expect(Date.now() - Date.parse((await state.get(key))!.at)).toBeLessThan(60_000);

      // An aged record of an intact target: one check at each side, and the record's clock restarts.
      await state.set(key, { ...(await state.get(key))!, at: new Date(Date.now() - 2 * 3600_000).toISOString() });
      reset();
      expect((await copy(src, dst, {}, testEngine({ state }))).status).toBe('unchanged');
      expect(requests().sort()).toEqual(['HEAD /v2/app/trust/manifests/1', 'HEAD /v2/app/trust/manifests/1']);
      expect(Date.now() - Date.parse((await state.get(key))!.at)).toBeLessThan(60_000);

      // --verify-targets: a fresh record does not vouch; the deleted copy is found missing and restored.
      expect((await fetch(`${target.url}/v2/app/trust/manifests/${m.digest}`, { method: 'DELETE' })).status).toBe(202);
      expect((await copy(src, dst, {}, testEngine({ state }))).status).toBe('unchanged');
      expect((await copy(src, dst, {}, testEngine({ state, verifyTargets: true }))).status).toBe('copied');
      await expectSameManifest('app/trust', '1', m);

      // trustTargetSeconds: 0 asks the target on every run, as before the window existed.
      reset();
      expect(
        (await copy(src, dst, {}, testEngine({ state, config: { state: { trustTargetSeconds: 0 } } }))).status,
      ).toBe('unchanged');
      expect(targetProxy.log.map((e) => `${e.method} ${e.path}`)).toEqual(['HEAD /v2/app/trust/manifests/1']);
    } finally {
      await targetProxy.stop();
    }
  });
});
