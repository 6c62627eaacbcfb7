/**
 * A large classic chart repository index, written the way Helm writes one (sigs.k8s.io/yaml:
 * keys sorted, list items at their key's indentation, quoted timestamps), with entries shaped
 * like Bitnami's (annotations with an image list, a dependency, maintainers, sources). Built as
 * text, line by line: building it through a YAML library would cost the memory being measured.
 */
import { createHash } from 'node:crypto';

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
      block.push(entry(name, version, fakeDigest(`${name}-${version}`), `https://charts.example.com/${name}-${version}.tgz`));
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
