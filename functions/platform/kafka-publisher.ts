import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, type KafkaConfig, logLevel, type Message, type Producer } from 'kafkajs';
import type { Prediction } from '../records/prediction.js';
import {
  buildPredictionMessage,
  type CaptureContext,
  encodePredictionMessage,
  PREDICTIONS_TOPIC,
  predictionMessageKey,
} from '../records/prediction-message.js';
import type { PlatformConfig } from './config.js';
import { DependencyError } from './errors.js';
import type { Clock, PredictionPublisher, PredictionRepository, PublishResult } from './ports.js';
import { UnconfiguredPublisher } from './unconfigured-publisher.js';

/**
 * Publishes predictions to Kafka (`network_predictions`) with one kafkajs idempotent producer per container:
 * acks from all in-sync replicas, key = capture id (or `api`), SASL/IAM (OAUTHBEARER through the AWS MSK signer)
 * on MSK, plaintext locally. Every prediction not acknowledged is reported by id and kept for `retryUnacknowledged()`,
 * so a retry path republishes exactly what is missing; OpenSearch documents are keyed by prediction id, so a
 * message that was written but whose acknowledgement was lost still yields one document.
 */

export type KafkaAuth = 'plaintext' | 'iam';

export interface KafkaConnection {
  brokers: string[];
  auth: KafkaAuth;
  /** AWS region of the MSK cluster (IAM auth only). */
  region: string;
  clientId: string;
}

/** MSK serves IAM-authenticated clients on port 9098 (public: 9198); everything else is treated as plaintext. */
export function kafkaConnectionFrom(
  config: Pick<PlatformConfig, 'KAFKA_BROKERS' | 'AWS_REGION'>,
  overrides: Partial<KafkaConnection> = {},
): KafkaConnection | undefined {
  const brokers = (config.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0 && !overrides.brokers) return undefined;
  const iam = brokers.some((b) => /:(9098|9198)$/.test(b));
  return {
    brokers,
    auth: iam ? 'iam' : 'plaintext',
    region: config.AWS_REGION,
    clientId: 'ccf-catcher',
    ...overrides,
  };
}

export function createKafka(connection: KafkaConnection, options: { retries?: number } = {}): Kafka {
  const config: KafkaConfig = {
    clientId: connection.clientId,
    brokers: connection.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
  };
  if (connection.auth === 'iam') {
    config.ssl = true;
    config.sasl = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => {
        const token = await generateAuthToken({ region: connection.region });
        return { value: token.token };
      },
    };
  }
  return new Kafka(config);
}

export interface KafkaPublishResult extends PublishResult {
  /** Ids of the predictions whose messages were not acknowledged (kept for `retryUnacknowledged`). */
  unacknowledged_ids: string[];
}

export interface KafkaPublisherOptions {
  kafka: Kafka;
  topic?: string;
  clock?: Clock;
  /** Messages per produce request; a failed request marks its messages (and the rest of the call) unacknowledged. */
  chunkSize?: number;
  /** Producer retries before a send is reported failed (bounded, so an unreachable broker fails the call). */
  retries?: number;
  /** Unacknowledged predictions kept in memory for `retryUnacknowledged()`, oldest dropped beyond this. */
  maxPending?: number;
}

export class KafkaPredictionPublisher implements PredictionPublisher {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #clock: Clock;
  readonly #chunkSize: number;
  readonly #retries: number;
  readonly #maxPending: number;
  readonly #pending = new Map<string, { prediction: Prediction; capture: CaptureContext | undefined }>();
  #producer: Promise<Producer> | undefined;

  constructor(options: KafkaPublisherOptions) {
    this.#kafka = options.kafka;
    this.#topic = options.topic ?? PREDICTIONS_TOPIC;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#chunkSize = options.chunkSize ?? 500;
    this.#retries = options.retries ?? 5;
    this.#maxPending = options.maxPending ?? 1_000_000;
  }

