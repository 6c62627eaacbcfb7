import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../core/errors.js';
import { checkName } from '../core/names.js';
import { serializedAcrossProcesses, writeFileAtomic } from '../core/fs-atomic.js';
import type { ImageEndpoint } from './image-endpoint.js';
import { MT } from './media-types.js';
import { digestOf, parseManifest, verifyManifestDigest, type Descriptor, type RawManifest } from './manifest.js';
import type { ManifestHead } from './registry/types.js';
import { sweepStaleTemporaries, writeBlobResumable } from './layout-blobs.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

/** Layouts this process has swept of stale temporaries already. */
const swept = new Set<string>();

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/**
 * An OCI image layout directory (image-spec `image-layout.md`): `oci-layout`, `index.json` with
 * tags as `org.opencontainers.image.ref.name` annotations, and content-addressed `blobs/`.
 */
export function layoutImageEndpoint(dir: string): ImageEndpoint {
  const label = `oci:${dir}`;
  // Every blob path is built here, and only from a digest that passes the digest grammar: a
  // digest read from a manifest or index.json (`sha256:../../x`) never names a file outside blobs/.
  const blobPath = (digest: string) => {
    checkName('digest', digest, { field: 'digest', artifact: label });
    const [alg = '', hex = ''] = digest.split(':');
    return path.join(dir, 'blobs', alg, hex);
  };

  async function ensureLayout(): Promise<void> {
    await fsp.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    const marker = path.join(dir, 'oci-layout');
    if (!fs.existsSync(marker)) await writeFileAtomic(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    // Once per process and layout, on the write path only: a no-op re-sync never lists blobs/.
    if (!swept.has(dir)) {
      swept.add(dir);
      await sweepStaleTemporaries(dir).catch(() => undefined);
    }
  }

  async function readIndex(): Promise<LayoutIndex> {
    try {
      const parsed = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as LayoutIndex;
      if (!Array.isArray(parsed.manifests)) throw new Error('manifests is not an array');
      return parsed;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        return { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
      throw new AirlockError('E_LAYOUT', `unreadable index.json: ${(e as Error).message}`, { artifact: label });
    }
  }

  async function findTag(tag: string): Promise<Descriptor | undefined> {
    const index = await readIndex();
    return index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  }

  async function readManifestBlob(digest: string, artifact: string): Promise<RawManifest> {
    const file = blobPath(digest);
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch {
      throw new AirlockError('E_NOT_FOUND', `manifest ${digest} not in layout`, { artifact });
    }
    const body = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    const mediaType = body.mediaType ?? (Array.isArray(body.manifests) ? MT.ociIndex : MT.ociManifest);
    const raw = { bytes, mediaType, digest: digestOf(bytes, digest.split(':')[0]) };
    verifyManifestDigest(raw, digest, artifact);
    return raw;
  }

  async function exists(file: string, size?: number): Promise<boolean> {
    try {
      const st = await fsp.stat(file);
      return size === undefined || size < 0 || st.size === size;
    } catch {
      return false;
    }
  }

  return {
    label,
    local: true,
    async resolve(reference) {
      if (reference.includes(':')) {
        if (!(await exists(blobPath(reference)))) return null;
        const raw = await readManifestBlob(reference, `${label}@${reference}`);
        return { digest: raw.digest, mediaType: raw.mediaType, size: raw.bytes.length } satisfies ManifestHead;
      }
      const d = await findTag(reference);
      return d ? { digest: d.digest, mediaType: d.mediaType, size: d.size } : null;
    },

    async getManifest(reference) {
      const artifact = `${label}${reference.includes(':') ? '@' : ':'}${reference}`;
      let digest = reference;
      if (!reference.includes(':')) {
        const d = await findTag(reference);
        if (!d) throw new AirlockError('E_NOT_FOUND', `tag ${reference} not in layout`, { artifact });
        digest = d.digest;
      }
      const raw = await readManifestBlob(digest, artifact);
      parseManifest(raw, artifact);
      return raw;
    },

    async putManifest(reference, manifest, options) {
      await ensureLayout();
      const file = blobPath(manifest.digest);
      if (!(await exists(file, manifest.bytes.length))) {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, manifest.bytes);
      }
      const isTag = !reference.includes(':');
      const parsed = JSON.parse(manifest.bytes.toString('utf8')) as {
        artifactType?: string;
        config?: { mediaType?: string };
      };
      const desc: Descriptor = {
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.bytes.length,
        ...(isTag ? { annotations: { [REF_NAME]: reference } } : {}),
        ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
      };
      await serializedAcrossProcesses(path.join(dir, 'index.json'), async () => {
        const index = await readIndex();
        if (isTag) {
          index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== reference);
          index.manifests.push(desc);
        } else if (options?.child || index.manifests.some((m) => m.digest === manifest.digest)) {
          // Children of an index stay reachable through it; only stand-alone digests need an entry.
          return;
        } else {
          index.manifests.push(desc);
        }
        await writeFileAtomic(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
      });
      return { digest: manifest.digest, subjectIndexed: false };
    },

    hasBlob: (desc) => exists(blobPath(desc.digest), desc.size),

    async openBlob(desc, offset = 0) {
      const file = blobPath(desc.digest);
      if (!(await exists(file)))
        throw new AirlockError('E_NOT_FOUND', `blob ${desc.digest} not in layout`, { artifact: label });
      return fs.createReadStream(file, { start: offset, highWaterMark: 1024 * 1024 });
    },

    async putBlob(desc, open, options) {
      const file = blobPath(desc.digest);
      await ensureLayout();
      await writeBlobResumable({
        layout: dir,
        file,
        desc,
        open,
        artifact: `${label}@${desc.digest}`,
        ...(options?.onProgress ? { onProgress: options.onProgress } : {}),
      });
    },

    async listTags() {
      const index = await readIndex();
      return index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
    },

    // Layouts have no referrers API; the copier falls back to the referrers tag schema.
    referrers: async () => null,
  };
}
