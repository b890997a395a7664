import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/bench/**'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Stops the Kafka/OpenSearch that this run started (see the file).
    globalSetup: ['test/services-teardown.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-results.json' },
  },
});
