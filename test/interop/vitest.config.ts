/**
 * The interop suite against real IdPs (Keycloak): its own config, so `npm test` never runs it.
 * `npm run test:interop` (test/interop/run.ts) checks Java and Maven first, then runs this.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/interop/**/*.test.ts'],
    environment: 'node',
    // One IdP, one serverless-offline, one .esbuild folder: files run one after the other.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
