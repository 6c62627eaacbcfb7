import type { AirlockConfig } from './schema.js';

/**
 * The config a command runs with when no config file is given: what `parseConfig({})` returns,
 * built without the schema validator. Validating an empty document costs a fresh CLI process
 * more start-up time than a whole no-op re-sync of a few images (test/unit/config-load.test.ts keeps the two equal).
 */
export function defaultConfig(): AirlockConfig {
  return {
    concurrency: { images: 8, blobs: 8 },
    retry: { attempts: 4, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 },
    timeouts: { manifest: 60, index: 300, blob: 120, blobPerMiB: 20 },
    limits: { fileBytes: 4 * 1024 * 1024 * 1024, chartIndexBytes: 256 * 1024 * 1024 },
    registries: [],
    state: { trustTargetSeconds: 3600 },
    targets: { charts: [] },
    images: [],
    charts: [],
    files: [],
    botkube: [],
    schedules: [],
  };
}
