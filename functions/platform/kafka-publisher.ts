import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { CompressionTypes, Kafka, type KafkaConfig, logLevel, type Message, type Producer } from 'kafkajs';
import type { Prediction } from '../records/prediction.js';
import {
  buildPredictionMessage,
  type CaptureContext,
  encodePredictionMessage,
  flowIndexOfPredictionId,
  PREDICTIONS_TOPIC,
  predictionMessageKey,
  unacknowledgedOf,
} from '../records/prediction-message.js';
import type { PlatformConfig } from './config.js';
import { DependencyError } from './errors.js';
import type { Clock, PredictionPublisher, PublishResult } from './ports.js';
import { UnconfiguredPublisher } from './unconfigured-publisher.js';

/**
 * Publishes predictions to Kafka (`network_predictions`) with one kafkajs idempotent producer per container:
 * acks from all in-sync replicas, key = capture id (or `api`), SASL/IAM (OAUTHBEARER through the AWS MSK signer)
 * when KAFKA_AUTH=iam, plaintext otherwise. Produce requests are bounded by count and bytes (under the broker's
 * max.message.bytes). Every prediction not acknowledged is reported (by id, and for capture flows as compact
 * flow-index ranges that score-flows stores on the capture record for the retry path).
 *
 * What is guaranteed about duplicates ("nothing published twice under the same id"):
 * - Within one producer session the idempotent producer (producer id + per-partition sequence numbers) lets the
 *   broker drop the copies its own retries would otherwise write, so a send that succeeds leaves one message.
 * - A send reported failed is never retried with the same producer id: the producer is replaced. If the broker
 *   had in fact written it (acknowledgement lost), republishing it writes a second message with the same
 *   prediction id. Kafka is therefore at-least-once across failures, and duplicates are limited to the messages
 *   of produce requests whose outcome was unknown.
 * - Acknowledged predictions are never republished by the retry path (it selects only the recorded
 *   unacknowledged flows, under a per-capture lease), except when the recorded ranges had to be joined to stay
 *   small (`exact: false`).
 * - OpenSearch documents use `_id` = prediction id, so every prediction is exactly one document however many
 *   messages carried it.
 */

export type KafkaAuth = PlatformConfig['KAFKA_AUTH'];

export interface KafkaConnection {
  brokers: string[];
  auth: KafkaAuth;
  /** AWS region of the MSK cluster (IAM auth only). */
  region: string;
  clientId: string;
}

