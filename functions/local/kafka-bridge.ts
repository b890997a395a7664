import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Kafka } from 'kafkajs';
import { runningLocalServices } from '../../scripts/services/state.js';
import { createIndexFlowsHandler, type IndexFlowsDependencies } from '../handlers/index-flows.js';
import { KafkaDeadLetterSink } from '../platform/kafka-dead-letter.js';
import { type MskBatchResponse, partitionKey, toMskEvent } from '../platform/kafka-msk-event.js';
import { createKafka, KafkaPredictionPublisher, kafkaConnectionFrom } from '../platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../platform/opensearch-indexer.js';
import type { PredictionPublisher } from '../platform/ports.js';
import { UnconfiguredPublisher } from '../platform/unconfigured-publisher.js';
import { PREDICTIONS_TOPIC } from '../records/prediction-message.js';

/**
 * The local stand-in for Lambda's MSK event source: a kafkajs consumer that hands each fetched batch, in the MSK
 * event shape, to the index-flows handler and commits a partition's offsets only up to the first record the
 * handler did not report failed. A failed record is fetched again after a backoff (as Lambda retries), and
 * records after it are redelivered too, exactly as on AWS.
 */

export type MskHandler = (event: unknown) => Promise<MskBatchResponse>;

export interface KafkaBridgeOptions {
  kafka: Kafka;
  brokers: string[];
  handler: MskHandler;
  topic?: string;
  groupId?: string;
  fromBeginning?: boolean;
  /** Partitions handled at the same time (Lambda runs one poller per partition). */
  partitionsConcurrently?: number;
  /** Most records handed to the handler at once (Lambda's batch size). */
  maxBatchRecords?: number;
  retryBackoffMs?: { initial: number; max: number };
  log?: (line: string) => void;
}

export interface KafkaBridge {
  groupId: string;
  /** Batches handed to the handler, and records committed after it succeeded. */
  stats(): { batches: number; committed: number; failedBatches: number };
  stop(): Promise<void>;
}

/**
 * Records per batch handed to index-flows locally, and documents per `_bulk` request of the local indexer: one
 * bulk per batch. Larger than Lambda's batches on AWS (the stage config's batch size, at most 500): locally one
 * process indexes everything. One 2,000-document bulk (~6 MB of flow documents) cost a warm single-node
 * OpenSearch 94-104 µs of CPU per document against 131-132 µs as four 500-document bulks, three in flight, and
 * finished sooner (alternated, 30,000 documents per run).
 */
export const LOCAL_BATCH_RECORDS = 2000;

export async function startKafkaBridge(options: KafkaBridgeOptions): Promise<KafkaBridge> {
  const topic = options.topic ?? PREDICTIONS_TOPIC;
  const maxBatch = options.maxBatchRecords ?? LOCAL_BATCH_RECORDS;
  const backoff = options.retryBackoffMs ?? { initial: 500, max: 10_000 };
  const log = options.log ?? (() => undefined);
  const groupId = options.groupId ?? 'ccf-index-flows';
  const consumer: Consumer = options.kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    // One capture's predictions share a key, hence a partition: fetch big slices of it (default 1 MiB ≈ 400 predictions).
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  });
  const stats = { batches: 0, committed: 0, failedBatches: 0 };
  const failuresInARow = new Map<string, number>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConcurrently ?? 3,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
      const key = partitionKey(batch.topic, batch.partition);
      for (let start = 0; start < batch.messages.length; start += maxBatch) {
        if (!isRunning() || isStale()) return;
        const slice = batch.messages.slice(start, start + maxBatch);
        const event = toMskEvent(
          slice.map((m) => ({ ...m, topic: batch.topic, partition: batch.partition })),
          options.brokers,
        );
        stats.batches++;
        let firstFailed: number | undefined;
        try {
          const response = await options.handler(event);
          for (const failure of response.batchItemFailures) {
            const { partition, offset } = failure.itemIdentifier;
            if (partition === key && (firstFailed === undefined || offset < firstFailed))
              firstFailed = offset;
          }
        } catch (error) {
          log(`index-flows failed for ${key}: ${error instanceof Error ? error.message : String(error)}`);
          firstFailed = Number(slice[0]?.offset ?? batch.firstOffset());
        }
        if (firstFailed === undefined) {
          const last = Number(slice[slice.length - 1]?.offset);
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: String(last + 1) },
          ]);
          // Resolved offsets are where kafkajs fetches next; unresolved ones would be fetched again.
          resolveOffset(String(last));
          stats.committed += slice.length;
          failuresInARow.delete(key);
          await heartbeat();
          continue;
        }
        // Keep what succeeded before the first failure, then fetch again from it after a backoff.
        stats.failedBatches++;
        const done = slice.filter((m) => Number(m.offset) < firstFailed).length;
        if (done > 0) {
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: String(firstFailed) },
          ]);
          resolveOffset(String(firstFailed - 1));
          stats.committed += done;
        }
        const attempts = (failuresInARow.get(key) ?? 0) + 1;
        failuresInARow.set(key, attempts);
        const wait = Math.min(backoff.max, backoff.initial * 2 ** (attempts - 1));
        log(
          `${key}: record at offset ${firstFailed} not indexed; retrying in ${wait} ms (attempt ${attempts})`,
        );
        consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(firstFailed) });
        const until = Date.now() + wait;
        while (Date.now() < until && isRunning()) {
          await sleep(Math.min(1000, until - Date.now()));
          await heartbeat().catch(() => undefined);
        }
        return;
      }
    },
  });
  return {
    groupId,
    stats: () => ({ ...stats }),
    stop: () => consumer.disconnect(),
  };
}

