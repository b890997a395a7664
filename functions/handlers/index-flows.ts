import { configSchema } from '../platform/config.js';
import { ConfigError, isCcfError, ValidationError } from '../platform/errors.js';
import { KafkaDeadLetterSink, type PoisonRecord, type PoisonSink } from '../platform/kafka-dead-letter.js';
import {
  type MskBatchResponse,
  type MskEvent,
  type MskRecord,
  mskEventSchema,
  partitionKey,
} from '../platform/kafka-msk-event.js';
import { createKafka, kafkaConnectionFrom } from '../platform/kafka-publisher.js';
import { logger } from '../platform/observability.js';
import {
  createOpenSearchClient,
  type IndexRequest,
  OpenSearchIndexer,
} from '../platform/opensearch-indexer.js';
import { ecsDocumentJson } from '../records/ecs-document.js';
import { decodePredictionMessage } from '../records/prediction-message.js';

/**
 * index-flows (MSK event source → OpenSearch). Each record is decoded and mapped to its ECS document; the batch
 * is bulk-indexed with `_id` = prediction id (redelivery overwrites, never duplicates). Records OpenSearch could
 * not take now (down, 429 after retries, 5xx) are reported as `{partition: "topic-partition", offset}` failures,
 * so Lambda redelivers from there. Poison records (bad JSON/schema, refused by the mapping) go to the failure
 * destination and count as processed, so they never block their partition; if that destination is unreachable
 * they are reported failed instead (nothing is dropped).
 */

export interface IndexFlowsDependencies {
  indexer: Pick<OpenSearchIndexer, 'indexDocuments'>;
  poison: PoisonSink;
  log?: (message: string, fields: Record<string, string | number>) => void;
}

export interface IndexFlowsOutcome {
  response: MskBatchResponse;
  indexed: number;
  poison: number;
  failed: number;
}

interface Decoded {
  record: MskRecord;
  request: IndexRequest;
}

export async function indexMskBatch(
  event: MskEvent,
  deps: IndexFlowsDependencies,
): Promise<IndexFlowsOutcome> {
  const decoded: Decoded[] = [];
  const poison: PoisonRecord[] = [];
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      try {
        if (record.value == null) throw new ValidationError('Kafka record has no value', { field: 'value' });
        const message = decodePredictionMessage(Buffer.from(record.value, 'base64'));
        decoded.push({
          record,
          request: { id: message.prediction.prediction_id, document: ecsDocumentJson(message) },
        });
      } catch (error) {
        poison.push({
          record,
          code: isCcfError(error) ? error.code : 'INTERNAL',
          reason: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  const failed: MskRecord[] = [];
  let indexed = 0;
  if (decoded.length > 0) {
    try {
      const results = await deps.indexer.indexDocuments(decoded.map((d) => d.request));
      const byId = new Map(results.map((r) => [r.id, r]));
      for (const d of decoded) {
        const result = byId.get(d.request.id);
        if (result?.ok) indexed++;
        else if (result && !result.retryable) {
          poison.push({ record: d.record, code: 'DOCUMENT_REFUSED', reason: result.error });
        } else failed.push(d.record);
      }
    } catch (error) {
      deps.log?.('bulk indexing failed; batch reported for redelivery', {
        records: decoded.length,
        error: error instanceof Error ? error.message : String(error),
      });
      failed.push(...decoded.map((d) => d.record));
    }
  }

  let poisonStored = 0;
  if (poison.length > 0) {
    try {
      await deps.poison.send(poison);
      poisonStored = poison.length;
      for (const p of poison) {
        deps.log?.('poison record sent to the failure destination', {
          partition: partitionKey(p.record.topic, p.record.partition),
          offset: p.record.offset,
          code: p.code,
          reason: p.reason.slice(0, 300),
        });
      }
    } catch (error) {
      deps.log?.('failure destination unreachable; poison records reported failed', {
        records: poison.length,
        error: error instanceof Error ? error.message : String(error),
      });
      failed.push(...poison.map((p) => p.record));
    }
  }

  failed.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.offset - b.offset);
  return {
    response: {
      batchItemFailures: failed.map((r) => ({
        itemIdentifier: { partition: partitionKey(r.topic, r.partition), offset: r.offset },
      })),
    },
    indexed,
    poison: poisonStored,
    failed: failed.length,
  };
}

/** The Lambda adapter: validates the MSK envelope, runs the batch, returns the partial batch response. */
export function createIndexFlowsHandler(deps: IndexFlowsDependencies) {
  return async (event: unknown): Promise<MskBatchResponse> => {
    const parsed = mskEventSchema.safeParse(event);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join('.') ?? 'event';
      throw new ValidationError(`Not an MSK event (${field})`, { field });
    }
    const outcome = await indexMskBatch(parsed.data, deps);
    return outcome.response;
  };
}

const streamingConfigSchema = configSchema.pick({
  AWS_REGION: true,
  KAFKA_BROKERS: true,
  KAFKA_AUTH: true,
  OPENSEARCH_URL: true,
});

function buildFromEnvironment() {
  const config = streamingConfigSchema.parse(process.env);
  if (!config.OPENSEARCH_URL)
    throw new ConfigError('OPENSEARCH_URL is not set', { setting: 'OPENSEARCH_URL' });
  const connection = kafkaConnectionFrom(config);
  if (!connection) throw new ConfigError('KAFKA_BROKERS is not set', { setting: 'KAFKA_BROKERS' });
  return createIndexFlowsHandler({
    indexer: new OpenSearchIndexer({
      client: createOpenSearchClient({ url: config.OPENSEARCH_URL, awsRegion: config.AWS_REGION }),
    }),
    poison: new KafkaDeadLetterSink(createKafka(connection)),
    log: (message, fields) => logger.warn(message, fields),
  });
}

let built: ((event: unknown) => Promise<MskBatchResponse>) | undefined;

/** Lambda entry point; clients are built on the first invocation and reused by the warm container. */
export function handler(event: unknown): Promise<MskBatchResponse> {
  built ??= buildFromEnvironment();
  return built(event);
}
