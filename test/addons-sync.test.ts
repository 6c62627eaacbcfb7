import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';
import { buildChart, startChartRepo, type ChartRepoServer } from './support/charts.js';
import { buildManifest, getManifest, pushImage } from './support/images.js';
import { readAddonArchive, readAddonRegistry } from './support/kubevela-reader.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { startStaticServer, type StaticServer } from './support/static-server.js';

interface Report {
  ok: boolean;
  summary: Record<string, number>;
  items: Array<{
    kind: string;
    source: string;
    target: string;
    status: string;
    warnings: string[];
    rewrites?: Array<{ kind: string; file: string; from: string; to: string }>;
    error?: { code: string; message: string };
  }>;
}

let upstream: TestRegistry;
let target: TestRegistry;
let charts: ChartRepoServer;
let files: StaticServer;
let published: StaticServer;
let work: string;

function writeAddon(root: string, folder: string, entries: Record<string, string>): void {
  for (const [f, text] of Object.entries(entries)) {
    const file = path.join(root, folder, f);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(upstream.url, 'acme/controller', 'v1.2.0', buildManifest({}));
  await pushImage(upstream.url, 'acme/chart-image', '3.0', buildManifest({}));
  const chart = buildChart({
    name: 'acme-operator',
    version: '0.4.0',
    values: { image: { repository: `${upstream.host}/acme/chart-image`, tag: '3.0' } },
  });
  charts = await startChartRepo([{ name: 'acme-operator', version: '0.4.0', tgz: chart }]);
  files = await startStaticServer();
  files.files.set('/dashboards/acme.json', Buffer.from('{"title":"acme"}\n'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-addons-'));
  published = await startStaticServer({ dir: path.join(work, 'published') });
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop(), charts?.stop(), files?.stop(), published?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

function catalog(): string {
  const root = path.join(work, 'catalog');
  // A small catalog in KubeVela's layout: an official addon with an optional registry prefix,
  // a chart and a runtime URL; an experimental addon that depends on it and needs an image
  // that does not exist upstream.
  writeAddon(root, 'addons/acme', {
    'metadata.yaml':
      'name: acme\nversion: 1.0.0\ndescription: Acme controller\ntags:\n  - Official\nsystem:\n  vela: ">=1.9.0"\n',
    'parameter.cue':
      'parameter: {\n\t//+usage=Registry prefix\n\tregistry?: string\n\tchartVersion: *"0.4.0" | string\n}\n',
    'template.cue': [
      'package main',
      '_base: *"" | string',
      'if parameter.registry != _|_ {',
      '\t_base: parameter.registry + "/"',
      '}',
      'output: {',
      '\tapiVersion: "core.oam.dev/v1beta1"',
      '\tkind:       "Application"',
      '\tspec: components: [controller, operator, dashboards]',
      '}',
      '',
    ].join('\n'),
    'resources/controller.cue': `controller: {\n\tname: "acme-controller"\n\ttype: "webservice"\n\tproperties: {\n\t\timage: _base + "${upstream.host}/acme/controller:v1.2.0"\n\t}\n}\n`,
    'resources/operator.cue': `operator: {\n\tname: "acme-operator"\n\ttype: "helm"\n\tproperties: {\n\t\trepoType: "helm"\n\t\turl:      "${charts.url}"\n\t\tchart:    "acme-operator"\n\t\tversion:  parameter.chartVersion\n\t}\n}\n`,
    'resources/dashboards.cue': `dashboards: {\n\tname: "acme-dashboards"\n\ttype: "ref-objects"\n\tproperties: urls: ["${files.url}/dashboards/acme.json"]\n}\n`,
    'README.md': '# acme\n',
  });
  writeAddon(root, 'experimental/addons/acme-extra', {
    'metadata.yaml': 'name: acme-extra\nversion: 0.1.0\ndependencies:\n  - name: acme\n',
    'resources/extra.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: extra\nspec:\n  template:\n    spec:\n      containers:\n        - name: extra\n          image: ${upstream.host}/acme/extra:0.1.0\n`,
  });
  return root;
}

function config(root: string): string {
  const cfg = path.join(work, 'airlock.yaml');
  fs.writeFileSync(
    cfg,
    [
      'targets:',
      '  images:',
      `    registry: ${target.host}`,
      '  charts:',
      `    - url: ${path.join(work, 'charts')}`,
      '      baseUrl: https://charts.airgap/stable',
      '  files:',
      `    dir: ${path.join(work, 'files')}`,
      '    baseUrl: https://files.airgap',
      'addons:',
      '  catalogs:',
      '    - name: test',
      `      source: ${root}`,
      '  publish:',
      '    registries:',
      `      - url: ${path.join(work, 'published', '{registry}')}`,
      `        baseUrl: ${published.url}/{registry}`,
    ].join('\n'),
  );
  return cfg;
}

describe('airlock addons sync', () => {
  it('mirrors what the addons need, publishes the complete ones rewritten, holds back the one whose image is missing', async () => {
    const cfg = config(catalog());
    const state = ['--state', path.join(work, 'state.json')];
    const r = await airlock(['addons', 'sync', '--config', cfg, '--json', ...state]);
    const report = JSON.parse(r.stdout) as Report;
    const host = upstream.host.replace(':', '-');

    expect(
      report.items
        .filter((i) => i.kind === 'image' && i.status === 'copied')
        .map((i) => i.source)
        .sort(),
    ).toEqual([`docker://${upstream.host}/acme/chart-image:3.0`, `docker://${upstream.host}/acme/controller:v1.2.0`]);
    expect(report.items.find((i) => i.kind === 'chart')).toMatchObject({
      status: 'copied',
      source: `${charts.url} acme-operator@0.4.0`,
    });
    expect(report.items.find((i) => i.kind === 'file')).toMatchObject({
      status: 'copied',
      source: `${files.url}/dashboards/acme.json`,
    });
    const acmeItem = report.items.find((i) => i.kind === 'addon' && i.source.startsWith('official/acme@'));
    expect(acmeItem).toMatchObject({ status: 'copied' });
    // The rewrite is reported per addon, old → new.
    expect(acmeItem?.rewrites).toContainEqual({
      kind: 'image',
      file: 'resources/controller.cue',
      from: `${upstream.host}/acme/controller:v1.2.0`,
      to: `${target.host}/${host}/acme/controller:v1.2.0`,
    });
    expect(acmeItem?.rewrites).toContainEqual({
      kind: 'chart',
      file: 'resources/operator.cue',
      from: charts.url,
      to: 'https://charts.airgap/stable',
    });
    const extra = report.items.find((i) => i.kind === 'addon' && i.source.startsWith('experimental/acme-extra@'));
    expect(extra?.status).toBe('failed');
    expect(extra?.error?.message).toContain(`image ${upstream.host}/acme/extra:0.1.0`);
    expect(r.code).not.toBe(0);
    expect((await getManifest(target.url, `${host}/acme/controller`, 'v1.2.0')).status).toBe(200);

    // Read the published registry back the way KubeVela does.
    const official = await readAddonRegistry(`${published.url}/official`);
    const acme = official.addons.get('acme')!;
    expect(official.index.entries.acme?.[0]?.annotations).toMatchObject({
      'system.vela': '>=1.9.0',
      'addon.name': 'acme',
    });
    const controller = acme.files.get('resources/controller.cue')!.toString();
    expect(controller).toContain(`image: _base + "${target.host}/${host}/acme/controller:v1.2.0"`);
    const operator = acme.files.get('resources/operator.cue')!.toString();
    expect(operator).toContain('url:      "https://charts.airgap/stable"');
    const dashboards = acme.files.get('resources/dashboards.cue')!.toString();
    expect(dashboards).not.toContain(files.url);
    expect(dashboards).toMatch(/urls: \["https:\/\/files\.airgap\/[^"]+acme\.json"\]/);
    // Files with nothing to rewrite are the upstream bytes.
    expect(acme.files.get('parameter.cue')!.toString()).toBe(
      fs.readFileSync(path.join(work, 'catalog', 'addons', 'acme', 'parameter.cue'), 'utf8'),
    );
    expect(fs.existsSync(path.join(work, 'published', 'experimental', 'acme-extra-0.1.0.tgz'))).toBe(false);
  });

  it('a re-sync after the missing image appears publishes the held-back addon and pushes nothing else', async () => {
    await pushImage(upstream.url, 'acme/extra', '0.1.0', buildManifest({}));
    const cfg = path.join(work, 'airlock.yaml');
    const before = fs.statSync(path.join(work, 'published', 'official', 'acme-1.0.0.tgz')).mtimeMs;
    const r = await airlock(['addons', 'sync', '--config', cfg, '--json', '--state', path.join(work, 'state.json')]);
    const report = JSON.parse(r.stdout) as Report;
    expect(r.code).toBe(0);
    expect(
      report.items.find((i) => i.kind === 'addon' && i.source.startsWith('experimental/acme-extra@')),
    ).toMatchObject({ status: 'copied' });
    expect(report.items.find((i) => i.kind === 'addon' && i.source.startsWith('official/acme@'))).toMatchObject({
      status: 'unchanged',
    });
    expect(report.items.filter((i) => i.status === 'copied').map((i) => `${i.kind} ${i.source}`)).toEqual([
      `image docker://${upstream.host}/acme/extra:0.1.0`,
      'addon experimental/acme-extra@0.1.0',
    ]);
    expect(fs.statSync(path.join(work, 'published', 'official', 'acme-1.0.0.tgz')).mtimeMs).toBe(before);
    const experimental = await readAddonRegistry(`${published.url}/experimental`);
    expect(experimental.addons.get('acme-extra')!.files.get('resources/extra.yaml')!.toString()).toContain(
      `image: ${target.host}/${upstream.host.replace(':', '-')}/acme/extra:0.1.0`,
    );

    // The published registry is itself a source airlock reads (a helm-type addon registry).
    const plan = await airlock(['addons', 'plan', '--helm', `${published.url}/official`, '--json']);
    expect(plan.code).toBe(0);
    const [acme] = JSON.parse(plan.stdout) as Array<{
      addon: string;
      images: string[];
      charts: Array<{ repo: string }>;
      urls: string[];
    }>;
    expect(acme).toMatchObject({
      addon: 'acme',
      images: [`${target.host}/${upstream.host.replace(':', '-')}/acme/controller:v1.2.0`],
      charts: [{ repo: 'https://charts.airgap/stable' }],
    });
    expect(acme!.urls[0]).toMatch(/^https:\/\/files\.airgap\//);
  });

  it('--dry-run plans without copying or publishing; a config without addons: is a config error', async () => {
    const cfg = path.join(work, 'airlock.yaml');
    const r = await airlock([
      'addons',
      'sync',
      '--config',
      cfg,
      '--dry-run',
      '--json',
      '--state',
      path.join(work, 'state.json'),
    ]);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.items.filter((i) => i.kind === 'addon').every((i) => i.status === 'planned')).toBe(true);
    // Nothing is downloaded in a dry run, the runtime files included.
    expect(report.items.filter((i) => i.kind === 'file').map((i) => i.status)).toEqual(['planned']);
    const empty = path.join(work, 'empty.yaml');
    fs.writeFileSync(empty, 'images: []\n');
    const bad = await airlock(['addons', 'sync', '--config', empty]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no addons: section/);
  });
});

describe('airlock addons sync --verify-targets', () => {
  it('is accepted; images already at their targets are found there and copied again by nobody', async () => {
    const r = await airlock([
      'addons',
      'sync',
      '--config',
      path.join(work, 'airlock.yaml'),
      '--verify-targets',
      '--json',
      '--state',
      path.join(work, 'state.json'),
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.items.filter((i) => i.kind === 'image').map((i) => i.status)).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect(report.summary.copied ?? 0).toBe(0);
  });
});

describe('publishing addons one by one', () => {
  it('an addon that cannot be packaged fails alone, once, in a run and in a dry run', async () => {
    const root = path.join(work, 'packaging-catalog');
    writeAddon(root, 'addons/plain', {
      'metadata.yaml': 'name: plain\nversion: 1.0.0\n',
      'resources/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n',
    });
    // A file name with a backslash: Helm's archive loader would read it as a Windows path, so the packager refuses it.
    writeAddon(root, 'addons/long-name', {
      'metadata.yaml': 'name: long-name\nversion: 1.0.0\n',
      ['resources/windows\\style.yaml']: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\n',
    });
    const cfg = path.join(work, 'packaging.yaml');
    const out = path.join(work, 'packaging-published');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  images:',
        `    registry: ${target.host}`,
        'addons:',
        '  catalogs:',
        '    - name: test',
        `      source: ${root}`,
        '  publish:',
        '    registries:',
        `      - url: ${path.join(out, '{registry}')}`,
      ].join('\n'),
    );
    for (const dryRun of [true, false]) {
      const r = await airlock([
        'addons',
        'sync',
        '--config',
        cfg,
        '--json',
        '--state',
        path.join(work, 'packaging-state.json'),
        ...(dryRun ? ['--dry-run'] : []),
      ]);
      const addonItems = (JSON.parse(r.stdout) as Report).items.filter((i) => i.kind === 'addon');
      expect(addonItems.map((i) => `${i.source} ${i.status}`).sort()).toEqual([
        'official/long-name@1.0.0 failed',
        `official/plain@1.0.0 ${dryRun ? 'planned' : 'copied'}`,
      ]);
      expect(addonItems.find((i) => i.status === 'failed')?.error?.message).toMatch(/contains a backslash/);
      expect(r.code).not.toBe(0);
    }
    expect(fs.existsSync(path.join(out, 'official', 'plain-1.0.0.tgz'))).toBe(true);
  });
});

describe('credentials in the git mirror remote', () => {
  it('a token given as the URL user name is refused at load, pointing at AIRLOCK_GIT_AUTH_<HOST>, and never printed', async () => {
    const token = 'ghp_userNameT0ken4242';
    const cfg = path.join(work, 'token-remote.yaml');
    fs.writeFileSync(
      cfg,
      fs
        .readFileSync(config(catalog()), 'utf8')
        .replace(
          '  publish:',
          `  publish:\n    git:\n      remote: https://${token}@git.invalid/catalog.git\n      branch: airgap`,
        ),
    );
    const r = await airlock([
      'addons',
      'sync',
      '--config',
      cfg,
      '--dry-run',
      '--json',
      '--state',
      path.join(work, 'token-state.json'),
    ]);
    expect(r.code).toBe(2);
    // --json: the report of a command that failed before its run, with the same error.
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, items: [], error: { code: 'E_CONFIG' } });
    expect(r.stdout).not.toContain(token);
    expect(r.stderr.trim()).toMatch(
      /^airlock: \[E_CONFIG\] .*: addons\.publish\.git\.remote: carries credentials in the URL .*set AIRLOCK_GIT_AUTH_GIT_INVALID=user:token instead$/,
    );
    expect(r.stderr).not.toContain(token);
  });
});

describe('addon catalogs from git, published to a git mirror', () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
        GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
        GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
      },
    })
      .toString()
      .trim();

  it('plans a git catalog at a tag, syncs it and pushes branches, tags and a rewritten airgap branch; a re-run pushes nothing', async () => {
    const upstreamRepo = path.join(work, 'upstream.git-work');
    fs.cpSync(catalog(), upstreamRepo, { recursive: true });
    git(upstreamRepo, 'init', '-q', '-b', 'master');
    git(upstreamRepo, 'add', '-A');
    git(upstreamRepo, 'commit', '-q', '-m', 'catalog');
    git(upstreamRepo, 'tag', 'v1');
    const remote = path.join(work, 'private.git');
    git(work, 'init', '-q', '--bare', remote);
    const cache = path.join(work, 'git-cache');

    const planned = await airlock([
      'addons',
      'plan',
      '--catalog',
      `file://${upstreamRepo}`,
      '--ref',
      'v1',
      '--cache-dir',
      cache,
      '--json',
    ]);
    expect(planned.code).toBe(0);
    expect((JSON.parse(planned.stdout) as Array<{ addon: string }>).map((p) => p.addon).sort()).toEqual([
      'acme',
      'acme-extra',
    ]);

    const cfg = path.join(work, 'git.yaml');
    fs.writeFileSync(
      cfg,
      fs
        .readFileSync(path.join(work, 'airlock.yaml'), 'utf8')
        .replace(/source: .*/, `source: file://${upstreamRepo}\n      ref: master`)
        .replace(
          '  publish:',
          `  cacheDir: ${cache}\n  publish:\n    git:\n      remote: ${remote}\n      branch: airgap`,
        ),
    );
    const state = ['--state', path.join(work, 'state.json')];
    const first = await airlock(['addons', 'sync', '--config', cfg, '--json', ...state]);
    const report = JSON.parse(first.stdout) as Report;
    expect(first.code).toBe(0);
    expect(report.items.find((i) => i.kind === 'git-mirror')).toMatchObject({ status: 'copied' });
    const head = git(upstreamRepo, 'rev-parse', 'HEAD');
    expect(git(remote, 'rev-parse', 'refs/heads/master')).toBe(head);
    expect(git(remote, 'rev-parse', 'refs/tags/v1')).toBe(head);
    expect(git(remote, 'rev-parse', 'airgap^')).toBe(head);
    const changed = git(remote, 'diff', '--name-only', 'master', 'airgap').split('\n').sort();
    expect(changed).toEqual([
      'addons/acme/resources/controller.cue',
      'addons/acme/resources/dashboards.cue',
      'addons/acme/resources/operator.cue',
      'experimental/addons/acme-extra/resources/extra.yaml',
    ]);
    expect(git(remote, 'show', 'airgap:addons/acme/resources/controller.cue')).toContain(
      `"${target.host}/${upstream.host.replace(':', '-')}/acme/controller:v1.2.0"`,
    );
    // Read back as its users do: a plain clone into a fresh directory, then the airgap branch.
    const clone = path.join(fs.mkdtempSync(path.join(work, 'fresh-clone-')), 'catalog');
    git(work, 'clone', '-q', remote, clone);
    git(clone, 'checkout', '-q', 'airgap');
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(git(remote, 'rev-parse', 'airgap'));
    expect(git(clone, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    expect(fs.readFileSync(path.join(clone, 'addons/acme/resources/controller.cue'), 'utf8')).toContain(
      `"${target.host}/${upstream.host.replace(':', '-')}/acme/controller:v1.2.0"`,
    );

    const again = await airlock(['addons', 'sync', '--config', cfg, '--json', ...state]);
    const r2 = JSON.parse(again.stdout) as Report;
    expect(r2.items.find((i) => i.kind === 'git-mirror')).toMatchObject({ status: 'unchanged' });
    expect(r2.summary.copied).toBe(0);
  });

  it('an unreachable git catalog fails alone with a one-line error naming it', async () => {
    const cfg = path.join(work, 'unreachable.yaml');
    fs.writeFileSync(
      cfg,
      [
        'addons:',
        '  cacheDir: ' + path.join(work, 'git-cache'),
        '  catalogs:',
        '    - name: gone',
        '      source: git://127.0.0.1:9/catalog.git',
      ].join('\n'),
    );
    const r = await airlock(['addons', 'sync', '--config', cfg, '--state', path.join(work, 'state2.json')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/airlock: \[E_UNREACHABLE\] git:\/\/127\.0\.0\.1:9\/catalog\.git/);
  });
});

describe('an image split over Helm values, with a path rule that does not keep the written name', () => {
  it('each value points at its part of the mirror and the addon is published; a reference that cannot be rewritten fails its addon', async () => {
    // The scenario of issue 15 part 6: `image: {registry: <source host>, repository: team/demo-server, tag}`
    // and `targets.images.path: "mirror/{repository}"`.
    await pushImage(upstream.url, 'team/demo-server', '1.4.2', buildManifest({}));
    await pushImage(upstream.url, 'demo-computed', '1.4.2', buildManifest({}));
    const root = path.join(work, 'split-catalog');
    const helmAddon = (name: string, repository: string) => ({
      'metadata.yaml': `name: ${name}\nversion: 1.0.0\n`,
      'template.cue': [
        'output: {',
        '\tapiVersion: "core.oam.dev/v1beta1"',
        '\tkind:       "Application"',
        '\tspec: components: [{',
        `\t\tname: "${name}"`,
        '\t\ttype: "helm"',
        '\t\tproperties: {',
        `\t\t\turl:     "${charts.url}"`,
        '\t\t\tchart:   "acme-operator"',
        '\t\t\tversion: "0.4.0"',
        '\t\t\tvalues: image: {',
        `\t\t\t\tregistry:   "${upstream.host}"`,
        `\t\t\t\trepository: ${repository}`,
        '\t\t\t\ttag:        "1.4.2"',
        '\t\t\t}',
        '\t\t}',
        '\t}]',
        '}',
        '',
      ].join('\n'),
    });
    writeAddon(root, 'addons/demo', helmAddon('demo', '"team/demo-server"'));
    // The repository is the addon's own name: no literal in the addon holds it, so no rewrite can move it under mirror/.
    writeAddon(root, 'addons/demo-computed', helmAddon('demo-computed', 'context.metadata.name'));
    const out = path.join(work, 'split-published');
    const cfg = path.join(work, 'split.yaml');
    fs.writeFileSync(
      cfg,
      [
        'targets:',
        '  images:',
        `    registry: ${target.host}`,
        '    path: "mirror/{repository}"',
        '  charts:',
        `    - url: ${path.join(work, 'split-charts')}`,
        '      baseUrl: https://charts.airgap/stable',
        'addons:',
        '  catalogs:',
        '    - name: split',
        `      source: ${root}`,
        '  publish:',
        '    registries:',
        `      - url: ${path.join(out, '{registry}')}`,
      ].join('\n'),
    );
    const r = await airlock([
      'addons',
      'sync',
      '--config',
      cfg,
      '--json',
      '--state',
      path.join(work, 'split-state.json'),
    ]);
    const report = JSON.parse(r.stdout) as Report;
    const demo = report.items.find((i) => i.kind === 'addon' && i.source === 'official/demo@1.0.0');
    expect(demo).toMatchObject({ status: 'copied' });
    expect(demo?.warnings).toEqual([]);
    expect(demo?.rewrites).toContainEqual({
      kind: 'image',
      file: 'template.cue',
      from: `${upstream.host}/team/demo-server:1.4.2`,
      to: `${target.host}/mirror/team/demo-server:1.4.2`,
    });

    // What the published addon deploys: its values, joined as the chart joins them, name the mirrored image.
    const tgz = fs.readFileSync(path.join(out, 'official', 'demo-1.0.0.tgz'));
    const published = readAddonArchive(tgz, 'demo').get('template.cue')!.toString();
    const value = (key: string) => new RegExp(`${key}:\\s+"([^"]+)"`).exec(published)?.[1];
    expect([value('registry'), value('repository'), value('tag')]).toEqual([
      target.host,
      'mirror/team/demo-server',
      '1.4.2',
    ]);
    expect((await getManifest(target.url, `${value('repository')}`, value('tag')!)).status).toBe(200);
    expect(published).toContain('url:     "https://charts.airgap/stable"');

    const computed = report.items.find((i) => i.kind === 'addon' && i.source === 'official/demo-computed@1.0.0');
    expect(computed?.status).toBe('failed');
    expect(computed?.error?.message).toMatch(
      /not published: a reference it needs cannot point at the mirror: demo-computed\/template\.cue: image .*demo-computed:1\.4\.2 cannot point at its mirror/,
    );
    expect(fs.existsSync(path.join(out, 'official', 'demo-computed-1.0.0.tgz'))).toBe(false);
    expect(r.code).not.toBe(0);
  });
});
