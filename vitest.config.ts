import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn server processes; two cores are better spent on fewer workers.
    maxWorkers: 2,
    // The default report, then a short recap of what failed as the log's last lines (CI shows the tail).
    reporters: ['default', './test/support/failure-recap-reporter.ts'],
  },
});