export interface LocalStreamingSettings {
  KAFKA_BROKERS?: string | undefined;
  OPENSEARCH_URL?: string | undefined;
  AWS_REGION?: string;
}

export interface LocalStreaming {
  /** Kafka publisher when a broker is known, otherwise the "not configured" one. */
  publisher: PredictionPublisher;
  /** OpenSearch endpoint (for GET /api/flows), when known. */
  opensearchUrl: string | undefined;
  kafkaBrokers: string[] | undefined;
  bridge: KafkaBridge | undefined;
  /** One line for the start-up banner. */
  description: string;
  stop(): Promise<void>;
}

/**
 * The one call the local runtime makes: uses KAFKA_BROKERS / OPENSEARCH_URL when set, else the services started by
 * `npm run services:up`; publishes to Kafka and runs the index-flows bridge when both are there. When they are not,
 * it says so once (in `description`) and returns the "not configured" publisher, so the rest still works.
 */
export async function startLocalStreaming(
  settings: LocalStreamingSettings = {},
  log: (line: string) => void = () => undefined,
): Promise<LocalStreaming> {
  const running = runningLocalServices();
  const brokersSetting = settings.KAFKA_BROKERS ?? running.kafkaBrokers?.join(',');
  const opensearchUrl = settings.OPENSEARCH_URL ?? running.opensearchUrl;
  const connection = kafkaConnectionFrom({
    KAFKA_BROKERS: brokersSetting,
    AWS_REGION: settings.AWS_REGION ?? 'us-east-1',
    // The local broker (scripts/services) speaks plaintext only.
    KAFKA_AUTH: 'plaintext',
  });
  if (!connection) {
    return {
      publisher: new UnconfiguredPublisher(),
      opensearchUrl,
      kafkaBrokers: undefined,
      bridge: undefined,
      description:
        'streaming off: no Kafka (KAFKA_BROKERS unset and `npm run services:up` not running); predictions are stored only',
      stop: async () => undefined,
    };
  }
  const kafka = createKafka(connection);
  const publisher = new KafkaPredictionPublisher({ kafka: createKafka(connection) });
  let bridge: KafkaBridge | undefined;
  let indexer: IndexFlowsDependencies | undefined;
  let deadLetters: KafkaDeadLetterSink | undefined;
  if (opensearchUrl) {
    deadLetters = new KafkaDeadLetterSink(kafka);
    indexer = {
      indexer: new OpenSearchIndexer({
        client: createOpenSearchClient({ url: opensearchUrl }),
        bulkSize: LOCAL_BATCH_RECORDS,
      }),
      poison: deadLetters,
      log: (message, fields) => log(`index-flows: ${message} ${JSON.stringify(fields)}`),
    };
    bridge = await startKafkaBridge({
      kafka,
      brokers: connection.brokers,
      handler: createIndexFlowsHandler(indexer),
      log,
    });
  }
  return {
    publisher,
    opensearchUrl,
    kafkaBrokers: connection.brokers,
    bridge,
    description: bridge
      ? `streaming on: publishing to Kafka ${connection.brokers.join(',')}, indexing into OpenSearch ${opensearchUrl}`
      : `publishing to Kafka ${connection.brokers.join(',')}; indexing off (OPENSEARCH_URL unset and no local OpenSearch)`,
    stop: async () => {
      await bridge?.stop();
      await publisher.disconnect();
      await deadLetters?.disconnect();
    },
  };
}
