export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
} as const;

export const INDEX_TYPES: ReadonlySet<string> = new Set([MT.dockerManifestList, MT.ociIndex]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MT.dockerManifest, MT.ociManifest]);
export const SCHEMA1_TYPES: ReadonlySet<string> = new Set([MT.dockerSchema1, MT.dockerSchema1Signed]);

/**
 * What we accept when pulling. Schema1 is listed only so a registry that has nothing else answers
 * with it and we can refuse it clearly instead of seeing a confusing 404.
 */
export const MANIFEST_ACCEPT = [
  MT.ociIndex,
  MT.ociManifest,
  MT.dockerManifestList,
  MT.dockerManifest,
  `${MT.dockerSchema1Signed};q=0.1`,
  `${MT.dockerSchema1};q=0.1`,
].join(', ');
