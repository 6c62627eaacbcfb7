/**
 * Addon catalog scenarios for `npm run bench`: `addons plan` over a 90-addon catalog built from
 * the real fixture folders, and a no-change re-sync of a 90-addon catalog that mirrors and
 * publishes (images from a loopback registry, a chart from a loopback repository).
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildChart, startChartRepo } from '../test/support/charts.js';
import { buildManifest, pushImage } from '../test/support/images.js';
import type { TestRegistry } from '../test/support/registry.js';
import type { Measured } from './timed-run.js';

export interface BenchTools {
  cli: string;
  measure(cmd: string, args: string[]): Promise<Measured>;
  best(n: number, run: () => Promise<Measured>): Promise<Measured>;
  must(m: Measured, what: string): Measured;
}

const ADDONS = 90;
const FIXTURES = path.resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'kubevela-catalog');

/** 90 addons in KubeVela's layout: the fixture folders, copied under new names until there are enough. */
function realisticCatalog(root: string): number {
  const sources: Array<{ folder: string; dir: string }> = [];
  for (const folder of ['addons', 'experimental/addons']) {
    for (const d of fs.readdirSync(path.join(FIXTURES, folder)).sort()) sources.push({ folder, dir: d });
  }
  let n = 0;
  for (let copy = 0; n < ADDONS; copy++) {
    for (const s of sources) {
      if (n >= ADDONS) break;
      const name = copy === 0 ? s.dir : `${s.dir}-copy${copy}`;
      const to = path.join(root, s.folder, name);
      fs.cpSync(path.join(FIXTURES, s.folder, s.dir), to, { recursive: true });
      const meta = path.join(to, 'metadata.yaml');
      fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').replace(/^name: .*$/m, `name: ${name}`));
      n++;
    }
  }
  return n;
}

/** 90 small addons whose images and chart live on loopback, so a sync can complete offline. */
function syntheticCatalog(root: string, upstream: string, chartRepo: string): void {
  for (let i = 0; i < ADDONS; i++) {
    const folder = i % 2 === 0 ? 'addons' : 'experimental/addons';
    const dir = path.join(root, folder, `bench-${i}`);
    fs.mkdirSync(path.join(dir, 'resources'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'metadata.yaml'),
      `name: bench-${i}\nversion: 1.0.${i}\ndescription: bench addon ${i}\nsystem:\n  vela: ">=1.9.0"\n`,
    );
    fs.writeFileSync(path.join(dir, 'parameter.cue'), 'parameter: {\n\tregistry?: string\n}\n');
    fs.writeFileSync(
      path.join(dir, 'resources', 'app.cue'),
      `app: {\n\tname: "bench-${i}"\n\ttype: "webservice"\n\tproperties: image: "${upstream}/bench/app-${i % 10}:1.0"\n}\n` +
        `chart: {\n\tname: "bench-chart"\n\ttype: "helm"\n\tproperties: {\n\t\trepoType: "helm"\n\t\turl: "${chartRepo}"\n\t\tchart: "bench-chart"\n\t\tversion: "1.0.0"\n\t}\n}\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'template.cue'),
      'output: {\n\tapiVersion: "core.oam.dev/v1beta1"\n\tkind: "Application"\n\tspec: components: [app, chart]\n}\n',
    );
  }
}

export async function addonScenario(
  work: string,
  upstream: TestRegistry,
  target: TestRegistry,
  tools: BenchTools,
): Promise<string[]> {
  process.stderr.write(`6. addons plan over ${ADDONS} addons, 7. addon catalog no-change re-sync\n`);
  const realistic = path.join(work, 'catalog-real');
  const count = realisticCatalog(realistic);
  const plan = tools.must(
    await tools.best(3, () =>
      tools.measure(process.execPath, [tools.cli, 'addons', 'plan', '--catalog', realistic, '--json']),
    ),
    'airlock addons plan',
  );
  const planned = (JSON.parse(plan.stdout) as Array<{ images: string[]; charts: unknown[] }>).reduce(
    (a, p) => ({ images: a.images + p.images.length, charts: a.charts + p.charts.length }),
    { images: 0, charts: 0 },
  );

  for (let i = 0; i < 10; i++) await pushImage(upstream.url, `bench/app-${i}`, '1.0', buildManifest({}));
  const repo = await startChartRepo([
    { name: 'bench-chart', version: '1.0.0', tgz: buildChart({ name: 'bench-chart', version: '1.0.0' }) },
  ]);
  try {
    const synthetic = path.join(work, 'catalog-synthetic');
    syntheticCatalog(synthetic, upstream.host, repo.url);
    const cfg = path.join(work, 'addons.yaml');
    const published = path.join(work, 'addon-registries');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        `  images: { registry: "${target.host}" }`,
        `  charts: [{ url: "${path.join(work, 'addon-charts')}", baseUrl: "https://charts.airgap" }]`,
        'addons:',
        '  catalogs:',
        `    - { name: bench, source: "${synthetic}" }`,
        '  publish:',
        `    registries: [{ url: "${published}/{registry}", baseUrl: "https://addons.airgap/{registry}" }]`,
      ].join('\n'),
    );
    const args = [
      tools.cli,
      'addons',
      'sync',
      '--config',
      cfg,
      '--json',
      '--state',
      path.join(work, 'addon-state', 'state.json'),
    ];
    const first = tools.must(await tools.measure(process.execPath, args), 'airlock addons sync');
    const r1 = JSON.parse(first.stdout) as { summary: { copied: number } };
    const noop = tools.must(
      await tools.best(3, () => tools.measure(process.execPath, args)),
      'airlock addons sync (no change)',
    );
    const r2 = JSON.parse(noop.stdout) as {
      summary: { copied: number; unchanged: number };
      items: Array<{ kind: string; status: string }>;
    };
    const addonsCopied = r2.items.filter((i) => i.kind === 'addon' && i.status === 'copied').length;
    return [
      `| 6. \`addons plan\` over ${count} addons (fixture folders, ${planned.images} images, ${planned.charts} charts found) | ${plan.seconds.toFixed(2)} s | — | — | < 2 s | ${plan.seconds < 2 ? 'met' : 'NOT met'} |`,
      `| 7. addon catalog of ${ADDONS} addons: first sync ${first.seconds.toFixed(2)} s (${r1.summary.copied} copied); no-change re-sync (${r2.summary.unchanged} unchanged, ${r2.summary.copied} copied, ${addonsCopied} addons packaged and pushed) | ${noop.seconds.toFixed(2)} s | — | — | nothing pushed | ${r2.summary.copied === 0 ? 'met' : 'NOT met'} |`,
    ];
  } finally {
    await repo.stop();
  }
}
