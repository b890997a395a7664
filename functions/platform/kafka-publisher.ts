import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import {
  CompressionTypes,
  type ICustomPartitioner,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { flowRecordFromCsv } from '../pipeline/flow-record-schema.js';
import type { Prediction } from '../records/prediction.js';
import {
  buildPredictionMessage,
  type CaptureContext,
  encodePredictionMessage,
  FeaturesLineEncoder,
  PREDICTIONS_TOPIC,
  predictionMessageKey,
  unacknowledgedOf,
} from '../records/prediction-message.js';
import type { PlatformConfig } from './config.js';
import { DependencyError, ValidationError } from './errors.js';
import type { Clock, PredictionPublisher, PublishResult } from './ports.js';
import type { CsvInputs } from './prediction-pages.js';
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
  /** Ids of the predictions whose messages were not acknowledged. */
  unacknowledged_ids: string[];
}

export interface KafkaPublisherOptions {
  kafka: Kafka;
  topic?: string;
  clock?: Clock;
  /** Messages per produce request (calls waiting at the same time share requests up to this and `maxBatchBytes`). */
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
  /** Codec of produce batches (`CompressionTypes.None` / `GZIP`; consumers decode either natively). */
  compression?: CompressionTypes;
}

/** A prediction to publish; `inputValues`: its input as a v2 values array (JSON), taking the place of `input`. */
type Entry = { prediction: Prediction; capture: CaptureContext | undefined; inputValues?: string };

/** One `publish` call: answered once every one of its messages was acknowledged or refused. */
interface PendingCall {
  entries: Entry[];
  result: KafkaPublishResult;
  remaining: number;
  failure: unknown;
  resolve: (result: KafkaPublishResult) => void;
}

interface Outgoing {
  call: PendingCall;
  entry: Entry;
  message: Message;
  bytes: number;
}

/**
 * kafkajs' default partitioner (Java-compatible murmur2 of the key), remembered per topic, partition count and
 * key: every message of a capture has the same key, and hashing it again for each one (plus the partition-list
 * filter the default does per message) was ~5 µs per message on the thread that also scores.
 */
const keyedPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  const chosen = new Map<string, number>();
  return (args) => {
    const { message } = args;
    if ((message.partition !== undefined && message.partition !== null) || typeof message.key !== 'string')
      return partition(args);
    const id = `${args.topic}\u0000${args.partitionMetadata.length}\u0000${message.key}`;
    let known = chosen.get(id);
    if (known === undefined) {
      known = partition(args);
      if (chosen.size >= 10_000) chosen.clear();
      chosen.set(id, known);
    }
    return known;
  };
};

export class KafkaPredictionPublisher implements PredictionPublisher {
  /**
   * `publish` takes the features CSV lines in place of the predictions' inputs (see `publish`): a caller that has
   * the lines (score-flows) can pass them instead of building an input object per flow for this.
   */
  readonly readsCsvInputs = true;
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #clock: Clock;
  readonly #chunkSize: number;
  readonly #maxBatchBytes: number;
  readonly #failFastMs: number;
  #unavailable: { until: number; error: unknown } | undefined;
  readonly #retries: number;
  readonly #compression: CompressionTypes;
  #producer: Promise<Producer> | undefined;
  /** Messages of every call, in call order, not yet sent. */
  #queue: Outgoing[] = [];
  #queueStart = 0;
  #sending: Promise<void> | undefined;
  #encoderFor: { columns: readonly string[]; encoder: FeaturesLineEncoder | undefined } | undefined;

  constructor(options: KafkaPublisherOptions) {
    this.#kafka = options.kafka;
    this.#topic = options.topic ?? PREDICTIONS_TOPIC;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#chunkSize = options.chunkSize ?? 2000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 768 * 1024;
    this.#failFastMs = options.failFastMs ?? 15_000;
    this.#retries = options.retries ?? 5;
    this.#compression = options.compression ?? CompressionTypes.None;
  }

  /** Connects the producer once (lazily); after a failed send the next call reconnects with a fresh producer id. */
  #connectedProducer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: keyedPartitioner,
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

