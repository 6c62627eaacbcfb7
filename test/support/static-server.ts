import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from './ports.js';

export interface StaticServer {
  url: string;
  requests: Array<{ path: string; status: number; authorization?: string }>;
  /** Files served by path (in-memory), or a directory on disk. */
  files: Map<string, Buffer>;
  redirects: Map<string, string>;
  stop(): Promise<void>;
}

/**
 * A plain static HTTP server on loopback: from memory (`files`) or from a directory. With `etags`,
 * every body carries a content-hash ETag and a matching If-None-Match gets a 304.
 */
export async function startStaticServer(
  options: { dir?: string; host?: string; etags?: boolean } = {},
): Promise<StaticServer> {
  const port = await freePort();
  const host = options.host ?? '127.0.0.1';
  const files = new Map<string, Buffer>();
  const redirects = new Map<string, string>();
  const requests: StaticServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec = {
      path: `${u.pathname}${u.search}`,
      status: 200,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    requests.push(rec);
    const redirect = redirects.get(u.pathname);
    if (redirect) {
      rec.status = 302;
      res.writeHead(302, { location: redirect }).end();
      return;
    }
    let body = files.get(`${u.pathname}${u.search}`) ?? files.get(u.pathname);
    if (!body && options.dir) {
      const file = path.join(options.dir, decodeURIComponent(u.pathname));
      if (file.startsWith(options.dir) && fs.existsSync(file) && fs.statSync(file).isFile())
        body = fs.readFileSync(file);
    }
    if (!body) {
      rec.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    if (options.etags) {
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      if (req.headers['if-none-match'] === etag) {
        rec.status = 304;
        res.writeHead(304, { etag }).end();
        return;
      }
      res.setHeader('etag', etag);
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  return {
    url: `http://${host}:${port}`,
    requests,
    files,
    redirects,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
