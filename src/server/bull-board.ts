import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

/** The queue the board shows; it opens its own connection. */
export interface BoardQueue {
  name: string;
  url: string;
  prefix: string;
  /** A client to share (serve's, which fails fast while Redis is away); the board then never waits on a QUIT. */
  connection?: import('ioredis').Redis;
}

export const BOARD_PATH = '/admin/queues';

/**
 * Bull Board (the official @bull-board packages) on `scope` at /admin/queues. The packages are
 * CommonJS and find their UI files on disk, so they are required at run time rather than bundled;
 * bullmq comes through the same require so the board's `instanceof Queue` check sees its own class.
 */
export async function mountBullBoard(scope: FastifyInstance, queue: BoardQueue): Promise<void> {
  const load = createRequire(import.meta.url);
  const { createBullBoard } = load('@bull-board/api') as typeof import('@bull-board/api');
  const { BullMQAdapter } = load('@bull-board/api/bullMQAdapter') as typeof import('@bull-board/api/bullMQAdapter');
  const { FastifyAdapter } = load('@bull-board/fastify') as typeof import('@bull-board/fastify');
  const { Queue } = load('bullmq') as typeof import('bullmq');
  const q = new Queue(queue.name, {
    connection: queue.connection ?? { url: queue.url, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    prefix: queue.prefix,
  });
  q.on('error', () => undefined);
  scope.addHook('onClose', async () => {
    await q.close();
  });
  const adapter = new FastifyAdapter();
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(q)],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'airlock' } },
  });
  await scope.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
}
