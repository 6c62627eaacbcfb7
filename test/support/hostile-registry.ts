import { createHash } from 'node:crypto';
import http from 'node:http';
import { freePort } from './ports.js';

/**
 * An upstream registry that lies. A real registry refuses to store a manifest whose descriptors
 * name `sha256:../../x` or `md5:…`, so a hostile upstream cannot be staged in one: this server
 * answers the pull side of the OCI distribution spec (opencontainers/distribution-spec spec.md:
 * `GET /v2/`, `GET|HEAD /v2/<name>/manifests/<reference>`, `GET /v2/<name>/blobs/<digest>`,
 * `GET /v2/<name>/referrers/<digest>`) from memory, with whatever bytes a test gives it, and
 * records every request as it arrived on the wire (method and raw path).
 */
export interface HostileRegistry {
  host: string;
  url: string;
  requests: Array<{ method: string; path: string }>;
  /** `<name>:<tag>` or `<name>@<digest>` → manifest. */
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  /** digest → bytes. */
  blobs: Map<string, Buffer>;
  /** `<name>@<digest>` → referrers index body. */
  referrers: Map<string, Buffer>;
  /** Answers first when it returns true (misbehaviour beyond content: redirects, trickles). */
  handlers: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean>;
  /** Stores a manifest under a tag and under its sha256 digest; returns that digest. */
  put(name: string, tag: string, manifest: { bytes: Buffer; mediaType: string }): string;
  stop(): Promise<void>;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const port = await freePort();
  const requests: HostileRegistry['requests'] = [];
  const manifests: HostileRegistry['manifests'] = new Map();
  const blobs: HostileRegistry['blobs'] = new Map();
  const referrers: HostileRegistry['referrers'] = new Map();
  const handlers: HostileRegistry['handlers'] = [];
  const server = http.createServer((req, res) => {
    const raw = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path: raw });
    for (const h of handlers) if (h(req, res)) return;
    const pathname = raw.split('?')[0] ?? '';
    if (pathname === '/v2/' || pathname === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const found = manifests.get(ref.includes(':') ? `${name}@${ref}` : `${name}:${ref}`);
      if (!found) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      res.writeHead(200, {
        'content-type': found.mediaType,
        'content-length': String(found.bytes.length),
        'docker-content-digest': sha256(found.bytes),
      });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }
    if (kind === 'referrers') {
      const body = referrers.get(`${name}@${ref}`);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end(body);
      return;
    }
    const blob = blobs.get(ref);
    if (!blob) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(blob.length) }).end(req.method === 'HEAD' ? undefined : blob);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    manifests,
    blobs,
    referrers,
    handlers,
    put(name, tag, manifest) {
      const d = sha256(manifest.bytes);
      manifests.set(`${name}:${tag}`, manifest);
      manifests.set(`${name}@${d}`, manifest);
      return d;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
