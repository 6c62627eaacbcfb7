import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositoryClient, type RepositoryClient } from '../src/spaceone/repository-client.js';
import { airlock } from './support/cli.js';
import { buildManifest, pushImage } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { makeToken, startRepositoryDouble, type RepositoryDouble } from './support/spaceone-double.js';

let upstream: TestRegistry;
let target: TestRegistry;
let double: RepositoryDouble;
const admin = makeToken({ did: 'domain-1', rol: 'DOMAIN_ADMIN' });

beforeAll(async () => {
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  double = await startRepositoryDouble({
    registryInfo: {
      HARBOR: { url: target.host, image_pull_secrets: 'regcred' },
      DOCKER_HUB: { url: 'registry.hub.docker.com' },
    },
    harbor: { baseUrl: target.url },
    managed: {
      'plugin-slack-noti-protocol': {
        name: 'Slack (managed)',
        image: 'cloudforet/plugin-slack-noti-protocol',
        resource_type: 'notification.Protocol',
      },
    },
  });
  for (const tag of ['1.0.0', '1.1.0', 'latest'])
    await pushImage(upstream.url, 'cloudforet/plugin-demo-inven-collector', tag, buildManifest({}));
  await pushImage(target.url, 'cloudforet/plugin-with-latest', 'latest', buildManifest({}));
  await pushImage(target.url, 'cloudforet/plugin-tagged', '2.0.1', buildManifest({}));
});

afterAll(async () => {
  await double?.stop();
  await Promise.all([upstream?.stop(), target?.stop()]);
});

const client = (token = admin, extra: { domainId?: string } = {}): RepositoryClient =>
  createRepositoryClient({ endpoint: double.address, token, ...extra, attempts: 1 });
const req = (over: Record<string, unknown> = {}) => ({
  plugin_id: 'plugin-tagged',
  name: 'Tagged',
  resource_type: 'inventory.Collector',
  image: 'cloudforet/plugin-tagged',
  registry_type: 'HARBOR',
  provider: 'aws',
  labels: ['A'],
  tags: { description: 'd' },
  capability: { supported_schema: ['x'] },
  ...over,
});

