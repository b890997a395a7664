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

type PredictionInput = Prediction['input'];

/**
 * Whether `value` is what `predictionSchema.shape.input` accepts: a plain object whose values are strings, finite
 * numbers (zod 4's `z.number()` refuses NaN and ±Infinity), booleans or null. Checked with one loop because the
 * zod record-of-union costs ~37 µs for a flow's ~90 columns, 80% of validating the whole message, and every
 * prediction is validated twice (publisher, then index-flows): ~6 s of CPU for a 87k-flow capture on the same
 * thread as scoring. `test/integration/streaming/records.test.ts` pins the equivalence with the zod schema.
 */
export function isPredictionInput(value: unknown): value is PredictionInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const field: unknown = (value as Record<string, unknown>)[key];
    switch (typeof field) {
      case 'string':
      case 'boolean':
        break;
      case 'number':
        if (!Number.isFinite(field)) return false;
        break;
      default:
        if (field !== null) return false;
    }
  }
  return true;
}

const predictionInputSchema = z.custom<PredictionInput>(isPredictionInput, {
  message: 'expected an object of string, finite number, boolean or null values',
});

/** `predictionSchema` with the same rules, its `input` checked by `isPredictionInput` (faster, same verdicts). */
const messagePredictionSchema = predictionSchema.extend({ input: predictionInputSchema });

export const predictionMessageSchema = z
  .object({
    type: z.literal(PREDICTION_MESSAGE_TYPE),
    message_version: z.literal(PREDICTION_MESSAGE_VERSION),
    /** ISO-8601 time the producer sent the message. */
    published_at: z.string().datetime({ offset: true }),
    prediction: messagePredictionSchema,
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

// ---------------------------------------------------------------- what Kafka did not acknowledge

/**
 * The flow predictions of one capture that Kafka did not acknowledge, as inclusive `[first, last]` ranges of flow
 * indexes (a capture's prediction ids are `${captureId}:${flow index}`), ascending and disjoint. A capture's
 * publish calls follow its flows in order and a failed call fails the rest of itself, so an outage yields a few
 * long ranges, never a scatter: the capture record stays small however many flows failed.
 */
export interface UnacknowledgedFlows {
  ranges: [number, number][];
  /**
   * false when neighbouring ranges were joined to stay within `MAX_UNACKNOWLEDGED_RANGES`: the ranges then also
   * cover some acknowledged flows, which a retry publishes again (OpenSearch keeps one document per prediction id).
   */
  exact: boolean;
}

/** Bound on the ranges kept on a capture record (~20 bytes each in DynamoDB, far below the 400 KB item limit). */
export const MAX_UNACKNOWLEDGED_RANGES = 256;

export const unacknowledgedFlowsSchema = z.object({
  ranges: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])),
  exact: z.boolean(),
});

/** The flow index of a capture prediction id (`…:000000042` → 42); undefined for other ids (API predictions). */
export function flowIndexOfPredictionId(predictionId: string): number | undefined {
  const match = /:(\d{1,15})$/.exec(predictionId);
  if (!match?.[1]) return undefined;
  const index = Number(match[1]);
  return index > 0 ? index : undefined;
}

/** Sorts, joins touching/overlapping ranges, then joins across the smallest gaps until at most `max` remain. */
export function normalizeUnacknowledged(
  ranges: readonly (readonly [number, number])[],
  exact = true,
  max = MAX_UNACKNOWLEDGED_RANGES,
): UnacknowledgedFlows {
  const sorted = ranges.map(([a, b]): [number, number] => [a, b]).sort((x, y) => x[0] - y[0]);
  const joined: [number, number][] = [];
  for (const range of sorted) {
    const last = joined[joined.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else joined.push(range);
  }
  let isExact = exact;
  while (joined.length > Math.max(1, max)) {
    let smallest = 0;
    for (let i = 1; i < joined.length - 1; i++) {
      const gap = (joined[i + 1]?.[0] ?? 0) - (joined[i]?.[1] ?? 0);
      const best = (joined[smallest + 1]?.[0] ?? 0) - (joined[smallest]?.[1] ?? 0);
      if (gap < best) smallest = i;
    }
    const left = joined[smallest];
    const right = joined[smallest + 1];
    if (!left || !right) break;
    left[1] = right[1];
    joined.splice(smallest + 1, 1);
    isExact = false;
  }
  return { ranges: joined, exact: isExact };
}

/** The ranges of a set of prediction ids (ids without a flow index are left out: they have no capture record). */
export function unacknowledgedOf(predictionIds: readonly string[]): UnacknowledgedFlows | undefined {
  const ranges: [number, number][] = [];
  for (const id of predictionIds) {
    const index = flowIndexOfPredictionId(id);
    if (index !== undefined) ranges.push([index, index]);
  }
  return ranges.length > 0 ? normalizeUnacknowledged(ranges) : undefined;
}

/** Union of two sets (either may be absent). */
export function mergeUnacknowledged(
  a: UnacknowledgedFlows | undefined,
  b: UnacknowledgedFlows | undefined,
): UnacknowledgedFlows | undefined {
  if (!a) return b;
  if (!b) return a;
  return normalizeUnacknowledged([...a.ranges, ...b.ranges], a.exact && b.exact);
}

/** Number of flows the ranges cover. */
export function unacknowledgedCount(set: UnacknowledgedFlows | undefined): number {
  return (set?.ranges ?? []).reduce((sum, [a, b]) => sum + (b - a + 1), 0);
}

/** Whether a flow index is in the set (binary search over the sorted ranges). */
export function isUnacknowledged(set: UnacknowledgedFlows, flowIndex: number): boolean {
  let lo = 0;
  let hi = set.ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = set.ranges[mid];
    if (!range) return false;
    if (flowIndex < range[0]) hi = mid - 1;
    else if (flowIndex > range[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The ranges of `a` not in `b` (both sorted and disjoint). */
export function subtractRanges(
  a: readonly (readonly [number, number])[],
  b: readonly (readonly [number, number])[],
): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (const [first, last] of a) {
    let start = first;
    while (j < b.length && (b[j]?.[1] ?? 0) < start) j++;
    let k = j;
    while (start <= last) {
      const cut = b[k];
      if (!cut || cut[0] > last) {
        out.push([start, last]);
        break;
      }
      if (cut[0] > start) out.push([start, cut[0] - 1]);
      start = Math.max(start, cut[1] + 1);
      k++;
    }
  }
  return out;
}
