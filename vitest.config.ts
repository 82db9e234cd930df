import { configDefaults, defineConfig } from 'vitest/config';

const SOAK = 'test/unit/reliability/soak.test.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: [...configDefaults.exclude, SOAK],
          environment: 'node',
          // Rejection tests log hundreds of warnings; tests that check logging set their own level.
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
        },
      },
      {
        // The 20,000-request soak: its own project, so `test:unit` stays quick and `test:soak`
        // (or `--project soak`) runs it alone; a plain `vitest run` runs it with the rest.
        test: {
          name: 'soak',
          include: [SOAK],
          environment: 'node',
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
          globalSetup: ['test/support/moto-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // serverless-esbuild writes to one .esbuild folder: e2e files must not overlap.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
