/**
 * The whole local stack as one value: embedded S3 and DynamoDB, the handlers behind the HTTP adapter and,
 * when Kafka/OpenSearch run (or are configured), the publisher and the indexing bridge. `npm start` and
 * `ccf upload --local` both start it through here so they cannot drift apart.
 */
import { getLocalConfig } from '../platform/config.js';
import { startLocalStreaming } from './kafka-bridge.js';
import { type LocalRuntime, startLocalRuntime } from './runtime.js';

export interface LocalStack {
  runtime: LocalRuntime;
  /** One line saying whether predictions are streamed to Kafka/OpenSearch, and why not. */
  streamingDescription: string;
  dataDir: string;
  /** Finishes in-flight work, then stops every server it started. */
  close(): Promise<void>;
}

export interface LocalStackOptions {
  /** Progress and invocation lines (stdout for `npm start`, stderr for the CLI). */
  log: (line: string) => void;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const local = getLocalConfig();
  const streaming = await startLocalStreaming(
    { KAFKA_BROKERS: local.KAFKA_BROKERS, OPENSEARCH_URL: local.OPENSEARCH_URL },
    options.log,
  );
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime({
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
        options.log(`${new Date().toISOString()} ${name} ${key}: ${outcome} ${detail}`);
      },
    });
  } catch (error) {
    await streaming.stop();
    throw error;
  }
  return {
    runtime,
    streamingDescription: streaming.description,
    dataDir: local.LOCAL_DATA_DIR,
    async close() {
      await Promise.all([runtime.close(), streaming.stop()]);
    },
  };
}
