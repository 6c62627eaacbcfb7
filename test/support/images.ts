import { createHash, randomBytes } from 'node:crypto';

/**
 * Builds test images and pushes them with plain `fetch`, independent of airlock's own client, so
 * a bug in the client cannot hide itself by seeding the registry the same wrong way.
 */
export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  pluginConfig: 'application/vnd.docker.plugin.v1+json',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
};

export function digest(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface Blob {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

export function blob(bytes: Buffer, mediaType: string): Blob {
  return { bytes, digest: digest(bytes), mediaType };
}

export function randomBlob(size: number, mediaType = MT.ociLayer): Blob {
  return blob(randomBytes(size), mediaType);
}

export interface BuiltManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  blobs: Blob[];
}

function desc(b: Blob): Record<string, unknown> {
  return { mediaType: b.mediaType, digest: b.digest, size: b.bytes.length };
}

export function buildManifest(opts: {
  mediaType?: string;
  config?: Blob;
  layers?: Blob[];
  artifactType?: string;
  subject?: { mediaType: string; digest: string; size: number };
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}): BuiltManifest {
  const mediaType = opts.mediaType ?? MT.ociManifest;
  const docker = mediaType === MT.dockerManifest;
  const config =
    opts.config ??
    blob(
      Buffer.from(
        JSON.stringify({
          architecture: opts.platform?.architecture ?? 'amd64',
          os: opts.platform?.os ?? 'linux',
          rootfs: { type: 'layers', diff_ids: [] },
          nonce: randomBytes(8).toString('hex'),
        }),
      ),
      docker ? MT.dockerConfig : MT.ociConfig,
    );
  const layers = opts.layers ?? [randomBlob(1024, docker ? MT.dockerLayer : MT.ociLayer)];
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType, config: desc(config), layers: layers.map(desc) };
  if (opts.artifactType) body.artifactType = opts.artifactType;
  if (opts.subject) body.subject = opts.subject;
  if (opts.annotations) body.annotations = opts.annotations;
  // Indentation on purpose: a copier that re-serialises would change the digest.
  const bytes = Buffer.from(JSON.stringify(body, null, 3));
  return { bytes, digest: digest(bytes), mediaType, blobs: [config, ...layers] };
}

export function buildIndex(
  children: Array<{ manifest: BuiltManifest; platform?: { os: string; architecture: string; variant?: string } }>,
  mediaType = MT.ociIndex,
): BuiltManifest {
  const body = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({
      mediaType: c.manifest.mediaType,
      digest: c.manifest.digest,
      size: c.manifest.bytes.length,
      ...(c.platform ? { platform: c.platform } : {}),
    })),
  };
  const bytes = Buffer.from(JSON.stringify(body, null, 3));
  return { bytes, digest: digest(bytes), mediaType, blobs: [] };
}

export interface PushAuth {
  username: string;
  password: string;
}

async function authed(url: string, init: RequestInit, auth: PushAuth | undefined, scope: string): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status !== 401 || !auth) return res;
  const challenge = res.headers.get('www-authenticate') ?? '';
  const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  let authorization = basic;
  if (/^bearer/i.test(challenge)) {
    const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const t = await fetch(`${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: basic },
    });
    const body = (await t.json()) as { token: string };
    authorization = `Bearer ${body.token}`;
  }
  return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization } });
}

export async function pushBlob(registryUrl: string, repo: string, b: Blob, auth?: PushAuth): Promise<void> {
  const scope = `repository:${repo}:pull,push`;
  const start = await authed(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' }, auth, scope);
  if (start.status !== 202) throw new Error(`upload start ${start.status}: ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', b.digest);
  const put = await authed(
    location.toString(),
    { method: 'PUT', body: b.bytes as unknown as BodyInit, headers: { 'content-type': 'application/octet-stream' } },
    auth,
    scope,
  );
  if (put.status !== 201) throw new Error(`blob put ${put.status}: ${await put.text()}`);
}

export async function pushManifest(
  registryUrl: string,
  repo: string,
  reference: string,
  m: { bytes: Buffer; mediaType: string },
  auth?: PushAuth,
): Promise<void> {
  const res = await authed(
    `${registryUrl}/v2/${repo}/manifests/${reference}`,
    { method: 'PUT', body: m.bytes as unknown as BodyInit, headers: { 'content-type': m.mediaType } },
    auth,
    `repository:${repo}:pull,push`,
  );
  if (res.status !== 201) throw new Error(`manifest put ${res.status}: ${await res.text()}`);
}

/** Pushes blobs, then the manifest under `reference` (tag or digest). */
export async function pushImage(
  registryUrl: string,
  repo: string,
  reference: string,
  m: BuiltManifest,
  auth?: PushAuth,
): Promise<void> {
  for (const b of m.blobs) await pushBlob(registryUrl, repo, b, auth);
  await pushManifest(registryUrl, repo, reference, m, auth);
}

export interface Fetched {
  status: number;
  bytes: Buffer;
  headers: Headers;
}

export async function getManifest(
  registryUrl: string,
  repo: string,
  reference: string,
  auth?: PushAuth,
): Promise<Fetched> {
  const accept = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');
  const res = await authed(
    `${registryUrl}/v2/${repo}/manifests/${reference}`,
    { headers: { accept } },
    auth,
    `repository:${repo}:pull`,
  );
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

export async function getBlob(registryUrl: string, repo: string, d: string, auth?: PushAuth): Promise<Fetched> {
  const res = await authed(`${registryUrl}/v2/${repo}/blobs/${d}`, {}, auth, `repository:${repo}:pull`);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
