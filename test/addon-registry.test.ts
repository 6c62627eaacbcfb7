import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Addon } from '../src/addons/addon.js';
import { readCatalogDir } from '../src/addons/catalog-dir.js';
import { isSemverVersion } from '../src/addons/addon.js';
import { readHelmAddonRegistry } from '../src/addons/helm-addon-registry.js';
import { packageAddon, type PackagedAddon } from '../src/addons/package-addon.js';
import {
  addonRegistryTarget,
  publishAddonRegistry,
  type AddonPublishResult,
} from '../src/addons/publish-addon-registry.js';
import { startChartMuseumDouble, type ChartMuseumDouble } from './support/chartmuseum-double.js';
import { sha256hex } from './support/charts.js';
import { testEngine } from './support/engine.js';
import { getBlob, getManifest } from './support/images.js';
import {
  chooseVersion,
  parseIndexStrict,
  readAddonArchive,
  readAddonRegistry,
  type IndexVersion,
} from './support/kubevela-reader.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { startStaticServer, type StaticServer } from './support/static-server.js';
import { directoryChartTarget } from '../src/targets/chart-directory.js';
import { AirlockError } from '../src/core/errors.js';
import { planCatalog } from '../src/addons/plan-catalog.js';

const catalog = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kubevela-catalog');

let addons: Addon[];
let packages: PackagedAddon[];
let work: string;
let registry: TestRegistry;
let proxy: TestProxy;
let cm: ChartMuseumDouble;
let web: StaticServer;

const byRegistry = (name: string) => packages.filter((p) => p.addon.registry === name);
const pkgOf = (name: string) => packages.find((p) => p.name === name) as PackagedAddon;
// traefik's only version, v2.6.3-3, is a semver prerelease: KubeVela installs it only when asked by version.
const explicit = { traefik: 'v2.6.3-3' };
const statuses = (rs: AddonPublishResult[]) => [...new Set(rs.map((r) => r.status))];

/** What KubeVela must find in an archive: the folder's files unchanged, plus the generated Chart.yaml. */
function expectSameFiles(read: Map<string, Buffer>, addon: Addon): void {
  expect([...read.keys()].sort()).toEqual([...addon.files.keys(), 'Chart.yaml'].sort());
  for (const [p, data] of addon.files) expect(read.get(p)?.equals(data), `${addon.metadata.name}/${p}`).toBe(true);
}

function expectIndexEntry(entry: IndexVersion | undefined, pkg: PackagedAddon): void {
  const m = pkg.addon.metadata;
  expect(entry).toBeDefined();
  expect(entry?.version).toBe(m.version);
  expect(entry?.digest).toBe(pkg.digest);
  expect(entry?.created).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(entry?.description).toBe(m.description || undefined); // empty fields are left out, as Helm's omitempty does
  expect(entry?.icon).toBe(m.icon || undefined); // empty fields are left out, as Helm's omitempty does
  expect(entry?.home).toBe(m.url || undefined); // empty fields are left out, as Helm's omitempty does
  expect(entry?.keywords).toEqual(m.tags?.length ? m.tags : undefined);
  expect(entry?.annotations?.['system.vela']).toBe(m.system?.vela);
  expect(entry?.annotations?.['system.kubernetes']).toBe(m.system?.kubernetes);
}

beforeAll(async () => {
  const read = await readCatalogDir(catalog);
  // A non-semver addon (spark-kubernetes-operator) is discovered with a warning but never published.
  expect(read.warnings.map((w) => w.addon)).toContain('spark-kubernetes-operator');
  addons = read.addons.filter((a) => isSemverVersion(a.metadata.version));
  packages = await Promise.all(addons.map(async (addon) => ({ addon, ...(await packageAddon(addon)) })));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-addons-'));
  registry = await startRegistry();
  proxy = await startProxy(registry.url);
  cm = await startChartMuseumDouble({ depth: 1 });
  web = await startStaticServer({ dir: work });
});

