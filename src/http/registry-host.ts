/** Docker Hub's name in image references; its API answers elsewhere. */
export const DOCKER_HUB = 'docker.io';

/** The host actually contacted for a registry name (Docker Hub is served elsewhere). */
export function registryEndpointHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}
