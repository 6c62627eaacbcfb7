import { headManifest, getManifest, putManifest } from './manifests.js';
import { hasBlob, mountBlob, openBlob } from './blobs.js';
import { uploadBlob } from './upload.js';
import { listTags } from './tags.js';
import { referrers } from './referrers.js';
import type { RegistryContext } from './request.js';
import type { RegistryClient, RegistryClientDeps } from './types.js';

/** The OCI distribution client: each resource's functions bound to one context. */
export function createRegistryClient(deps: RegistryClientDeps): RegistryClient {
  const ctx: RegistryContext = {
    send: deps.send,
    auth: deps.auth,
    endpoint: deps.endpoint,
    transportFor: deps.transportFor,
    logger: deps.logger,
  };
  return {
    headManifest: (repo, reference) => headManifest(ctx, repo, reference),
    getManifest: (repo, reference) => getManifest(ctx, repo, reference),
    putManifest: (repo, reference, manifest) => putManifest(ctx, repo, reference, manifest),
    hasBlob: (repo, digest) => hasBlob(ctx, repo, digest),
    openBlob: (repo, desc, offset) => openBlob(ctx, repo, desc, offset),
    mountBlob: (repo, digest, from) => mountBlob(ctx, repo, digest, from),
    uploadBlob: (repo, desc, open, options) => uploadBlob(ctx, repo, desc, open, options),
    listTags: (repo) => listTags(ctx, repo),
    referrers: (repo, digest) => referrers(ctx, repo, digest),
  };
}
