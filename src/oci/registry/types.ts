import type { Readable } from 'node:stream';
import type { Logger } from '../../core/log.js';
import type { Send } from '../../http/client.js';
import type { Transport } from '../../http/transport.js';
import type { Authenticator } from '../auth.js';
import type { Descriptor, RawManifest } from '../manifest.js';

/** How to reach one registry. */
export interface RegistryEndpoint {
  /** e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  baseUrl: string;
  transport: Transport;
  /** Upload in chunks of this size instead of one streamed PUT (0 = monolithic first). */
  chunkSize: number;
}

export interface Repo {
  registry: string;
  repository: string;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PutManifestResult {
  digest: string | undefined;
  /** The registry answered with `OCI-Subject`: it indexes referrers itself. */
  subjectIndexed: boolean;
}

export type OpenSource = (offset: number) => Promise<Readable>;

export interface UploadOptions {
  /** An upload session already opened (by a mount attempt that answered 202). */
  location?: string;
  onProgress?: (bytes: number) => void;
}

export interface RegistryClient {
  headManifest(repo: Repo, reference: string): Promise<ManifestHead | null>;
  getManifest(repo: Repo, reference: string): Promise<RawManifest>;
  putManifest(repo: Repo, reference: string, manifest: RawManifest): Promise<PutManifestResult>;
  hasBlob(repo: Repo, digest: string): Promise<boolean>;
  openBlob(repo: Repo, desc: Descriptor, offset?: number): Promise<Readable>;
  /** Mount from another repository of the same registry; returns an upload location when the registry declined. */
  mountBlob(
    repo: Repo,
    digest: string,
    from: string,
  ): Promise<{ mounted: true } | { mounted: false; location?: string }>;
  uploadBlob(repo: Repo, desc: Descriptor, open: OpenSource, options?: UploadOptions): Promise<void>;
  listTags(repo: Repo): Promise<string[]>;
  /** Referrers of a digest, or null when the registry has no referrers API. */
  referrers(repo: Repo, digest: string): Promise<Descriptor[] | null>;
}

export interface RegistryClientDeps {
  send: Send;
  auth: Authenticator;
  endpoint: (registry: string) => RegistryEndpoint;
  /** Transport for hosts that are not registries (blob redirects to object storage). */
  transportFor: (url: URL) => Transport;
  logger: Logger;
}

/** What a function that talks to registries directly (tags, manifests, chart blobs) takes. */
export interface RegistryAccess {
  client: RegistryClient;
}
