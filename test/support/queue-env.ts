import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type TestRedis } from './redis.js';
import { startRegistry, type TestRegistry } from './registry.js';

/** Redis plus an upstream and a target registry for a test file; the fields are filled in beforeAll. */
export interface QueueEnv {
  redis: TestRedis;
  upstream: TestRegistry;
  target: TestRegistry;
  /** A hash-tagged BullMQ prefix kept apart from other runs' keys. */
  prefix: string;
}

export function useQueueEnv(): QueueEnv {
  const env = { prefix: '{airlock-test}' } as QueueEnv;
  beforeAll(async () => {
    env.redis = await startRedis();
    [env.upstream, env.target] = await Promise.all([startRegistry(), startRegistry()]);
  });
  afterAll(async () => {
    await Promise.all([env.upstream?.stop(), env.target?.stop()]);
    await env.redis?.stop();
  });
  return env;
}

/** Writes `dir/airlock.yaml` for CLI processes on this env: its Redis (URL from TEST_REDIS_URL) and prefix, then `lines`. */
export function writeQueueConfig(env: QueueEnv, dir: string, lines: string[]): string {
  const cfg = path.join(dir, 'airlock.yaml');
  fs.writeFileSync(
    cfg,
    ['redis:', '  url: { env: TEST_REDIS_URL }', `  prefix: "${env.prefix}"`, ...lines, ''].join('\n'),
  );
  return cfg;
}
