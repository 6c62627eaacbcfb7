import type { Redis, RedisOptions } from 'ioredis';

/**
 * Loads ioredis only when Redis is used, so one-shot commands start fast. ioredis is CommonJS; in
 * the bundled CLI its class arrives as the default export rather than the named one.
 */
export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const mod = (await import('ioredis')) as unknown as { Redis?: typeof Redis; default?: typeof Redis | { Redis?: typeof Redis } };
  const def = mod.default as (typeof Redis & { Redis?: typeof Redis }) | undefined;
  const Ctor = mod.Redis ?? def?.Redis ?? def;
  if (!Ctor) throw new Error('ioredis did not load');
  return new Ctor(url, options);
}
