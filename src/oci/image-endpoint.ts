import type { Readable } from 'node:stream';
import type { Descriptor, RawManifest } from './manifest.js';
import type {
  ManifestHead,
  OpenSource,
  PutManifestResult,
  RegistryClient,
  Repo,
  UploadOptions,
} from './registry/types.js';

/**
 * One repository the copier reads from or writes to: a repository in a registry, or an OCI image
 * layout directory. The copier only speaks this interface.
 */
export interface ImageEndpoint {
  /** `docker://host/repo` or `oci:/dir`, for messages and state keys. */
  readonly label: string;
  /** Set for registry endpoints; mounts only happen between repositories of one registry. */
  readonly repo?: Repo;
  /** A directory on this machine (an OCI layout): checking it costs no request. */
  readonly local?: boolean;
  resolve(reference: string): Promise<ManifestHead | null>;
  getManifest(reference: string): Promise<RawManifest>;
  /** `child`: a manifest reachable only through an index being copied (no layout index entry). */
  putManifest(reference: string, manifest: RawManifest, options?: { child?: boolean }): Promise<PutManifestResult>;
  hasBlob(desc: Descriptor): Promise<boolean>;
  openBlob(desc: Descriptor, offset?: number): Promise<Readable>;
  putBlob(desc: Descriptor, open: OpenSource, options?: UploadOptions): Promise<void>;
  mountBlob?(
    desc: Descriptor,
    fromRepository: string,
  ): Promise<{ mounted: true } | { mounted: false; location?: string }>;
  listTags(): Promise<string[]>;
  referrers(digest: string): Promise<Descriptor[] | null>;
}

export function registryImageEndpoint(client: RegistryClient, repo: Repo): ImageEndpoint {
  return {
    label: `docker://${repo.registry}/${repo.repository}`,
    repo,
    resolve: (reference) => client.headManifest(repo, reference),
    getManifest: (reference) => client.getManifest(repo, reference),
    putManifest: (reference, manifest) => client.putManifest(repo, reference, manifest),
    hasBlob: (desc) => client.hasBlob(repo, desc.digest),
    openBlob: (desc, offset) => client.openBlob(repo, desc, offset),
    putBlob: (desc, open, options) => client.uploadBlob(repo, desc, open, options),
    mountBlob: (desc, from) => client.mountBlob(repo, desc.digest, from),
    listTags: () => client.listTags(repo),
    referrers: (digest) => client.referrers(repo, digest),
  };
}
