/**
 * A large classic chart repository index, written the way Helm writes one (sigs.k8s.io/yaml:
 * keys sorted, list items at their key's indentation, quoted timestamps), with entries shaped
 * like Bitnami's (annotations with an image list, a dependency, maintainers, sources). Built as
 * text, line by line: building it through a YAML library would cost the memory being measured.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { buildChart, sha256hex } from '../test/support/charts.js';
import { freePort } from '../test/support/ports.js';
import type { BenchTools } from './addons.js';

export interface BigIndexOptions {
  /** Size to reach, in bytes (the index ends at the first chart boundary past it). */
  bytes: number;
  versionsPerChart: number;
  /** One real entry to put first, e.g. a chart the repository serves. */
  real?: { name: string; version: string; digest: string; url: string };
}

function fakeDigest(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

function entry(name: string, version: string, digest: string, url: string): string {
  return [
    '  - annotations:',
    '      category: Infrastructure',
    '      images: |',
    `        - name: ${name}`,
    `          image: docker.io/bitnami/${name}:${version}-debian-12-r0`,
    '        - name: os-shell',
    '          image: docker.io/bitnami/os-shell:12-debian-12-r16',
    '      licenses: Apache-2.0',
    '    apiVersion: v2',
    `    appVersion: ${version}`,
    '    created: "2024-03-05T11:22:33.123456789Z"',
    '    dependencies:',
    '    - name: common',
    '      repository: oci://registry-1.docker.io/bitnamicharts',
    '      tags:',
    '      - bitnami-common',
    '      version: 2.x.x',
    `    description: ${name} is a test chart of a large index; this line is as long as a real chart's description tends to be.`,
    `    digest: ${digest}`,
    '    home: https://bitnami.com',
    `    icon: https://bitnami.com/assets/stacks/${name}/img/${name}-stack-220x234.png`,
    '    keywords:',
    `    - ${name}`,
    '    - database',
    '    maintainers:',
    '    - name: VMware, Inc.',
    '      url: https://github.com/bitnami/charts',
    `    name: ${name}`,
    '    sources:',
    `    - https://github.com/bitnami/charts/tree/main/bitnami/${name}`,
    '    urls:',
    `    - ${url}`,
    `    version: ${version}`,
  ].join('\n');
}

/** The index text and how many charts and versions it holds. */
export function bigIndex(options: BigIndexOptions): { text: string; charts: number; versions: number } {
  const parts: string[] = ['apiVersion: v1', 'entries:'];
  let size = 0;
  let charts = 0;
  let versions = 0;
  if (options.real) {
    const r = options.real;
    parts.push(`  ${r.name}:`, entry(r.name, r.version, r.digest, r.url));
    charts++;
    versions++;
  }
  while (size < options.bytes) {
    const name = `chart-${String(charts).padStart(4, '0')}`;
    const block = [`  ${name}:`];
    for (let v = 0; v < options.versionsPerChart; v++) {
      const version = `${Math.floor(v / 100)}.${Math.floor(v / 10) % 10}.${v % 10}`;
      block.push(
        entry(name, version, fakeDigest(`${name}-${version}`), `https://charts.example.com/${name}-${version}.tgz`),
      );
    }
    const text = block.join('\n');
    size += text.length + 1;
    parts.push(text);
    charts++;
    versions += options.versionsPerChart;
  }
  parts.push('generated: "2024-03-05T11:22:33.123456789Z"', '');
  return { text: parts.join('\n'), charts, versions };
}

export interface ServedIndex {
  url: string;
  requests: Array<{ path: string; status: number }>;
  stop(): Promise<void>;
}

/**
 * Serves an index and chart archives from memory, the body and its ETag computed once (a test
 * repository hashes its index on every request, which at 50 MB would time the server).
 */
export async function serveIndex(text: string, charts: Record<string, Buffer>): Promise<ServedIndex> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/repo`;
  const body = Buffer.from(text);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  const requests: ServedIndex['requests'] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', base).pathname;
    const answer = (status: number, headers: Record<string, string> = {}, data?: Buffer) => {
      requests.push({ path, status });
      res.writeHead(status, headers).end(data);
    };
    if (path === '/repo/index.yaml') {
      if (req.headers['if-none-match'] === etag) return answer(304, { etag });
      return answer(200, { etag, 'content-type': 'application/x-yaml', 'content-length': String(body.length) }, body);
    }
    const chart = charts[path.replace(/^\/repo\/charts\//, '')];
    return chart ? answer(200, { 'content-length': String(chart.length) }, chart) : answer(404);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: base, requests, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

const INDEX_MIB = Number(process.env.BENCH_INDEX_MIB ?? 50);

/**
 * Rows 5b and 5c: one chart copied from a repository whose index.yaml is 50 MiB (the old parser
 * took 51 s and 2 GiB of memory for it), and the no-op re-sync of that chart through `airlock
 * sync`, whose index request is answered 304 and read back from the cache.
 */
export async function bigIndexScenario(work: string, tools: BenchTools): Promise<string[]> {
  process.stderr.write(`5b. chart copy with a ${INDEX_MIB} MiB index.yaml\n`);
  const tgz = buildChart({ name: 'bench-index', version: '1.0.0' });
  const placeholder = 'http://placeholder.invalid/bench-index-1.0.0.tgz';
  const index = bigIndex({
    bytes: INDEX_MIB * 1024 * 1024,
    versionsPerChart: 220,
    real: { name: 'bench-index', version: '1.0.0', digest: sha256hex(tgz), url: placeholder },
  });
  // The chart's URL is relative, so the index text is known before the server's port is.
  const server = await serveIndex(index.text.replace(placeholder, 'charts/bench-index-1.0.0.tgz'), {
    'bench-index-1.0.0.tgz': tgz,
  });
  try {
    const size = `${(index.text.length / 1024 / 1024).toFixed(0)} MiB index.yaml, ${index.charts} charts, ${index.versions.toLocaleString('en')} versions`;
    const copy = tools.must(
      await tools.measure(process.execPath, [
        tools.cli,
        'chart',
        'copy',
        server.url,
        'bench-index@1.0.0',
        path.join(work, 'big-index-copy'),
      ]),
      'airlock chart copy (big index)',
    );
    const cfg = path.join(work, 'big-index.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  charts:',
        `    - url: ${path.join(work, 'big-index-sync')}`,
        'charts:',
        `  - repo: ${server.url}`,
        '    name: bench-index',
        '    versions: ["1.0.0"]',
        '    images: false',
      ].join('\n'),
    );
    const args = [
      tools.cli,
      'sync',
      '--config',
      cfg,
      '--json',
      '--state',
      path.join(work, 'big-index-state', 'state.json'),
    ];
    tools.must(await tools.measure(process.execPath, args), 'airlock sync (big index)');
    server.requests.length = 0;
    const noop = tools.must(
      await tools.best(3, () => tools.measure(process.execPath, args)),
      'airlock sync no-op (big index)',
    );
    const r = JSON.parse(noop.stdout) as { summary: { unchanged: number; copied: number } };
    const statuses = server.requests
      .filter((q) => q.path.endsWith('index.yaml'))
      .map((q) => q.status)
      .join(', ');
    return [
      `| 5b. one chart copied from a repository with a ${size} | ${copy.seconds.toFixed(2)} s, peak RSS ${copy.peakRssMiB.toFixed(0)} MiB | — | — | no crash, RSS < 512 MiB | ${copy.peakRssMiB < 512 ? 'met' : 'NOT met'} |`,
      `| 5c. no-op re-sync of that chart with \`airlock sync\` (${r.summary.unchanged} unchanged; index requests over the 3 runs: ${statuses}) | ${noop.seconds.toFixed(2)} s, peak RSS ${noop.peakRssMiB.toFixed(0)} MiB | — | — | — | — |`,
    ];
  } finally {
    await server.stop();
  }
}
