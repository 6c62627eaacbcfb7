// The registry client lives in registry/, one file per resource; this file keeps the old import path.
export { createRegistryClient } from './registry/client.js';
export { nextLink } from './registry/tags.js';
export type { ManifestHead, OpenSource, PutManifestResult, RegistryClient, RegistryClientDeps, RegistryEndpoint, Repo, UploadOptions } from './registry/types.js';
