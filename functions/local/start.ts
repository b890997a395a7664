/**
 * `npm start`: the local runtime on PORT (default 3000) with data under .local/ (git-ignored).
 * Powertools' own switches are set here as the Lambda service would set them, before any handler loads.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

const { getLocalConfig } = await import('../platform/config.js');
const { startLocalRuntime } = await import('./runtime.js');
const { startLocalStreaming } = await import('./kafka-bridge.js');

const local = getLocalConfig();
// Kafka + OpenSearch when configured or started with `npm run services:up` (issue 6); else "not configured".
const streaming = await startLocalStreaming(
  { KAFKA_BROKERS: local.KAFKA_BROKERS, OPENSEARCH_URL: local.OPENSEARCH_URL },
  (line) => process.stdout.write(`${line}\n`),
);
const runtime = await startLocalRuntime({
  settings: {
    ...(streaming.kafkaBrokers ? { KAFKA_BROKERS: streaming.kafkaBrokers.join(',') } : {}),
    ...(streaming.opensearchUrl ? { OPENSEARCH_URL: streaming.opensearchUrl } : {}),
  },
  overrides: { publisher: streaming.publisher },
  host: local.HOST,
  port: local.PORT,
  s3Port: local.LOCAL_S3_PORT,
  dynamoPort: local.LOCAL_DYNAMODB_PORT,
  dataDir: local.LOCAL_DATA_DIR,
  onInvocation: (name, key, outcome, detail) => {
    process.stdout.write(`${new Date().toISOString()} ${name} ${key}: ${outcome} ${detail}\n`);
  },
});

process.stdout.write(
  [
    `CCF-Catcher local runtime`,
    `  API        ${runtime.apiUrl}  (POST /api/upload_pcap, POST /api/predict, GET /api/history, GET /api/captures/{id})`,
    `  S3         ${runtime.s3Endpoint}  (s3rver, bucket ${runtime.config.CAPTURE_BUCKET})`,
    `  DynamoDB   ${runtime.dynamoEndpoint}  (dynalite, table ${runtime.config.TABLE_NAME})`,
    `  data       ${local.LOCAL_DATA_DIR}/`,
    `  streaming  ${streaming.description}`,
    `Upload a capture: npx ccf upload <capture.pcap> --api ${runtime.apiUrl}`,
    'Ctrl-C to stop.',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) {
    process.stdout.write('forced exit\n');
    process.exit(130);
  }
  stopping = true;
  process.stdout.write(`\n${signal}: finishing in-flight work and stopping...\n`);
  Promise.all([runtime.close(), streaming.stop()]).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