/** The brokers and how to authenticate to them, from the parsed config (KAFKA_AUTH says it; nothing is guessed). */
export function kafkaConnectionFrom(
  config: Pick<PlatformConfig, 'KAFKA_BROKERS' | 'AWS_REGION' | 'KAFKA_AUTH'>,
  overrides: Partial<KafkaConnection> = {},
): KafkaConnection | undefined {
  const brokers = (config.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0 && !overrides.brokers) return undefined;
  return {
    brokers,
    auth: config.KAFKA_AUTH,
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
  /** Bytes of message values per produce request (below the broker's 1 MiB max.message.bytes). */
  maxBatchBytes?: number;
  /**
   * After a failed send, calls within this many ms report their predictions unacknowledged at once instead of
   * waiting for the broker again: a capture publishes hundreds of pages, and each wait costs the client's
   * connection retries (tens of seconds), which would hold score-flows for hours while Kafka is down.
   */
  failFastMs?: number;
  /** Producer retries before a send is reported failed (bounded, so an unreachable broker fails the call). */
  retries?: number;
  /**
   * Unacknowledged API predictions kept in memory for `retryUnacknowledged()`, oldest dropped beyond this
   * (capture flows are not kept: their capture record names them for the durable retry path).
   */
  maxPending?: number;
  /** Codec of produce batches (`CompressionTypes.None` / `GZIP`; consumers decode either natively). */
  compression?: CompressionTypes;
}

export class KafkaPredictionPublisher implements PredictionPublisher {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #clock: Clock;
  readonly #chunkSize: number;
  readonly #maxBatchBytes: number;
  readonly #failFastMs: number;
  #unavailable: { until: number; error: unknown } | undefined;
  readonly #retries: number;
  readonly #maxPending: number;
  readonly #compression: CompressionTypes;
  readonly #pending = new Map<string, { prediction: Prediction; capture: CaptureContext | undefined }>();
  #producer: Promise<Producer> | undefined;

  constructor(options: KafkaPublisherOptions) {
    this.#kafka = options.kafka;
    this.#topic = options.topic ?? PREDICTIONS_TOPIC;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#chunkSize = options.chunkSize ?? 500;
    this.#maxBatchBytes = options.maxBatchBytes ?? 768 * 1024;
    this.#failFastMs = options.failFastMs ?? 15_000;
    this.#retries = options.retries ?? 5;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#compression = options.compression ?? CompressionTypes.None;
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
    if (this.#unavailable && Date.now() < this.#unavailable.until) failure = this.#unavailable.error;
    let messages: Message[] = [];
    let sendable: typeof entries = [];
    let chunkBytes = 0;
    const send = async () => {
      if (sendable.length === 0) return;
      const batch = sendable;
      const batchMessages = messages;
      sendable = [];
      messages = [];
      chunkBytes = 0;
      if (failure !== undefined) {
        // Kafka already failed in this call: the rest is reported unacknowledged without waiting again.
        for (const entry of batch) this.#markFailed(result, entry);
        return;
      }
      try {
        const producer = await this.#connectedProducer();
        await producer.send({
          topic: this.#topic,
          acks: -1,
          compression: this.#compression,
          messages: batchMessages,
        });
        for (const entry of batch) this.#pending.delete(entry.prediction.prediction_id);
        result.published += batch.length;
        this.#unavailable = undefined;
      } catch (error) {
        failure = error;
        this.#unavailable = { until: Date.now() + this.#failFastMs, error };
        await this.#resetProducer();
        for (const entry of batch) this.#markFailed(result, entry);
      }
    };
    for (const entry of entries) {
      let value: string;
      try {
        value = encodePredictionMessage(buildPredictionMessage(entry.prediction, publishedAt, entry.capture));
      } catch (error) {
        // Cannot happen for schema-valid predictions; counted as failed and never sent.
        failure ??= error;
        this.#markFailed(result, entry);
        continue;
      }
      // A produce request's record batch must stay under the broker's max.message.bytes (1 MiB by default on
      // Kafka and MSK); a flow prediction is ~2–3 KB, so 500 of them would be refused as one batch.
      const bytes = Buffer.byteLength(value) + entry.prediction.capture_id.length + 64;
      if (
        sendable.length >= this.#chunkSize ||
        (sendable.length > 0 && chunkBytes + bytes > this.#maxBatchBytes)
      )
        await send();
      messages.push({ key: predictionMessageKey(entry.prediction), value });
      sendable.push(entry);
      chunkBytes += bytes;
    }
    await send();
    if (result.failed > 0) {
      result.status = result.published > 0 ? 'partial' : 'failed';
      result.message = `Kafka did not acknowledge ${result.failed} of ${entries.length} predictions: ${messageOf(failure)}`;
      // Flow-index ranges only for capture flows (API prediction ids end in a page slot, not a flow index).
      const failedIds = new Set(result.unacknowledged_ids);
      const unacknowledged = unacknowledgedOf(
        entries
          .filter((e) => e.prediction.capture_id !== 'api' && failedIds.has(e.prediction.prediction_id))
          .map((e) => e.prediction.prediction_id),
      );
      if (unacknowledged) result.unacknowledged = unacknowledged;
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
    // A capture's flows are recorded durably on its capture record (the retry path reads them back from the
    // store); holding them here too would keep a whole capture's predictions in memory through an outage.
    if (flowIndexOfPredictionId(id) !== undefined && entry.prediction.capture_id !== 'api') return;
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

let containerPublisher: PredictionPublisher | undefined;

/**
 * The publisher of this container: Kafka when KAFKA_BROKERS is set, otherwise one that records "not configured".
 * Created once (module scope), so a warm Lambda reuses its connected producer.
 */
export function predictionPublisherFor(
  config: Pick<PlatformConfig, 'KAFKA_BROKERS' | 'AWS_REGION' | 'KAFKA_AUTH'>,
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
