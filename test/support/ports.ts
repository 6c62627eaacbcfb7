import net from 'node:net';

/** A port the kernel just handed out on loopback; the tiny race with another process is acceptable in tests. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until `probe` succeeds, at most `attempts` times. */
export async function waitFor(
  probe: () => Promise<boolean>,
  what: string,
  attempts = 100,
  intervalMs = 100,
): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
