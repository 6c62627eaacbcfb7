import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { silentLogger } from '../src/core/log.js';
import { redisMirrorState } from '../src/state/mirror-state.js';
import { testEngine } from './support/engine.js';
import { buildManifest, pushImage } from './support/images.js';
import { startProxy, type TestProxy } from './support/proxy.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

let redisServer: TestRedis;
let redis: Redis;
let upstream: TestRegistry;
let target: TestRegistry;
let proxy: TestProxy;
const prefix = `{airlock-test-${randomUUID()}}`;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  [upstream, target] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await redis?.del(`${prefix}:mirror-state`);
  await redis?.quit();
  await proxy?.stop();
  await Promise.all([upstream?.stop(), target?.stop()]);
  await redisServer?.stop();
});

describe('mirror state in Redis', () => {
  it('lets another worker skip a digest-pinned image that one worker mirrored, with no request at all', async () => {
    const m = buildManifest({});
    await pushImage(upstream.url, 'shared/app', 'v1', m);
    const payload = {
      source: `docker://${proxy.host}/shared/app@${m.digest}`,
      target: `docker://${target.host}/shared/app`,
    };
    const workerA = testEngine({ state: redisMirrorState(redis, prefix) });
    const first = await mirrorImage(payload, { engine: workerA, logger: silentLogger() });
    expect(first.status).toBe('copied');
    expect(await redis.hlen(`${prefix}:mirror-state`)).toBe(1);

    proxy.reset();
    const workerB = testEngine({ state: redisMirrorState(redis, prefix) });
    const second = await mirrorImage(payload, { engine: workerB, logger: silentLogger() });
    expect(second).toMatchObject({ status: 'unchanged', targetDigest: m.digest });
    expect(proxy.log).toEqual([]);
  });
});
