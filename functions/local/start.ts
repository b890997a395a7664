/**
 * `npm start`: the local runtime on PORT (default 3000) with data under .local/ (git-ignored).
 * Powertools' own switches are set here as the Lambda service would set them, before any handler loads.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// The SDK version is pinned on purpose (releases from 2027 need Node 22); its Node 20 notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { startLocalStack } = await import('./local-stack.js');

const stack = await startLocalStack({ log: (line) => process.stdout.write(`${line}\n`) });
const { runtime } = stack;

process.stdout.write(
  [
    `CCF-Catcher local runtime`,
    `  API        ${runtime.apiUrl}  (POST /api/upload_pcap, POST /api/predict, GET /api/history, GET /api/captures/{id})`,
    `  S3         ${runtime.s3Endpoint}  (s3rver, bucket ${runtime.config.CAPTURE_BUCKET})`,
    `  DynamoDB   ${runtime.dynamoEndpoint}  (dynalite, table ${runtime.config.TABLE_NAME})`,
    `  data       ${stack.dataDir}/`,
    `  streaming  ${stack.streamingDescription}`,
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
  stack.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
