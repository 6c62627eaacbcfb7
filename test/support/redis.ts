import net from 'node:net';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Redis from REDIS_URL, else the local one on 127.0.0.1:6379, else a testcontainers Redis. */
export async function startRedis(): Promise<TestRedis> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined };
  if (await reachable('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', stop: async () => undefined };
  const { GenericContainer, Wait } = await import('testcontainers');
  const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).withWaitStrategy(Wait.forListeningPorts()).start();
  return { url: `redis://${c.getHost()}:${c.getMappedPort(6379)}`, stop: async () => void (await c.stop()) };
}
