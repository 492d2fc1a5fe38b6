import { defineConfig } from 'vitest/config';

// Integration suites start real servers (influxd, brokers, Chromium), so files run in a few forks at
// most on the 2-core CI machine and hooks get generous time.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
  },
});
