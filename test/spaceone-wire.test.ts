import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRepositoryClient, type RepositoryClient } from '../src/spaceone/repository-client.js';
import {
  dbl,
  fieldMap,
  len,
  listValue,
  msg,
  readFields,
  struct,
  vint,
  type WireField,
} from './support/protobuf-wire.js';
import { doubleSchema, fromWireList, fromWireStruct } from './support/spaceone-double.js';

/**
 * The Repository service's messages byte for byte, as cloudforet-io/api numbers them
 * (repository/v1/plugin.proto at 2b8b375e, repository.proto at 728c915e, core/v2/query.proto at
 * 629d7751). Responses are built by hand (key = field number << 3 | wire type) and served raw, so
 * airlock's client must decode what a real server sends; requests the client sends are read by
 * hand and by the double's own schema (test/support/spaceone-repository.schema.json), never by
 * proto/.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const PKG = 'spaceone.api.repository.v1';

interface Received {
  method: string;
  bytes: Buffer;
}

let server: grpc.Server;
let address: string;
const received: Received[] = [];
/** What the raw server answers per method: bytes, or a function of the request bytes. */
const replies: Record<string, Buffer | ((req: Buffer) => Buffer)> = {};

const raw = (service: string, method: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/${PKG}.${service}/${method}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
});

function answer(method: string) {
  return (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    received.push({ method, bytes: call.request });
    const r = replies[method];
    if (!r) return cb({ code: grpc.status.UNIMPLEMENTED, details: `no reply for ${method}` }, null);
    cb(null, typeof r === 'function' ? r(call.request) : r);
  };
}

