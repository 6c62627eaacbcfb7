// What the network code needs from whoever coordinates processes: in one process nothing (or a local
// limit), on a queue the Redis implementations in src/queue/redis/. Declared here so the layers
// below the queue can take them without knowing Redis.

/**
 * One copy of an artifact at a time across every worker. Overlapping runs (a webhook, a schedule
 * tick, a push notification) can each plan the same image; the second waits here and then finds
 * the copy done (unchanged) instead of writing the same blobs and manifest again.
 */
export interface ArtifactLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * Blob transfers from or to one registry at once across every worker (`registries[].concurrency`).
 * A slot is a lease that the holder renews; a worker killed mid-transfer stops renewing and its
 * slot frees itself when the lease runs out.
 */
export interface RegistrySlots {
  run<T>(registry: string, max: number, fn: () => Promise<T>): Promise<T>;
}
