import type { Prediction } from '../records/prediction.js';
import type { PredictionPublisher, PublishResult } from './ports.js';

/** Used when no Kafka broker is configured: publishes nothing and says so on every capture it scores. */
export class UnconfiguredPublisher implements PredictionPublisher {
  readonly #reason: string;
  readonly readsInputs = false;

  constructor(
    reason = 'Kafka is not configured (KAFKA_BROKERS unset): predictions are stored but not published',
  ) {
    this.#reason = reason;
  }

  async publish(predictions: Prediction[]): Promise<PublishResult> {
    return { status: 'not_configured', published: 0, failed: predictions.length, message: this.#reason };
  }
}
