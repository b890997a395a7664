import type { Kafka, Producer } from 'kafkajs';
import { PREDICTIONS_TOPIC } from '../records/prediction-message.js';
import { DependencyError } from './errors.js';
import type { MskRecord } from './kafka-msk-event.js';

/**
 * The failure destination for poison messages (not JSON, wrong schema, refused by the index mapping): they are
 * copied, with the reason, to a dead-letter topic and then count as processed, so they never block their partition.
 */
export const DEAD_LETTER_TOPIC = `${PREDICTIONS_TOPIC}.dlq`;

export interface PoisonRecord {
  record: MskRecord;
  reason: string;
  code: string;
}

export interface PoisonSink {
  /** Stores every record durably or throws (the caller then reports the records as failed, so none is lost). */
  send(poison: readonly PoisonRecord[]): Promise<void>;
}

export class KafkaDeadLetterSink implements PoisonSink {
  readonly #kafka: Kafka;
  readonly #topic: string;
  #producer: Promise<Producer> | undefined;

  constructor(kafka: Kafka, topic = DEAD_LETTER_TOPIC) {
    this.#kafka = kafka;
    this.#topic = topic;
  }

  #connected(): Promise<Producer> {
    this.#producer ??= (async () => {
      const producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
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

  async send(poison: readonly PoisonRecord[]): Promise<void> {
    if (poison.length === 0) return;
    try {
      const producer = await this.#connected();
      await producer.send({
        topic: this.#topic,
        acks: -1,
        messages: poison.map(({ record, reason, code }) => ({
          key: record.key ? Buffer.from(record.key, 'base64') : null,
          value: record.value ? Buffer.from(record.value, 'base64') : null,
          headers: {
            'ccf-error-code': code,
            'ccf-error-reason': reason.slice(0, 1000),
            'ccf-source-topic': record.topic,
            'ccf-source-partition': String(record.partition),
            'ccf-source-offset': String(record.offset),
          },
        })),
      });
    } catch (error) {
      const current = this.#producer;
      this.#producer = undefined;
      if (current) await current.then((p) => p.disconnect()).catch(() => undefined);
      throw new DependencyError(
        `Dead-letter topic ${this.#topic} unreachable: ${(error as Error).message}`,
        { dependency: 'kafka' },
        { cause: error },
      );
    }
  }

  async disconnect(): Promise<void> {
    const current = this.#producer;
    this.#producer = undefined;
    if (current) await current.then((p) => p.disconnect()).catch(() => undefined);
  }
}