afterAll(async () => {
  await Promise.all([proxy?.stop(), registry?.stop(), cm?.stop(), web?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('addon packaging', () => {
  it('packages every fixture addon as a library chart with one top directory, Chart.yaml first, reproducibly', async () => {
    expect(packages.length).toBeGreaterThanOrEqual(24);
    for (const pkg of packages) {
      const name = pkg.addon.metadata.name;
      expect(pkg.fileName).toBe(`${name}-${pkg.addon.metadata.version}.tgz`);
      expect(pkg.digest).toBe(sha256hex(pkg.tgz));
      // The same addon packaged again (another run, another process) is the same bytes.
      expect((await packageAddon(pkg.addon)).digest).toBe(pkg.digest);
      // GNU tar sees exactly one top directory and Chart.yaml first.
      const file = path.join(work, pkg.fileName);
      fs.writeFileSync(file, pkg.tgz);
      const members = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
      fs.rmSync(file);
      expect(members[0]).toBe(`${name}/Chart.yaml`);
      expect(members.every((m) => m.startsWith(`${name}/`))).toBe(true);
      expect(members.slice(1)).toEqual([...pkg.addon.files.keys()].sort().map((p) => `${name}/${p}`));
      expectSameFiles(readAddonArchive(pkg.tgz, name), pkg.addon);
    }
  });

  it('generates Chart.yaml from metadata.yaml as vela addon package does', () => {
    const chart = parse(readAddonArchive(pkgOf('fluxcd').tgz, 'fluxcd').get('Chart.yaml')?.toString() ?? '') as Record<
      string,
      unknown
    >;
    const m = pkgOf('fluxcd').addon.metadata;
    expect(chart).toEqual({
      annotations: { 'addon.name': 'fluxcd', 'system.vela': '>=1.9.0-alpha.2' },
      apiVersion: 'v2',
      appVersion: '3.0.2',
      description: m.description,
      home: m.url,
      icon: m.icon,
      keywords: m.tags,
      name: 'fluxcd',
      type: 'library',
      version: '3.0.2',
    });
    expect(Object.keys(chart)).toEqual(Object.keys(chart).sort());
    const envoy = pkgOf('envoy-gateway').metadata;
    expect(envoy.annotations).toEqual({
      'addon.name': 'envoy-gateway',
      'system.kubernetes': '>=v1.24',
      'system.vela': '>=v1.5.0',
    });
    expect(pkgOf('velaux').metadata).toMatchObject({ version: 'v1.9.5', appVersion: 'v1.9.5' });
    expect(pkgOf('chartmuseum').metadata.annotations).toEqual({ 'addon.name': 'chartmuseum' });
  });

  it('replaces a Chart.yaml the folder already has and packages rewritten files when given', async () => {
    const base = pkgOf('dex').addon;
    const files = new Map(base.files);
    files.set('Chart.yaml', Buffer.from('apiVersion: v1\nname: something-else\nversion: 9.9.9\n'));
    files.set('resources/extra.yaml', Buffer.from('kind: ConfigMap\n'));
    const pkg = await packageAddon(base, files);
    const read = readAddonArchive(pkg.tgz, 'dex');
    expect(parse(read.get('Chart.yaml')?.toString() ?? '')).toMatchObject({
      name: 'dex',
      version: base.metadata.version,
      type: 'library',
    });
    expect(read.get('resources/extra.yaml')?.toString()).toBe('kind: ConfigMap\n');
    expect(pkg.digest).not.toBe(pkgOf('dex').digest);
  });
});

describe('publishing addon registries', () => {
  it('to a static directory per registry: KubeVela reads index and archives back; a re-sync writes nothing', async () => {
    const engine = testEngine();
    const spec = path.join(work, 'static', '{registry}');
    for (const reg of ['official', 'experimental']) {
      const results = await publishAddonRegistry(byRegistry(reg), addonRegistryTarget(engine, spec, reg));
      expect(statuses(results)).toEqual(['copied']);
      expect(
        results.every(
          (r) => r.location === path.join(work, 'static', reg, `${r.addon.metadata.name}-${r.version}.tgz`),
        ),
      ).toBe(true);
    }
    for (const reg of ['official', 'experimental']) {
      const { index, addons: read } = await readAddonRegistry(`${web.url}/static/${reg}`, { versions: explicit });
      expect(Object.keys(index.entries).sort()).toEqual(
        byRegistry(reg)
          .map((p) => p.name)
          .sort(),
      );
      for (const pkg of byRegistry(reg)) {
        const got = read.get(pkg.name);
        expectIndexEntry(got?.entry, pkg);
        expect(got?.entry.urls).toEqual([pkg.fileName]);
        expect(got?.tgz.equals(pkg.tgz)).toBe(true);
        expectSameFiles(got?.files ?? new Map(), pkg.addon);
      }
    }
    const official = parseIndexStrict(fs.readFileSync(path.join(work, 'static', 'official', 'index.yaml'), 'utf8'));
    expect(official.entries.fluxcd?.[0]?.annotations).toEqual({
      'addon.name': 'fluxcd',
      'system.vela': '>=1.9.0-alpha.2',
    });
    expect(official.entries.velaux?.[0]?.version).toBe('v1.9.5');
    expect(() => chooseVersion(official.entries.traefik ?? [])).toThrow(/no non-prerelease version/);

    const stamp = (reg: string) =>
      fs
        .readdirSync(path.join(work, 'static', reg))
        .map((f) => `${f}@${fs.statSync(path.join(work, 'static', reg, f)).mtimeMs}`)
        .sort();
    const before = [stamp('official'), stamp('experimental')];
    for (const reg of ['official', 'experimental']) {
      const again = await publishAddonRegistry(
        await Promise.all(byRegistry(reg).map(async (p) => ({ ...p, ...(await packageAddon(p.addon)) }))),
        addonRegistryTarget(engine, spec, reg),
      );
      expect(statuses(again)).toEqual(['unchanged']);
    }
    expect([stamp('official'), stamp('experimental')]).toEqual(before);
  });

  it('to ChartMuseum, one tenant per registry: strict index with every field; a re-sync uploads nothing', async () => {
    const engine = testEngine();
    const spec = `cm+${cm.url}/{registry}`;
    for (const reg of ['official', 'experimental']) {
      const results = await publishAddonRegistry(byRegistry(reg), addonRegistryTarget(engine, spec, reg));
      expect(statuses(results)).toEqual(['copied']);
    }
    for (const reg of ['official', 'experimental']) {
      const { addons: read } = await readAddonRegistry(`${cm.url}/${reg}`, { versions: explicit });
      expect([...read.keys()].sort()).toEqual(
        byRegistry(reg)
          .map((p) => p.name)
          .sort(),
      );
      for (const pkg of byRegistry(reg)) {
        const got = read.get(pkg.name);
        expectIndexEntry(got?.entry, pkg);
        expect(got?.url).toBe(`${cm.url}/${reg}/charts/${pkg.fileName}`);
        expectSameFiles(got?.files ?? new Map(), pkg.addon);
      }
    }
    cm.requests.length = 0;
    for (const reg of ['official', 'experimental']) {
      expect(statuses(await publishAddonRegistry(byRegistry(reg), addonRegistryTarget(engine, spec, reg)))).toEqual([
        'unchanged',
      ]);
    }
    expect(cm.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('to an OCI registry: Helm chart artifacts holding the same archive bytes; a re-sync pushes nothing', async () => {
    const engine = testEngine();
    const spec = `oci://${proxy.host}/addons/{registry}`;
    const results = await Promise.all(
      ['official', 'experimental'].map((reg) =>
        publishAddonRegistry(byRegistry(reg), addonRegistryTarget(engine, spec, reg)),
      ),
    );
    expect(statuses(results.flat())).toEqual(['copied']);
    for (const pkg of packages) {
      const repo = `addons/${pkg.addon.registry}/${pkg.name}`;
      const m = JSON.parse((await getManifest(registry.url, repo, pkg.version)).bytes.toString()) as {
        config: { mediaType: string; digest: string };
        layers: Array<{ digest: string }>;
        annotations: Record<string, string>;
      };
      expect(m.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
      expect(m.layers.map((l) => l.digest)).toEqual([`sha256:${pkg.digest}`]);
      const layer = (await getBlob(registry.url, repo, `sha256:${pkg.digest}`)).bytes;
      expectSameFiles(readAddonArchive(layer, pkg.name), pkg.addon);
      if (pkg.addon.metadata.system?.vela) expect(m.annotations['system.vela']).toBe(pkg.addon.metadata.system.vela);
    }
    proxy.reset();
    const again = await Promise.all(
      ['official', 'experimental'].map((reg) =>
        publishAddonRegistry(byRegistry(reg), addonRegistryTarget(engine, spec, reg)),
      ),
    );
    expect(statuses(again.flat())).toEqual(['unchanged']);
    expect(proxy.log.filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
  });

  it('reports a failing addon and publishes the others', async () => {
    const dir = path.join(work, 'conflict');
    fs.mkdirSync(dir, { recursive: true });
    // The target already holds another fluxcd 3.0.2 archive: never overwritten silently.
    fs.writeFileSync(
      path.join(dir, 'index.yaml'),
      stringify({
        apiVersion: 'v1',
        entries: {
          fluxcd: [{ name: 'fluxcd', version: '3.0.2', urls: ['fluxcd-3.0.2.tgz'], digest: 'ab'.repeat(32) }],
        },
      }),
    );
    const results = await publishAddonRegistry(
      byRegistry('official'),
      addonRegistryTarget(testEngine(), dir, 'official'),
    );
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.addon.metadata.name)).toEqual(['fluxcd']);
    expect(failed[0]?.error).toMatchObject({ code: 'E_CONFLICT' });
    expect(failed[0]?.error?.message).toMatch(/not overwriting/);
    expect(results.filter((r) => r.status === 'copied')).toHaveLength(byRegistry('official').length - 1);
    const index = parseIndexStrict(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8'));
    expect(index.entries.fluxcd?.[0]?.digest).toBe('ab'.repeat(32));
    expect(index.entries.velaux?.[0]?.digest).toBe(pkgOf('velaux').digest);
  });
});

describe('strict index', () => {
  it('the independent reader refuses what KubeVela refuses', () => {
    const ok = 'apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls: [a-1.0.0.tgz]\n';
    expect(parseIndexStrict(ok).entries.a?.[0]?.urls).toEqual(['a-1.0.0.tgz']);
    expect(() => parseIndexStrict(`${ok}extra: 1\n`)).toThrow(/extra: unknown top-level field/);
    expect(() => parseIndexStrict(`${ok}    size: 12\n`)).toThrow(/entries\.a\[0\]\.size: unknown field/);
    expect(() => parseIndexStrict(`${ok}    annotations: {x: 1}\n`)).toThrow(/annotations\.x: must be a string/);
  });

  it('packs an addon only when the target lacks the archive its known digest names; a failing pack fails that addon alone', async () => {
    const target = addonRegistryTarget(testEngine(), path.join(work, 'lazy'), 'official');
    const dex = pkgOf('dex');
    const flux = pkgOf('fluxcd');
    expect(statuses(await publishAddonRegistry([dex], target))).toEqual(['copied']);
    let packed = 0;
    const entry = (pkg: PackagedAddon, knownDigest: string | undefined, pack: () => PackagedAddon) => ({
      addon: pkg.addon,
      name: pkg.name,
      version: pkg.version,
      ...(knownDigest ? { knownDigest } : {}),
      pack: () => (packed++, pack()),
    });
    const refuse = (): PackagedAddon => {
      throw new AirlockError('E_UNSUPPORTED', 'cannot package');
    };
    const results = await publishAddonRegistry(
      [
        entry(dex, dex.digest, refuse),
        // A stale known digest: packed, found there under its real digest.
        entry({ ...dex, addon: { ...dex.addon } }, 'ab'.repeat(32), () => dex),
        entry(flux, undefined, refuse),
      ],
      target,
    );
    expect(results.map((r) => r.status)).toEqual(['unchanged', 'unchanged', 'failed']);
    expect(results[0]?.digest).toBe(dex.digest);
    expect(results[2]?.error).toMatchObject({ code: 'E_UNSUPPORTED' });
    expect(packed).toBe(2);
  });

  it('a directory target writes only Helm fields, whatever a Chart.yaml carries', async () => {
    const dir = path.join(work, 'extras');
    const pkg = pkgOf('dex');
    await directoryChartTarget(dir).push({
      name: pkg.name,
      version: pkg.version,
      tgz: pkg.tgz,
      metadata: { ...pkg.metadata, customField: 'x', maintainers: [{ name: 'me' }] },
    });
    const entry = parseIndexStrict(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')).entries.dex?.[0];
    expect(entry).toMatchObject({
      maintainers: [{ name: 'me' }],
      annotations: pkg.metadata.annotations,
      type: 'library',
    });
    expect(entry).not.toHaveProperty('customField');
  });
});

describe('reading a helm-type addon registry as a source', () => {
  it('reads back a registry airlock published: newest stable version per addon, else the newest prerelease (traefik)', async () => {
    const contents = await readHelmAddonRegistry(testEngine(), `${web.url}/static/official`, 'official');
    expect(contents.warnings).toEqual([]);
    expect(contents.addons.map((a) => a.metadata.name).sort()).toEqual(
      byRegistry('official')
        .map((p) => p.name)
        .sort(),
    );
    for (const a of contents.addons) {
      const original = pkgOf(a.metadata.name).addon;
      expect(a).toMatchObject({ registry: 'official', dir: original.metadata.name });
      expect(a.metadata).toEqual(original.metadata);
      expectSameFiles(a.files, original);
      // Published again from what was read, the archive is the same bytes.
      expect((await packageAddon(a)).digest).toBe(pkgOf(a.metadata.name).digest);
    }
  });

  it('reads the dependencies of a selection too, transitively, so planning the selection finds them', async () => {
    const url = `${web.url}/static/official`;
    // flink-kubernetes-operator needs fluxcd and cert-manager; cert-manager needs fluxcd.
    const contents = await readHelmAddonRegistry(testEngine(), url, 'official', {
      addons: ['flink-kubernetes-operator'],
    });
    expect(contents.addons.map((a) => a.metadata.name).sort()).toEqual([
      'cert-manager',
      'flink-kubernetes-operator',
      'fluxcd',
    ]);
    const plan = planCatalog(contents, { addons: ['flink-kubernetes-operator'] });
    expect(plan.plans.map((p) => p.addon).sort()).toEqual(['cert-manager', 'flink-kubernetes-operator', 'fluxcd']);
    expect(plan.plans.flatMap((p) => p.warnings).filter((w) => /dependency/.test(w))).toEqual([]);
    // A version map pins what it names; a dependency it does not name is read at its newest.
    const pinned = await readHelmAddonRegistry(testEngine(), url, 'official', {
      versions: { 'cert-manager': [pkgOf('cert-manager').version] },
    });
    expect(pinned.addons.map((a) => a.metadata.name).sort()).toEqual(['cert-manager', 'fluxcd']);
  });

  it('reads catalog-CI archives (./<dir>/, no Chart.yaml), picks versions as KubeVela does, and warns per broken addon', async () => {
    const ci = path.join(work, 'ci');
    fs.mkdirSync(ci, { recursive: true });
    const addonsDir = path.join(catalog, 'addons');
    const tarCi = (dir: string, out: string, extra: string[] = []) =>
      execFileSync('tar', ['-czf', path.join(ci, out), ...extra, `./${dir}/`], { cwd: addonsDir });
    tarCi('fluxcd', 'fluxcd-3.0.2.tgz');
    tarCi('fluxcd', 'fluxcd-3.0.1.tgz');
    tarCi('fluxcd', 'fluxcd-3.1.0-beta.1.tgz');
    tarCi('velaux', 'velaux-v1.9.5.tgz');
    tarCi('dex', 'dex-0.7.0.tgz', ['-P', '--transform', 's,^\\./dex,dex/../..,']);
    fs.writeFileSync(path.join(ci, 'loki-v0.3.1.tgz'), 'this is not gzip');
    // Files beside the top directory: Helm's loader refuses the archive.
    execFileSync('tar', ['-czf', path.join(ci, 'cloudshell-0.0.10.tgz'), 'metadata.yaml'], {
      cwd: path.join(addonsDir, 'cloudshell'),
    });
    const base = `${web.url}/ci`;
    const entry = (name: string, version: string, extra: Record<string, unknown> = {}) => ({
      name,
      version,
      urls: [`${base}/${name}-${version}.tgz`],
      created: '2024-05-06T07:08:09Z',
      ...extra,
    });
    fs.writeFileSync(
      path.join(ci, 'index.yaml'),
      stringify({
        apiVersion: 'v1',
        entries: {
          fluxcd: [
            entry('fluxcd', '3.0.1'),
            entry('fluxcd', '3.1.0-beta.1'),
            entry('fluxcd', '3.0.2', { annotations: { 'system.vela': '>=1.9.0-alpha.2' } }),
          ],
          velaux: [{ ...entry('velaux', 'v1.9.5'), urls: ['velaux-v1.9.5.tgz'] }],
          dex: [entry('dex', '0.7.0')],
          loki: [entry('loki', 'v0.3.1')],
          cloudshell: [entry('cloudshell', '0.0.10')],
          gone: [entry('gone', '1.0.0')],
        },
      }),
    );
    // The independent reader agrees on the version choice.
    const idx = parseIndexStrict(fs.readFileSync(path.join(ci, 'index.yaml'), 'utf8'));
    expect(chooseVersion(idx.entries.fluxcd ?? []).version).toBe('3.0.2');

    const engine = testEngine();
    const latest = await readHelmAddonRegistry(engine, base, 'official');
    expect(latest.addons.map((a) => `${a.metadata.name}@${a.metadata.version}`).sort()).toEqual([
      'fluxcd@3.0.2',
      'velaux@v1.9.5',
    ]);
    const flux = latest.addons.find((a) => a.metadata.name === 'fluxcd') as Addon;
    expect([...flux.files.keys()].sort()).toEqual([...pkgOf('fluxcd').addon.files.keys()].sort());
    for (const [p, d] of pkgOf('fluxcd').addon.files) expect(flux.files.get(p)?.equals(d)).toBe(true);
    const warned = Object.fromEntries(latest.warnings.map((w) => [w.addon, w.message]));
    expect(Object.keys(warned).sort()).toEqual(['cloudshell', 'dex', 'gone', 'loki']);
    expect(warned.cloudshell).toMatch(/outside a top directory/);
    expect(warned.gone).toMatch(/HTTP 404/);
    expect(warned.loki).toMatch(/not gzip/);
    expect(warned.dex).toMatch(/outside the addon/);

    const all = await readHelmAddonRegistry(engine, base, 'official', { versions: 'all', addons: ['fluxcd'] });
    // The 3.0.1 and beta archives hold the 3.0.2 folder: read, with a warning that the versions differ.
    expect(all.addons.map((a) => a.metadata.name)).toEqual(['fluxcd', 'fluxcd', 'fluxcd']);
    expect(all.warnings.map((w) => w.message).filter((m) => /metadata.yaml says version 3.0.2/.test(m))).toHaveLength(
      2,
    );

    const listed = await readHelmAddonRegistry(engine, base, 'official', {
      versions: { velaux: ['1.9.5'], fluxcd: ['9.9.9'], nope: ['1.0.0'] },
    });
    expect(listed.addons.map((a) => `${a.metadata.name}@${a.metadata.version}`)).toEqual(['velaux@v1.9.5']);
    expect(listed.warnings.map((w) => `${w.addon}: ${w.message}`).sort()).toEqual([
      'fluxcd: version 9.9.9 is not in the registry index',
      'nope: the addon is not in the registry index',
    ]);
  });

  it('fails with a clear error when the registry index cannot be fetched', async () => {
    const err = await readHelmAddonRegistry(testEngine(), `${web.url}/nowhere`, 'official').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(String((err as Error).message)).toMatch(/index\.yaml/);
  });
});