  /** Connects the producer once (lazily); after a failed send the next call reconnects with a fresh producer id. */
  #connectedProducer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: this.#retries, initialRetryTime: 300, maxRetryTime: 5000 },
      });
      await producer.connect();
      return producer;
    })();
    const connecting = this.#producer;
    connecting.catch(() => {
      if (this.#producer === connecting) this.#producer = undefined;
    });
    return connecting;
  }

  async #resetProducer(): Promise<void> {
    const current = this.#producer;
    this.#producer = undefined;
    if (current) await current.then((p) => p.disconnect()).catch(() => undefined);
  }

  publish(predictions: Prediction[], capture?: CaptureContext): Promise<KafkaPublishResult> {
    return this.#publish(predictions.map((prediction) => ({ prediction, capture })));
  }

  /** Predictions not acknowledged so far (in the order they were first attempted). */
  unacknowledged(): Prediction[] {
    return [...this.#pending.values()].map((entry) => entry.prediction);
  }

  /** Republishes every prediction not acknowledged so far; those acknowledged now leave the pending set. */
  retryUnacknowledged(): Promise<KafkaPublishResult> {
    return this.#publish([...this.#pending.values()]);
  }

  async disconnect(): Promise<void> {
    await this.#resetProducer();
  }

  async #publish(
    entries: { prediction: Prediction; capture: CaptureContext | undefined }[],
  ): Promise<KafkaPublishResult> {
    const result: KafkaPublishResult = {
      status: 'published',
      published: 0,
      failed: 0,
      unacknowledged_ids: [],
    };
    if (entries.length === 0) return result;
    const publishedAt = this.#clock.now();
    let failure: unknown;
    for (let start = 0; start < entries.length; start += this.#chunkSize) {
      const chunk = entries.slice(start, start + this.#chunkSize);
      if (failure === undefined) {
        const messages: Message[] = [];
        const sendable: typeof chunk = [];
        for (const entry of chunk) {
          try {
            const value = encodePredictionMessage(
              buildPredictionMessage(entry.prediction, publishedAt, entry.capture),
            );
            messages.push({ key: predictionMessageKey(entry.prediction), value });
            sendable.push(entry);
          } catch (error) {
            // Cannot happen for schema-valid predictions; counted as failed and never sent.
            failure ??= error;
            this.#markFailed(result, entry);
          }
        }
        try {
          const producer = await this.#connectedProducer();
          await producer.send({ topic: this.#topic, acks: -1, messages });
          for (const entry of sendable) this.#pending.delete(entry.prediction.prediction_id);
          result.published += sendable.length;
          continue;
        } catch (error) {
          failure = error;
          await this.#resetProducer();
          for (const entry of sendable) this.#markFailed(result, entry);
          continue;
        }
      }
      for (const entry of chunk) this.#markFailed(result, entry);
    }
    if (result.failed > 0) {
      result.status = result.published > 0 ? 'partial' : 'failed';
      result.message = `Kafka did not acknowledge ${result.failed} of ${entries.length} predictions: ${messageOf(failure)}`;
    }
    return result;
  }

  #markFailed(
    result: KafkaPublishResult,
    entry: { prediction: Prediction; capture: CaptureContext | undefined },
  ): void {
    const id = entry.prediction.prediction_id;
    result.failed++;
    result.unacknowledged_ids.push(id);
    this.#pending.delete(id);
    this.#pending.set(id, entry);
    while (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.keys().next();
      if (oldest.done) break;
      this.#pending.delete(oldest.value);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The durable retry path: republishes a capture's predictions from the prediction store (all of them, or only
 * `onlyIds`, e.g. the `unacknowledged_ids` recorded with the capture), page by page.
 */
export async function republishCapture(
  deps: { predictions: PredictionRepository; publisher: PredictionPublisher },
  captureId: string,
  onlyIds?: ReadonlySet<string>,
  pageSize = 500,
): Promise<PublishResult> {
  const totals: PublishResult = { status: 'published', published: 0, failed: 0 };
  let cursor: string | undefined;
  do {
    const page = await deps.predictions.history({
      limit: pageSize,
      captureId,
      ...(cursor ? { cursor } : {}),
    });
    const selected = onlyIds ? page.items.filter((p) => onlyIds.has(p.prediction_id)) : page.items;
    if (selected.length > 0) {
      const result = await deps.publisher.publish(selected);
      totals.published += result.published;
      totals.failed += result.failed;
      if (result.message) totals.message = result.message;
      if (result.status === 'not_configured') totals.status = 'not_configured';
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  if (totals.status !== 'not_configured' && totals.failed > 0)
    totals.status = totals.published > 0 ? 'partial' : 'failed';
  return totals;
}

let containerPublisher: PredictionPublisher | undefined;

/**
 * The publisher of this container: Kafka when KAFKA_BROKERS is set, otherwise one that records "not configured".
 * Created once (module scope), so a warm Lambda reuses its connected producer.
 */
export function predictionPublisherFor(
  config: Pick<PlatformConfig, 'KAFKA_BROKERS' | 'AWS_REGION'>,
): PredictionPublisher {
  if (containerPublisher) return containerPublisher;
  const connection = kafkaConnectionFrom(config);
  containerPublisher = connection
    ? new KafkaPredictionPublisher({ kafka: createKafka(connection) })
    : new UnconfiguredPublisher();
  return containerPublisher;
}

/** Raised by callers that need Kafka and find it unreachable (e.g. the local bridge's start-up probe). */
export function kafkaUnavailable(brokers: string[], cause: unknown): DependencyError {
  return new DependencyError(
    `Kafka at ${brokers.join(',')} is unreachable: ${messageOf(cause)}`,
    { dependency: 'kafka' },
    { cause },
  );
}
