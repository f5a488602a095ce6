import { defineConfig } from 'vitest/config';

// Two projects: unit tests need no services; integration tests run against real Kafka, Postgres,
// S3Proxy and Redis, which the global setup starts (idempotently) before any test file runs.
// Both put their temporary folders under one folder per run, removed at the end (temp-root.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/infra/temp-root.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/infra/global-setup.ts', 'test/infra/temp-root.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Integration files share brokers and ports; run them one at a time on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