describe('Repository service double follows the documented 2.x behaviour', () => {
  it('authenticates with token metadata and checks roles', async () => {
    await expect(client('').register(req())).rejects.toMatchObject({
      grpcStatus: 'UNAUTHENTICATED',
      serviceCode: 'ERROR_AUTHENTICATE_FAILURE',
    });
    await expect(client(makeToken({ did: 'domain-1', rol: 'WORKSPACE_MEMBER' })).register(req())).rejects.toMatchObject(
      { grpcStatus: 'PERMISSION_DENIED', serviceCode: 'ERROR_PERMISSION_DENIED' },
    );
    await expect(client(makeToken({ typ: 'SYSTEM_TOKEN' })).register(req())).rejects.toMatchObject({
      grpcStatus: 'INVALID_ARGUMENT',
      message: expect.stringContaining('Required parameter. (key = domain_id)'),
    });
  });

  it('validates in the documented order with "ERROR_X: message" details', async () => {
    const c = client();
    await expect(c.register(req({ name: '' }))).rejects.toMatchObject({
      message: expect.stringContaining('ERROR_REQUIRED_PARAMETER: Required parameter. (key = name)'),
    });
    await expect(c.register(req({ image: 'cloudforet/plugin_tagged_x' }))).rejects.toMatchObject({
      serviceCode: 'ERROR_INVALID_IMAGE_NAME_FORMAT',
    });
    await expect(c.register(req({ image: `cloudforet/${'a'.repeat(49)}` }))).rejects.toMatchObject({
      serviceCode: 'ERROR_INVALID_IMAGE_LENGTH',
    });
    await expect(c.register(req({ registry_type: 'GITHUB' }))).rejects.toMatchObject({
      grpcStatus: 'INTERNAL',
      serviceCode: 'ERROR_REGISTRY_SETTINGS',
    });
  });

  it('registers with timestamps and registry info from REGISTRY_INFO, refuses duplicates, and rolls back a register whose image has no sortable tag', async () => {
    const c = client();
    const p = await c.register(req());
    expect(p).toMatchObject({
      plugin_id: 'plugin-tagged',
      registry_url: target.host,
      registry_config: { url: target.host, image_pull_secrets: 'regcred' },
      repository_info: { repository_id: 'repo-local', repository_type: 'LOCAL' },
      labels: ['A'],
    });
    expect(p.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    await expect(c.register(req())).rejects.toMatchObject({
      grpcStatus: 'ALREADY_EXISTS',
      serviceCode: 'ERROR_SAVE_UNIQUE_VALUES',
    });
    expect(await c.getVersions('plugin-tagged')).toEqual(['2.0.1']);
    await expect(c.register(req({ plugin_id: 'plugin-none', image: 'cloudforet/plugin-none' }))).rejects.toMatchObject({
      serviceCode: 'ERROR_NO_IMAGE_IN_REGISTRY',
    });
    await expect(c.get('plugin-none')).rejects.toMatchObject({ serviceCode: 'ERROR_NO_PLUGIN' });
    await expect(
      c.register(req({ plugin_id: 'plugin-with-latest', image: 'cloudforet/plugin-with-latest' })),
    ).rejects.toMatchObject({
      serviceCode: 'ERROR_UNKNOWN',
      message: expect.stringContaining("Invalid version: 'latest'"),
    });
    await expect(c.get('plugin-with-latest', 'repo-local')).rejects.toMatchObject({ serviceCode: 'ERROR_NO_PLUGIN' });
    await c.deregister('plugin-tagged');
    await expect(c.update({ plugin_id: 'plugin-tagged', name: 'x' })).rejects.toMatchObject({
      grpcStatus: 'NOT_FOUND',
      serviceCode: 'ERROR_NOT_FOUND',
    });
  });

  it('lets the managed catalog shadow a local plugin of the same id unless repository_id is given', async () => {
    const c = client();
    await pushImage(target.url, 'cloudforet/plugin-slack-noti-protocol', '1.0.0', buildManifest({}));
    await c.register(
      req({
        plugin_id: 'plugin-slack-noti-protocol',
        image: 'cloudforet/plugin-slack-noti-protocol',
        name: 'Slack (mirror)',
        resource_type: 'notification.Protocol',
      }),
    );
    expect((await c.get('plugin-slack-noti-protocol')).name).toBe('Slack (managed)');
    expect((await c.get('plugin-slack-noti-protocol', 'repo-local')).name).toBe('Slack (mirror)');
    expect((await c.listRepositories()).map((r) => r.repository_type)).toEqual(['LOCAL', 'MANAGED']);
    await c.deregister('plugin-slack-noti-protocol');
  });
  it('pages list through PluginQuery.query.page until every plugin is read, with and without repository_id', async () => {
    const seeded = Array.from({ length: 23 }, (_, i) => `plugin-page-${String(i).padStart(2, '0')}`);
    for (const id of seeded)
      double.plugins.set(`domain-1|${id}`, {
        plugin_id: id,
        name: id,
        state: 'ENABLED',
        resource_type: 'inventory.Collector',
        image: `cloudforet/${id}`,
        registry_type: 'HARBOR',
      });
    try {
      const c = createRepositoryClient({ endpoint: double.address, token: admin, attempts: 1, pageSize: 5 });
      double.calls.length = 0;
      const local = await c.list({ repository_id: 'repo-local' });
      expect(local.map((p) => p.plugin_id)).toEqual(seeded);
      expect(double.calls.map((x) => (x.request.query as { page: { start: number; limit: number } }).page)).toEqual(
        [1, 6, 11, 16, 21].map((start) => ({ start, limit: 5 })),
      );
      // Over all repositories the managed catalog comes first, and the same id may appear in both.
      const everything = await c.list({});
      expect(everything.map((p) => `${p.repository_info?.repository_id} ${p.plugin_id}`)).toEqual([
        'repo-managed plugin-slack-noti-protocol',
        ...seeded.map((id) => `repo-local ${id}`),
      ]);
      expect((await c.list({ plugin_id: 'plugin-page-07' })).map((p) => p.plugin_id)).toEqual(['plugin-page-07']);
      c.close();
    } finally {
      for (const id of seeded) double.plugins.delete(`domain-1|${id}`);
    }
  });
});

describe('airlock plugins sync against the double', () => {
  let work: string;
  const write = (cfgExtra: string, manifest: Record<string, string>) => {
    fs.writeFileSync(
      path.join(work, 'manifests', 'demo.yaml'),
      Object.entries(manifest)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    );
    fs.writeFileSync(
      path.join(work, 'airlock.yaml'),
      [
        'plugins:',
        `  manifests: [${path.join(work, 'manifests')}]`,
        `  source: ${upstream.host}/cloudforet`,
        '  tags: ["1.0.0", "1.1.0", "latest"]',
        '  target:',
        `    registry: ${target.host}`,
        '    path: cloudforet',
        '  service:',
        `    endpoint: ${double.address}`,
        '    token: { env: SPACEONE_TOKEN }',
        cfgExtra,
      ].join('\n'),
    );
  };
  const base = {
    plugin_id: 'plugin-demo',
    name: 'Demo',
    image: 'plugin-demo-inven-collector',
    resource_type: 'inventory.Collector',
    provider: 'aws',
    labels: '[EC2]',
  };
  const run = (args: string[] = []) =>
    airlock(
      [
        'plugins',
        'sync',
        '--config',
        path.join(work, 'airlock.yaml'),
        '--json',
        '--state',
        path.join(work, 'state.json'),
        ...args,
      ],
      { SPACEONE_TOKEN: admin },
    );

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'plugins-sync-'));
    fs.mkdirSync(path.join(work, 'manifests'));
  });

  it('mirrors the image (no latest), registers, and re-runs idempotently; a label change is one update; an image change needs recreate', async () => {
    write('', base);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const [o] = JSON.parse(first.stdout) as Array<{
      plugin_id: string;
      mirrored: string[];
      warnings: string[];
      registration: { action: string; versions: string[] };
    }>;
    expect(o?.mirrored.sort()).toEqual(['1.0.0', '1.1.0']);
    expect(o?.warnings.join(' ')).toMatch(/not mirrored: latest/);
    expect(o?.registration).toMatchObject({ action: 'registered', versions: ['1.1.0', '1.0.0'] });
    expect(token(first.stderr + first.stdout)).toBe(false);

    const list = await airlock(['plugins', 'list', '--config', path.join(work, 'airlock.yaml'), '--json'], {
      SPACEONE_TOKEN: admin,
    });
    expect(JSON.parse(list.stdout)).toContainEqual({
      plugin_id: 'plugin-demo',
      state: 'registered',
      wanted_image: 'cloudforet/plugin-demo-inven-collector',
      registered_image: 'cloudforet/plugin-demo-inven-collector',
    });

    double.calls.length = 0;
    const again = await run();
    expect(JSON.parse(again.stdout)[0].registration.action).toBe('unchanged');
    // Nothing new to push, nothing changed: the only call is get.
    expect(double.calls.map((c) => c.method)).toEqual(['get']);

    double.calls.length = 0;
    write('', { ...base, labels: '[EC2, Instance]' });
    const changed = await run();
    expect(JSON.parse(changed.stdout)[0].registration.action).toBe('updated');
    const update = double.calls.filter((c) => c.method === 'update');
    expect(update).toHaveLength(1);
    expect(
      Object.keys(update[0]?.request ?? {}).filter(
        (k) =>
          (update[0]?.request as Record<string, unknown>)[k] !== undefined &&
          (update[0]?.request as Record<string, unknown>)[k] !== null &&
          k !== 'plugin_id',
      ),
    ).toEqual(['labels']);

    write('', { ...base, labels: '[EC2, Instance]', provider: 'aws-china' });
    const conflict = await run();
    expect(conflict.code).toBe(8);
    expect(conflict.stderr).toMatch(
      /\[E_CONFLICT\] plugin-demo: registered plugin differs in provider "aws" → "aws-china"/,
    );
    write('  allowRecreate: true', { ...base, labels: '[EC2, Instance]', provider: 'aws-china' });
    const recreated = await run();
    expect(JSON.parse(recreated.stdout)[0].registration.action).toBe('recreated');
  });

  it('reports a bad token, a plugin without tags and an unreachable service per plugin, registering nothing without its image', async () => {
    // As the previous test left it registered.
    write('', { ...base, labels: '[EC2, Instance]', provider: 'aws-china' });
    fs.writeFileSync(
      path.join(work, 'manifests', 'ghost.yaml'),
      'plugin_id: plugin-ghost\nname: Ghost\nimage: plugin-ghost-collector\nresource_type: inventory.Collector\n',
    );
    fs.writeFileSync(path.join(work, 'manifests', 'broken.yaml'), 'name: [unclosed\n');
    const none = await run();
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/\[E_NOT_FOUND\] plugin-ghost: docker:\/\/.*plugin-ghost-collector/);
    expect(none.stderr).toMatch(/broken\.yaml: not valid YAML/);
    expect([...double.plugins.keys()].some((k) => k.endsWith('|plugin-ghost'))).toBe(false);
    // The other plugin went on.
    expect(
      (JSON.parse(none.stdout) as Array<{ plugin_id: string; registration?: { action: string } }>).find(
        (o) => o.plugin_id === 'plugin-demo',
      )?.registration?.action,
    ).toBe('unchanged');
    fs.rmSync(path.join(work, 'manifests', 'ghost.yaml'));
    fs.rmSync(path.join(work, 'manifests', 'broken.yaml'));

    write('', base);
    const bad = await airlock(
      ['plugins', 'sync', '--config', path.join(work, 'airlock.yaml'), '--state', path.join(work, 'state.json')],
      { SPACEONE_TOKEN: 'not-a-jwt' },
    );
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/UNAUTHENTICATED ERROR_AUTHENTICATE_FAILURE/);
    expect(bad.stderr).not.toContain('not-a-jwt');

    fs.writeFileSync(
      path.join(work, 'down.yaml'),
      fs.readFileSync(path.join(work, 'airlock.yaml'), 'utf8').replace(double.address, 'grpc://127.0.0.1:1'),
    );
    const down = await airlock(
      ['plugins', 'sync', '--config', path.join(work, 'down.yaml'), '--state', path.join(work, 'state.json')],
      { SPACEONE_TOKEN: admin },
    );
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/\[E_UNREACHABLE\] plugin-demo: Repository get: UNAVAILABLE/);
  });

  it('airlock plugins list reads every page of a service holding more plugins than one page', async () => {
    write('', base);
    const seeded = Array.from({ length: 230 }, (_, i) => `plugin-many-${String(i).padStart(3, '0')}`);
    for (const id of seeded)
      double.plugins.set(`domain-1|${id}`, {
        plugin_id: id,
        name: id,
        state: 'ENABLED',
        resource_type: 'inventory.Collector',
        image: `cloudforet/${id}`,
        registry_type: 'HARBOR',
      });
    try {
      double.calls.length = 0;
      const list = await airlock(['plugins', 'list', '--config', path.join(work, 'airlock.yaml'), '--json'], {
        SPACEONE_TOKEN: admin,
      });
      expect(list.code, list.stderr).toBe(0);
      const rows = JSON.parse(list.stdout) as Array<{ plugin_id: string; state: string }>;
      expect(rows.filter((r) => r.state === 'not in config').map((r) => r.plugin_id)).toEqual(seeded);
      expect(rows.find((r) => r.plugin_id === 'plugin-demo')?.state).toBe('registered');
      expect(double.calls.filter((c) => c.method === 'list').map((c) => c.request)).toEqual(
        [1, 101, 201].map((start) => ({ repository_id: 'repo-local', query: { page: { start, limit: 100 } } })),
      );
    } finally {
      for (const id of seeded) double.plugins.delete(`domain-1|${id}`);
    }
  });
});

function token(text: string): boolean {
  return text.includes(admin);
}
