import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Both projects share one worker pool: two cores run two files at a time comfortably.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        // Pure tests straight from the TypeScript sources: no build, no Redis, no registry, no
        // network, no child process, so they start at once instead of waiting for the global build.
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Pure, but a few cases are seconds of CPU (an alias bomb, the whole addon catalog rewritten)
          // on a machine other test runs share: vitest's 5 s default would fail them for the load.
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**'],
          // CLI tests run the built `airlock` binary, and each file spawns its own registries.
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
