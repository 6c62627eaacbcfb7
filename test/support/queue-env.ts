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
