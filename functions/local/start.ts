/**
 * `npm start`: the local runtime on PORT (default 3000) with data under .local/ (git-ignored).
 * Powertools' own switches are set here as the Lambda service would set them, before any handler loads.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// The SDK version is pinned on purpose (releases from 2027 need Node 22); its Node 20 notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { startLocalStack } = await import('./local-stack.js');
const { outcomeOf } = await import('../cli/run-command.js');

/** A start-up failure as one clear line (a bad setting, a port in use), the stack trace only with CCF_DEBUG=1. */
function startFailure(error: unknown): never {
  const code = error instanceof Error ? Reflect.get(error, 'code') : undefined;
  if (code === 'EADDRINUSE') {
    const address = error instanceof Error ? Reflect.get(error, 'port') : undefined;
    process.stderr.write(
      `npm start: port ${String(address ?? '')} is in use (another npm start?); choose others with PORT, LOCAL_S3_PORT, LOCAL_DYNAMODB_PORT\n`,
    );
  } else {
    for (const line of outcomeOf(error, process.env.CCF_DEBUG === '1').stderrLines) {
      process.stderr.write(`${line.replace(/^ccf: /, 'npm start: ')}\n`);
    }
  }
  process.exit(1);
}

const stack = await startLocalStack({ log: (line) => process.stdout.write(`${line}\n`) }).catch(startFailure);
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

/**
 * A second Ctrl-C forces the exit. The first signal often arrives more than once within milliseconds: the
 * terminal signals the whole process group, and npm and tsx each forward what they receive to their child, so
 * only a repeat at least this long after the first counts as a second press.
 */
const REPEAT_SIGNAL_MS = 500;
let stoppingSince: number | undefined;
const stop = (signal: string) => {
  if (stoppingSince !== undefined) {
    if (performance.now() - stoppingSince < REPEAT_SIGNAL_MS) return;
    process.stdout.write('forced exit\n');
    process.exit(130);
  }
  stoppingSince = performance.now();
  process.stdout.write(`\n${signal}: finishing in-flight work and stopping...\n`);
  stack.close().then(
    () => {
      process.stdout.write('stopped\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