  /**
   * `csv`: the predictions' inputs as their features CSV lines (line i is prediction i's input; the predictions'
   * own `input` is then not read), as score-flows has them. A line in the current features layout is copied into
   * the message as it is (`FeaturesLineEncoder`); any other is parsed into an input object first.
   */
  publish(predictions: Prediction[], csv?: CsvInputs, capture?: CaptureContext): Promise<KafkaPublishResult> {
    if (!csv) return this.#publish(predictions.map((prediction) => ({ prediction, capture })));
    if (csv.lines.length !== predictions.length)
      throw new ValidationError(`${csv.lines.length} CSV lines for ${predictions.length} predictions`, {
        field: 'csv',
      });
    const encoder = this.#lineEncoder(csv.columns);
    return this.#publish(
      predictions.map((prediction, i) => {
        const line = csv.lines[i] as string;
        const inputValues = encoder?.values(line);
        return inputValues === undefined
          ? { prediction: { ...prediction, input: flowRecordFromCsv(csv.columns, line, 0) }, capture }
          : { prediction, capture, inputValues };
      }),
    );
  }

  /** score-flows passes the same header array for every page of a part: compared once, not per call. */
  #lineEncoder(columns: readonly string[]): FeaturesLineEncoder | undefined {
    if (this.#encoderFor?.columns !== columns)
      this.#encoderFor = { columns, encoder: FeaturesLineEncoder.for(columns) };
    return this.#encoderFor.encoder;
  }

  async disconnect(): Promise<void> {
    await this.#sending;
    await this.#resetProducer();
  }

  /**
   * Encodes the call's messages now and queues them; one sender sends the queue in order, a produce request at
   * a time (the idempotent producer allows one in flight), each request taking everything queued meanwhile up to
   * `chunkSize` messages and `maxBatchBytes`. Concurrent calls (score-flows publishes several parts' pages at
   * once) so share requests instead of each waiting its turn for a small one. The call is answered once all of
   * its messages were acknowledged or refused: its result says exactly which, as before.
   */
  #publish(entries: Entry[]): Promise<KafkaPublishResult> {
    const result: KafkaPublishResult = {
      status: 'published',
      published: 0,
      failed: 0,
      unacknowledged_ids: [],
    };
    if (entries.length === 0) return Promise.resolve(result);
    return new Promise<KafkaPublishResult>((resolve) => {
      const call: PendingCall = { entries, result, remaining: entries.length, failure: undefined, resolve };
      const publishedAt = this.#clock.now();
      for (const entry of entries) {
        let value: string;
        try {
          value = encodePredictionMessage(
            buildPredictionMessage(entry.prediction, publishedAt, entry.capture),
            entry.inputValues,
          );
        } catch (error) {
          // Cannot happen for schema-valid predictions; counted as failed and never sent.
          this.#settleFailed(call, entry, error);
          continue;
        }
        this.#queue.push({
          call,
          entry,
          message: { key: predictionMessageKey(entry.prediction), value },
          // A produce request's record batch must stay under the broker's max.message.bytes (1 MiB by default on
          // Kafka and MSK): counted as value + key + record overhead.
          bytes: Buffer.byteLength(value) + entry.prediction.capture_id.length + 64,
        });
      }
      this.#sending ??= this.#sendQueued().finally(() => {
        this.#sending = undefined;
      });
    });
  }

  async #sendQueued(): Promise<void> {
    while (this.#queueStart < this.#queue.length) {
      const batch: Outgoing[] = [];
      let bytes = 0;
      while (this.#queueStart < this.#queue.length && batch.length < this.#chunkSize) {
        const next = this.#queue[this.#queueStart] as Outgoing;
        if (batch.length > 0 && bytes + next.bytes > this.#maxBatchBytes) break;
        batch.push(next);
        bytes += next.bytes;
        this.#queueStart++;
      }
      if (this.#queueStart === this.#queue.length) {
        this.#queue = [];
        this.#queueStart = 0;
      }
      await this.#send(batch);
    }
  }

  async #send(batch: Outgoing[]): Promise<void> {
    if (this.#unavailable && Date.now() < this.#unavailable.until) {
      // Kafka failed moments ago: reported unacknowledged without waiting on the broker again.
      for (const item of batch) this.#settleFailed(item.call, item.entry, this.#unavailable.error);
      return;
    }
    try {
      const producer = await this.#connectedProducer();
      await producer.send({
        topic: this.#topic,
        acks: -1,
        compression: this.#compression,
        messages: batch.map((item) => item.message),
      });
      this.#unavailable = undefined;
      for (const item of batch) {
        item.call.result.published++;
        this.#settled(item.call);
      }
    } catch (error) {
      this.#unavailable = { until: Date.now() + this.#failFastMs, error };
      await this.#resetProducer();
      for (const item of batch) this.#settleFailed(item.call, item.entry, error);
    }
  }

  #settled(call: PendingCall): void {
    if (--call.remaining > 0) return;
    const { result, entries } = call;
    if (result.failed > 0) {
      result.status = result.published > 0 ? 'partial' : 'failed';
      result.message = `Kafka did not acknowledge ${result.failed} of ${entries.length} predictions: ${messageOf(call.failure)}`;
      // Flow-index ranges for capture flows (their capture record keeps them); API prediction ids end in a page
      // slot, not a flow index, and are listed as they are (POST /api/predict records them with their page).
      const failedIds = new Set(result.unacknowledged_ids);
      const failedFlows: string[] = [];
      const failedApi: string[] = [];
      for (const entry of entries) {
        const id = entry.prediction.prediction_id;
        if (!failedIds.has(id)) continue;
        if (entry.prediction.capture_id === 'api') failedApi.push(id);
        else failedFlows.push(id);
      }
      const unacknowledged = unacknowledgedOf(failedFlows);
      if (unacknowledged) result.unacknowledged = unacknowledged;
      if (failedApi.length > 0) result.unacknowledgedApi = failedApi;
    }
    call.resolve(result);
  }

  #settleFailed(call: PendingCall, entry: Entry, error: unknown): void {
    call.failure ??= error;
    call.result.failed++;
    // Nothing is held here: the caller records what was not acknowledged durably (capture flows on the capture
    // record, API predictions with their page), and the republish sweep reads them back from the store.
    call.result.unacknowledged_ids.push(entry.prediction.prediction_id);
    this.#settled(call);
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