beforeAll(async () => {
  server = new grpc.Server();
  const methods = ['register', 'update', 'deregister', 'enable', 'disable', 'get_versions', 'get', 'list'];
  server.addService(
    Object.fromEntries(methods.map((m) => [m, raw('Plugin', m)])),
    Object.fromEntries(methods.map((m) => [m, answer(m)])),
  );
  server.addService({ list: raw('Repository', 'list') }, { list: answer('repository.list') });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  address = `grpc://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.tryShutdown(() => r()));
});

beforeEach(() => {
  received.length = 0;
  for (const k of Object.keys(replies)) delete replies[k];
});

const client = (pageSize?: number): RepositoryClient =>
  createRepositoryClient({
    endpoint: address,
    token: 'wire-test-token',
    attempts: 1,
    ...(pageSize ? { pageSize } : {}),
  });

// A PluginInfo with every field upstream defines, each with a value unlike its default.
const capability = {
  supported_schema: ['aws_access_key', 'aws_assume_role'],
  use_resource_secret: true,
  weight: 1.5,
  none: null,
  nested: { monitoring_type: 'METRIC' },
};
const pluginInfoBytes = (id: string, repo = 'repo-local') =>
  msg(
    len(1, id),
    len(2, 'AWS EC2 Collector'),
    vint(3, 2), // State.DISABLED
    len(4, 'inventory.Collector'),
    len(5, `cloudforet/${id}`),
    len(6, 'aws'),
    vint(7, 3), // PublicRegistryType.HARBOR
    len(8, 'harbor.internal:5000'),
    len(9, struct({ url: 'harbor.internal:5000', image_pull_secrets: 'regcred' })),
    len(10, struct(capability)),
    len(11, listValue(['EC2', 'Instance'])),
    len(12, struct({ description: 'd', icon: 'https://icon/x.svg' })),
    len(13, struct({ en: '# Doc' })),
    len(21, 'domain-123'),
    len(22, msg(len(1, repo), len(2, 'Private'), len(3, 'LOCAL'), len(4, 'grpc://repo:50051'))),
    len(31, '2024-01-05T12:34:56.789Z'),
    len(32, '2024-01-06T00:00:00.000Z'),
  );
const pluginInfoJson = (id: string, repo = 'repo-local') => ({
  plugin_id: id,
  name: 'AWS EC2 Collector',
  state: 'DISABLED',
  resource_type: 'inventory.Collector',
  image: `cloudforet/${id}`,
  provider: 'aws',
  registry_type: 'HARBOR',
  registry_url: 'harbor.internal:5000',
  registry_config: { url: 'harbor.internal:5000', image_pull_secrets: 'regcred' },
  capability,
  labels: ['EC2', 'Instance'],
  tags: { description: 'd', icon: 'https://icon/x.svg' },
  docs: { en: '# Doc' },
  domain_id: 'domain-123',
  repository_info: { repository_id: repo, name: 'Private', repository_type: 'LOCAL', endpoint: 'grpc://repo:50051' },
  created_at: '2024-01-05T12:34:56.789Z',
  updated_at: '2024-01-06T00:00:00.000Z',
});

/** The request as the double's own schema reads it, Struct/ListValue back to JSON. */
function decodeRequest(type: string, bytes: Buffer): Record<string, unknown> {
  const t = doubleSchema().lookupType(`${PKG}.${type}`);
  const o = t.toObject(t.decode(bytes), { enums: String, longs: Number, defaults: false }) as Record<string, unknown>;
  for (const k of ['registry_config', 'capability', 'tags', 'docs'])
    if (o[k] !== undefined) o[k] = fromWireStruct(o[k]);
  if (o.labels !== undefined) o.labels = fromWireList(o.labels);
  return o;
}

/** Every field number in the bytes is one the upstream message defines, with its wire type. */
function expectKnownFields(type: string, bytes: Buffer): void {
  const t = doubleSchema().lookupType(`${PKG}.${type}`);
  for (const f of readFields(bytes)) {
    const def = t.fieldsById[f.field];
    expect(def, `${type} field ${f.field}`).toBeDefined();
    const scalarVarint = ['int32', 'uint32', 'bool'].includes(def!.type) || def!.resolvedType instanceof protobuf.Enum;
    expect(f.wireType, `${type}.${def!.name} wire type`).toBe(scalarVarint ? 0 : 2);
  }
}

const text = (f: { value: bigint | Buffer } | undefined) => (f?.value as Buffer | undefined)?.toString('utf8');
const num = (f: { value: bigint | Buffer } | undefined) => (f === undefined ? undefined : Number(f.value as bigint));

describe('responses a 2.x server sends, decoded by airlock', () => {
  it('VersionsInfo: total_count is field 2 (varint), the versions are field 3; deprecated field 1 is not the list', async () => {
    replies.get_versions = msg(vint(2, 3), len(3, '1.2.2'), len(3, '1.2.1.20220429.104002'), len(3, '1.0.0'));
    expect(await client().getVersions('plugin-x', 'repo-local')).toEqual(['1.2.2', '1.2.1.20220429.104002', '1.0.0']);
    replies.get_versions = msg(len(1, '0.9.0'), vint(2, 1), len(3, '2.0.0'));
    expect(await client().getVersions('plugin-x')).toEqual(['2.0.0']);
  });

  it('PluginInfo: every field, Struct and ListValue values of each kind, repository_info at 22, timestamps at 31 and 32', async () => {
    replies.get = pluginInfoBytes('plugin-aws-ec2-inven-collector');
    expect(await client().get('plugin-aws-ec2-inven-collector', 'repo-local')).toEqual(
      pluginInfoJson('plugin-aws-ec2-inven-collector'),
    );
    // register and update answer the same message.
    replies.register = pluginInfoBytes('plugin-r');
    replies.update = pluginInfoBytes('plugin-u');
    expect(
      await client().register({ plugin_id: 'plugin-r', name: 'n', resource_type: 'r', image: 'cloudforet/plugin-r' }),
    ).toEqual(pluginInfoJson('plugin-r'));
    expect(await client().update({ plugin_id: 'plugin-u', name: 'n' })).toEqual(pluginInfoJson('plugin-u'));
  });

  it('RepositoriesInfo: results (1) with all four RepositoryInfo fields, total_count (2)', async () => {
    replies['repository.list'] = msg(
      len(1, msg(len(1, 'repo-local'), len(2, 'Private'), len(3, 'LOCAL'))),
      len(
        1,
        msg(
          len(1, 'repo-remote'),
          len(2, 'Marketplace'),
          len(3, 'REMOTE'),
          len(4, 'grpc+ssl://repository.example:443'),
        ),
      ),
      vint(2, 2),
    );
    expect(await client().listRepositories()).toEqual([
      { repository_id: 'repo-local', name: 'Private', repository_type: 'LOCAL' },
      {
        repository_id: 'repo-remote',
        name: 'Marketplace',
        repository_type: 'REMOTE',
        endpoint: 'grpc+ssl://repository.example:443',
      },
    ]);
  });
});

describe('requests airlock sends, read by hand and by the independent schema', () => {
  it('register: every field at its upstream number, Struct and ListValue as google.protobuf encodes them', async () => {
    replies.register = pluginInfoBytes('plugin-demo');
    const request = {
      plugin_id: 'plugin-demo',
      name: 'Demo',
      resource_type: 'inventory.Collector',
      image: 'cloudforet/plugin-demo',
      provider: 'aws',
      registry_type: 'HARBOR',
      capability: { supported_schema: ['x'], use_resource_secret: false, n: 2 },
      labels: ['EC2', 'Instance'],
      tags: { description: 'd' },
      docs: { en: '# Demo', ko: null },
    };
    await client().register(request);
    const bytes = received.find((r) => r.method === 'register')!.bytes;
    expectKnownFields('RegisterPluginRequest', bytes);
    expect(decodeRequest('RegisterPluginRequest', bytes)).toEqual(request);
    const f = fieldMap(bytes);
    expect([
      text(f.get(1)?.[0]),
      text(f.get(2)?.[0]),
      text(f.get(3)?.[0]),
      text(f.get(4)?.[0]),
      num(f.get(5)?.[0]),
      text(f.get(10)?.[0]),
    ]).toEqual(['Demo', 'inventory.Collector', 'cloudforet/plugin-demo', 'aws', 3, 'plugin-demo']);
    // labels (8): a ListValue whose values (1) are Values with string_value (3).
    const labels = readFields(f.get(8)![0]!.value as Buffer).map((v) =>
      text(readFields(v.value as Buffer).find((x) => x.field === 3)),
    );
    expect(labels).toEqual(['EC2', 'Instance']);
    // capability (7): Struct map entries {key 1, value 2}; the number as a double (Value field 2, wire type 1).
    const entries = readFields(f.get(7)![0]!.value as Buffer).map((e) => readFields(e.value as Buffer));
    const n = entries.find((e) => text(e.find((x) => x.field === 1)) === 'n')!;
    const nValue = readFields(n.find((x) => x.field === 2)!.value as Buffer)[0] as WireField;
    expect([nValue.field, nValue.wireType, (nValue.value as Buffer).readDoubleLE()]).toEqual([2, 1, 2]);
    expect(dbl(2, 2)).toEqual(Buffer.concat([Buffer.from([0x11]), nValue.value as Buffer]));
  });

  it('update, get, get_versions: plugin_id is 1, repository_id is 21 (key bytes 0xaa 0x01)', async () => {
    replies.update = pluginInfoBytes('plugin-demo');
    replies.get = pluginInfoBytes('plugin-demo');
    replies.get_versions = msg(vint(2, 1), len(3, '1.0.0'));
    const c = client();
    await c.update({ plugin_id: 'plugin-demo', labels: ['A'], tags: { description: 'e' } });
    await c.get('plugin-demo', 'repo-local');
    await c.getVersions('plugin-demo', 'repo-local');
    const [update, get, versions] = ['update', 'get', 'get_versions'].map(
      (m) => received.find((r) => r.method === m)!.bytes,
    );
    expectKnownFields('UpdatePluginRequest', update!);
    expect(decodeRequest('UpdatePluginRequest', update!)).toEqual({
      plugin_id: 'plugin-demo',
      labels: ['A'],
      tags: { description: 'e' },
    });
    expect([...fieldMap(update!).keys()].sort((a, b) => a - b)).toEqual([1, 4, 5]);
    for (const bytes of [get!, versions!]) {
      expectKnownFields('RepositoryPluginRequest', bytes);
      expect(decodeRequest('RepositoryPluginRequest', bytes)).toEqual({
        plugin_id: 'plugin-demo',
        repository_id: 'repo-local',
      });
      expect(bytes).toEqual(msg(len(1, 'plugin-demo'), Buffer.from([0xaa, 0x01, 10]), Buffer.from('repo-local')));
    }
  });

  it('list: the filter fields at 2-7 and 21, and query (1) with page (4) {start 1, limit 2}; pages until a short page', async () => {
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5'];
    // A server that pages as core.v2.Query says: start is 1-based.
    replies.list = (req: Buffer) => {
      const query = fieldMap(req).get(1)?.[0]?.value as Buffer;
      const page = fieldMap(fieldMap(query).get(4)![0]!.value as Buffer);
      const start = num(page.get(1)?.[0]) ?? 1;
      const limit = num(page.get(2)?.[0]) ?? ids.length;
      return msg(
        ...ids.slice(start - 1, start - 1 + limit).map((id) => len(1, pluginInfoBytes(id))),
        vint(2, ids.length),
      );
    };
    const listed = await client(2).list({
      repository_id: 'repo-local',
      state: 'ENABLED',
      resource_type: 'inventory.Collector',
    });
    expect(listed.map((p) => p.plugin_id)).toEqual(ids);
    expect(listed[4]).toEqual(pluginInfoJson('p5'));
    const lists = received.filter((r) => r.method === 'list');
    expect(lists).toHaveLength(3);
    for (const [i, r] of lists.entries()) {
      expectKnownFields('PluginQuery', r.bytes);
      expect(decodeRequest('PluginQuery', r.bytes)).toEqual({
        query: { page: { start: 1 + 2 * i, limit: 2 } },
        repository_id: 'repo-local',
        state: 'ENABLED',
        resource_type: 'inventory.Collector',
      });
    }
    // By hand: field 1 holds Query, whose field 4 holds Page {start = 1, limit = 2}; state (4) is the enum's 1.
    expect(lists[0]!.bytes).toEqual(
      msg(
        len(1, len(4, msg(vint(1, 1), vint(2, 2)))),
        vint(4, 1),
        len(5, 'inventory.Collector'),
        Buffer.from([0xaa, 0x01, 10]),
        Buffer.from('repo-local'),
      ),
    );
  });

  it('list: a service that ignores the limit is read once; one that ignores start is refused, not looped on', async () => {
    const all = ['a1', 'a2', 'a3'];
    replies.list = msg(...all.map((id) => len(1, pluginInfoBytes(id))), vint(2, 3));
    expect((await client(2).list({})).map((p) => p.plugin_id)).toEqual(all);
    expect(received.filter((r) => r.method === 'list')).toHaveLength(1);

    received.length = 0;
    replies.list = msg(len(1, pluginInfoBytes('a1')), len(1, pluginInfoBytes('a2')));
    await expect(client(2).list({})).rejects.toMatchObject({
      code: 'E_REGISTRY',
      message: expect.stringMatching(/page starting at 3 repeats plugins already listed/),
    });
    expect(received.filter((r) => r.method === 'list')).toHaveLength(2);
  });
});

describe('proto/ and the double schema', () => {
  it('agree on every message, enum and rpc the double knows; proto/ has every upstream message of plugin.proto and repository.proto', () => {
    // Only this check reads proto/: it compares the two hand-written copies of upstream.
    const ours = new protobuf.Root();
    ours.resolvePath = (_origin, target) =>
      target.startsWith('google/protobuf/') ? target : path.join(ROOT, 'proto', target);
    ours.loadSync(['spaceone/api/repository/v1/plugin.proto', 'spaceone/api/repository/v1/repository.proto'], {
      keepCase: true,
    });
    ours.resolveAll();
    const theirs = doubleSchema();
    const shape = (t: protobuf.Type) =>
      t.fieldsArray
        .map((f) =>
          [
            f.id,
            f.name,
            f.resolvedType?.fullName ?? f.type,
            f.repeated,
            f.map ? (f as unknown as protobuf.MapField).keyType : '',
            f.partOf?.name ?? '',
          ].join(' '),
        )
        .sort();
    let compared = 0;
    const walk = (ns: protobuf.NamespaceBase) => {
      for (const o of ns.nestedArray) {
        const other = ours.lookup(o.fullName);
        expect(other, o.fullName).toBeTruthy();
        if (o instanceof protobuf.Type && !o.fullName.startsWith('.google.'))
          expect(shape(other as protobuf.Type), o.fullName).toEqual(shape(o));
        if (o instanceof protobuf.Enum) expect((other as protobuf.Enum).values, o.fullName).toEqual(o.values);
        if (o instanceof protobuf.Service) {
          const rpcs = (s: protobuf.Service) =>
            s.methodsArray.map(
              (m) => `${m.name} ${m.resolvedRequestType!.fullName} ${m.resolvedResponseType!.fullName}`,
            );
          expect(rpcs(other as protobuf.Service), o.fullName).toEqual(rpcs(o));
        }
        compared += 1;
        if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
      }
    };
    walk(theirs.lookup('spaceone') as protobuf.Namespace);
    expect(compared).toBeGreaterThan(20);
    const repository = (r: protobuf.Root) =>
      (r.lookup(`${PKG}`) as protobuf.Namespace).nestedArray.map((o) => o.name).sort();
    expect(repository(ours)).toEqual(repository(theirs));
    // google.protobuf comes from protobufjs for proto/ (camelCase names), from struct.proto for the double: numbers and types agree.
    const ids = (r: protobuf.Root, t: string) =>
      r
        .lookupType(`google.protobuf.${t}`)
        .fieldsArray.map((f) => `${f.id} ${f.type} ${f.repeated}`)
        .sort();
    for (const t of ['Struct', 'Value', 'ListValue', 'Empty']) expect(ids(ours, t), t).toEqual(ids(theirs, t));
  });

  it('the double reads neither proto/ nor anything under src/', () => {
    const source = fs.readFileSync(path.join(ROOT, 'test', 'support', 'spaceone-double.ts'), 'utf8');
    expect(source).not.toMatch(/from ['"][^'"\n]*\/src\//);
    expect(source).not.toMatch(/@grpc\/proto-loader|\.proto['"`]|\bloadSync\(|\bload\(/);
  });
});
