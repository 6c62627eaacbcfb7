// `npm run demo`: the main jobs on a bundled sample, offline, with no Redis, Docker or registry.
// An image in an OCI layout is mirrored into another store (then re-synced: nothing moves), a
// chart is mirrored from a classic repository this script serves on loopback into a static
// repository, and the KubeVela addons in test/fixtures are planned.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'airlock.cjs');
if (!fs.existsSync(CLI)) {
  console.error('demo: run `npm run build` first (dist/cli/airlock.cjs is missing)');
  process.exit(2);
}
const { writeTar } = await import(path.join(ROOT, 'dist', 'src', 'charts', 'tar.js'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-demo-'));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// Asynchronous on purpose: this process also serves the chart repository the CLI reads.
async function airlock(title, args) {
  console.log(`\n$ airlock ${args.join(' ')}    # ${title}`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`airlock ${args[0]} exited ${code}`);
}

/** A small image in an OCI image layout: a config, one layer, a manifest, tagged 1.0. */
async function sampleLayout(dir) {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (bytes) => {
    const hex = sha256(bytes);
    fs.writeFileSync(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = gzipSync(await writeTar([{ path: 'hello.txt', data: Buffer.from('hello from the air gap\n') }]));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(layer) }],
    }),
  );
  const m = put(manifest);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...m,
          annotations: { 'org.opencontainers.image.ref.name': '1.0' },
        },
      ],
    }),
  );
}

/** A classic Helm repository with one chart, served on loopback by this process. */
async function chartRepo() {
  const chartYaml = 'apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: "1.0"\ndescription: airlock demo chart\n';
  const values = 'image:\n  repository: docker.io/library/nginx\n  tag: "1.27"\n';
  const tgz = gzipSync(
    await writeTar([
      { path: 'demo/Chart.yaml', data: Buffer.from(chartYaml) },
      { path: 'demo/values.yaml', data: Buffer.from(values) },
    ]),
  );
  const index = `apiVersion: v1\nentries:\n  demo:\n    - apiVersion: v2\n      name: demo\n      version: 0.1.0\n      appVersion: "1.0"\n      digest: ${sha256(tgz)}\n      urls: [demo-0.1.0.tgz]\n      created: "2026-01-01T00:00:00Z"\ngenerated: "2026-01-01T00:00:00Z"\n`;
  const server = http.createServer((req, res) => {
    if (req.url === '/index.yaml') res.writeHead(200, { 'content-type': 'application/x-yaml' }).end(index);
    else if (req.url === '/demo-0.1.0.tgz') res.writeHead(200, { 'content-type': 'application/gzip' }).end(tgz);
    else res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let repo;
try {
  const source = path.join(work, 'sample');
  const store = path.join(work, 'store');
  const state = path.join(work, 'state.json');
  await sampleLayout(source);
  await airlock('copy an image between OCI layout stores, byte-exact', [
    'image',
    'copy',
    `oci:${source}:1.0`,
    `oci:${store}:1.0`,
    '--state',
    state,
  ]);
  await airlock('re-sync: already there, nothing moves', [
    'image',
    'copy',
    `oci:${source}:1.0`,
    `oci:${store}:1.0`,
    '--state',
    state,
  ]);

  repo = await chartRepo();
  const charts = path.join(work, 'charts');
  await airlock('mirror a chart into a static Helm repository', [
    'chart',
    'copy',
    repo.url,
    'demo@0.1.0',
    charts,
    '--base-url',
    'https://charts.airgap.example',
  ]);
  await airlock('the images that chart needs', ['chart', 'images', path.join(charts, 'demo-0.1.0.tgz')]);

  await airlock('what two KubeVela addons (and their dependencies) need in the air gap', [
    'addons',
    'plan',
    '--catalog',
    path.join(ROOT, 'test', 'fixtures', 'kubevela-catalog'),
    '--addon',
    'velaux',
    '--addon',
    'cert-manager',
  ]);
  console.log(`\ndemo done; the mirrored store and chart repository are in ${work}`);
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await repo?.close();
}
