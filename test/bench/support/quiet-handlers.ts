/**
 * Imported first by run-bench.ts, so it runs before any section module loads the handlers: Powertools reads its
 * settings when its Metrics and Logger are built (at import), so setting them inside a section was too late and
 * every local invocation printed an EMF line into the benchmark's output. The AWS SDK is pinned on purpose
 * (releases from 2027 need Node 22): its Node 20 notice is noise here. Same settings as vitest.config.ts.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
