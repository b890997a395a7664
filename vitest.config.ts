import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/bench/**'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Set before any test file imports the handlers: Powertools reads its env when its Metrics instance is built
    // (at import), so a test setting it in beforeAll is too late and every invocation printed an EMF line. The
    // AWS SDK is pinned on purpose (releases from 2027 need Node 22): its Node 20 notice is noise here.
    env: {
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    // Stops the Kafka/OpenSearch that this run started (see the file).
    globalSetup: ['test/services-teardown.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-results.json' },
  },
});
