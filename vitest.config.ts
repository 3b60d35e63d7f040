import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // serialport's native poller crashes under worker threads (edge-stack note §1): keep forks.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './tests/ci-reporter.ts'],
    setupFiles: ['./tests/setup-fast-check.ts'],
  },
});
