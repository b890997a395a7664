import { z } from 'zod';
import { CcfError } from '../platform/errors.js';
import { type Prediction, predictionSchema } from './prediction.js';

/**
 * The value of a Kafka message on topic `network_predictions`: one prediction in a versioned JSON envelope.
 * Key = the capture id (or `api` for POST /api/predict), so one capture's predictions stay in one partition
 * and in order. Consumers refuse a `message_version` they do not know (as a poison message, never silently).
 * Pure module: no Kafka client here.
 */
export const PREDICTIONS_TOPIC = 'network_predictions';
export const PREDICTION_MESSAGE_VERSION = 1;
export const PREDICTION_MESSAGE_TYPE = 'ccf.prediction';

/** Where the scored flow came from, when the producer knows it (captures; absent for API calls). */
export const captureContextSchema = z
  .object({
    s3_key: z.string().min(1).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .strict();
export type CaptureContext = z.infer<typeof captureContextSchema>;

export const predictionMessageSchema = z
  .object({
    type: z.literal(PREDICTION_MESSAGE_TYPE),
    message_version: z.literal(PREDICTION_MESSAGE_VERSION),
    /** ISO-8601 time the producer sent the message. */
    published_at: z.string().datetime({ offset: true }),
    prediction: predictionSchema,
    capture: captureContextSchema.optional(),
  })
  .strict();
export type PredictionMessage = z.infer<typeof predictionMessageSchema>;

/** A Kafka value that is not a prediction message we understand (bad JSON, wrong schema, unknown version). */
export class PoisonMessageError extends CcfError {
  readonly code = 'POISON_MESSAGE';
}

/** The message key: capture id, or 'api' for records scored through the API. */
export function predictionMessageKey(prediction: Prediction): string {
  return prediction.capture_id;
}

export function buildPredictionMessage(
  prediction: Prediction,
  publishedAt: Date,
  capture?: CaptureContext,
): PredictionMessage {
  const message: PredictionMessage = {
    type: PREDICTION_MESSAGE_TYPE,
    message_version: PREDICTION_MESSAGE_VERSION,
    published_at: publishedAt.toISOString(),
    prediction,
  };
  if (capture && (capture.s3_key !== undefined || capture.sha256 !== undefined)) message.capture = capture;
  return message;
}

/** Serialises after validating, so a producer can never put a value on the topic that consumers would refuse. */
export function encodePredictionMessage(message: PredictionMessage): string {
  const checked = predictionMessageSchema.safeParse(message);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new PoisonMessageError(`Refusing to publish an invalid prediction message: ${issue?.message}`, {
      field: issue?.path.join('.') ?? '',
      prediction_id: message.prediction?.prediction_id,
    });
  }
  return JSON.stringify(checked.data);
}

/** Parses a Kafka value (bytes or text); throws `PoisonMessageError` naming what is wrong. */
export function decodePredictionMessage(value: Uint8Array | string): PredictionMessage {
  const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PoisonMessageError('Kafka value is not valid JSON', { reason: 'json' }, { cause: error });
  }
  const result = predictionMessageSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PoisonMessageError(
      `Kafka value is not a ccf.prediction v${PREDICTION_MESSAGE_VERSION} message: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { reason: 'schema', field: issue?.path.join('.') ?? '' },
    );
  }
  return result.data;
}
