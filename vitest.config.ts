import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file spawns its own registries; two cores run two files at a time comfortably.
    maxWorkers: 2,
    pool: 'forks',
  },
});
