import { z } from 'zod';
import { FLOW_CSV_COLUMNS } from '../flows/flow-columns.js';
import { FLOW_CONTEXT_COLUMNS } from '../flows/flow-context.js';
import { CcfError } from '../platform/errors.js';
import { type Prediction, predictionSchema } from './prediction.js';

/**
 * The value of a Kafka message on topic `network_predictions`: one prediction in a versioned JSON envelope.
 * Key = the capture id (or `api` for POST /api/predict), so one capture's predictions stay in one partition
 * and in order. Consumers refuse a `message_version` they do not know (as a poison message, never silently).
 * Pure module: no Kafka client here.
 *
 * Wire versions (consumers read both; producers write 2):
 * - 1: `prediction.input` spelled out as an object keyed by column name (~2.8 KB for a flow: ~2.3 KB of it
 *   the 109 column names, repeated in every message).
 * - 2: the same envelope, but when the input's columns are exactly a registered column list
 *   (`INPUT_COLUMN_LISTS`, e.g. a capture flow's features line), `prediction` carries no `input` and the
 *   message carries `input_columns` (the list's name) and `input_values` (the values in that order): ~0.8 KB.
 *   Any other input (API records, a column list not registered yet) keeps `prediction.input` as in v1.
 *   Decoding gives back the same `PredictionMessage` either way. The size was the cost: every byte is
 *   serialised, CRC-32C'd by kafkajs in JavaScript, written and replicated by the broker, fetched, base64'd
 *   into the MSK event shape and parsed again, on the same two cores that score.
 */
export const PREDICTIONS_TOPIC = 'network_predictions';
/** The version producers write. */
export const PREDICTION_MESSAGE_VERSION = 2;
export const PREDICTION_MESSAGE_TYPE = 'ccf.prediction';

/**
 * Column lists a v2 message may name instead of spelling out its input's keys. An entry never changes once
 * published (messages naming it may sit in the topic for its retention): a new features layout gets a new name,
 * and until it is registered its messages simply carry the input as an object (correct, only larger).
 * `ccf-features-1`: a capture flow's features line (the flow CSV columns + 14 flow-context columns);
 * `test/integration/streaming/records.test.ts` fails when that header no longer matches the newest list.
 */
export const INPUT_COLUMN_LISTS: Readonly<Record<string, readonly string[]>> = {
  // Derived from the live columns so the list is written once; its content is pinned by a SHA-256 in
  // test/integration/streaming/records.test.ts. When the flow or context columns change, that test fails:
  // freeze this entry as a literal list then, and register the new header under a new name.
  'ccf-features-1': Object.freeze([...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS]),
};
/** The list producers use for capture flows (the newest registered features layout). */
export const CURRENT_FEATURES_COLUMNS = 'ccf-features-1';

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
type InputValue = PredictionInput[string];

/** What `predictionSchema.shape.input` accepts as one value: a string, a finite number, a boolean or null. */
function isInputValue(field: unknown): field is InputValue {
  switch (typeof field) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // zod 4's `z.number()` refuses NaN and ±Infinity.
      return Number.isFinite(field);
    default:
      return field === null;
  }
}

/**
 * Whether `value` is what `predictionSchema.shape.input` accepts: a plain object whose values are strings, finite
 * numbers, booleans or null. Checked with one loop because the zod record-of-union costs ~37 µs for a flow's ~110
 * columns, 80% of validating the whole message, and every prediction is validated twice (publisher, then
 * index-flows) on the same thread as scoring. `test/integration/streaming/records.test.ts` pins the
 * equivalence with the zod schema.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function isPredictionInput(value: unknown): value is PredictionInput {
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!isInputValue((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

const predictionInputSchema = z.custom<PredictionInput>(isPredictionInput, {
  message: 'expected an object of string, finite number, boolean or null values',
});

/** `predictionSchema` with the same rules, its `input` checked by `isPredictionInput` (faster, same verdicts). */
const messagePredictionSchema = predictionSchema.extend({ input: predictionInputSchema });

/** The decoded message, whatever wire version carried it (v2's compact input is expanded back to an object). */
export const predictionMessageSchema = z
  .object({
    type: z.literal(PREDICTION_MESSAGE_TYPE),
    message_version: z.union([z.literal(1), z.literal(PREDICTION_MESSAGE_VERSION)]),
    /** ISO-8601 time the producer sent the message. */
    published_at: z.string().datetime({ offset: true }),
    prediction: messagePredictionSchema,
    capture: captureContextSchema.optional(),
  })
  .strict();
export type PredictionMessage = z.infer<typeof predictionMessageSchema>;

const v1WireSchema = predictionMessageSchema.extend({ message_version: z.literal(1) });

const inputValuesSchema = z.custom<InputValue[]>(
  (value) => Array.isArray(value) && value.every(isInputValue),
  { message: 'expected an array of string, finite number, boolean or null values' },
);

/** v2 on the wire: `prediction.input`, or `input_columns` + `input_values` (checked against the list after). */
const v2WireSchema = z
  .object({
    type: z.literal(PREDICTION_MESSAGE_TYPE),
    message_version: z.literal(2),
    published_at: z.string().datetime({ offset: true }),
    prediction: messagePredictionSchema.partial({ input: true }),
    input_columns: z.string().min(1).optional(),
    input_values: inputValuesSchema.optional(),
    capture: captureContextSchema.optional(),
  })
  .strict();

/** v2 envelope fields a producer checks (the input is checked while it is laid out as values). */
const v2EnvelopeSchema = v2WireSchema.extend({ prediction: predictionSchema.omit({ input: true }) }).omit({
  input_values: true,
});

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

/**
 * The input's values in the order of the current features list, when its own keys are exactly that list in
 * that order and every value is valid; undefined otherwise (the input then travels as an object). The keys of a
 * features line's record come in header order, so this is a pointer comparison per column; `Object.values` gives
 * a packed array, which `JSON.stringify` writes ~1.5x faster than one filled index by index.
 */
function compactInput(input: Record<string, unknown>): InputValue[] | undefined {
  const columns = INPUT_COLUMN_LISTS[CURRENT_FEATURES_COLUMNS] as readonly string[];
  const keys = Object.keys(input);
  if (keys.length !== columns.length) return undefined;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== columns[i]) return undefined;
  const values = Object.values(input);
  for (const value of values) if (!isInputValue(value)) return undefined;
  return values as InputValue[];
}

function refuse(issue: z.core.$ZodIssue | undefined, predictionId: string | undefined): PoisonMessageError {
  return new PoisonMessageError(`Refusing to publish an invalid prediction message: ${issue?.message}`, {
    field: issue?.path.join('.') ?? '',
    prediction_id: predictionId,
  });
}

/** Text columns of the features lists (JSON strings on the wire); every other column is a number. */
const TEXT_COLUMNS = new Set(['Flow ID', 'Src IP', 'Dst IP', 'Timestamp', 'community_id', 'expiry_reason']);

/**
 * Turns features CSV lines straight into a v2 message's `input_values` text, when the line's columns are the
 * current features list: numbers are copied as written (a features line spells them as JSON does, and
 * `JSON.parse` reads the same double as `Number`), text is quoted. No object of ~110 properties per flow is built,
 * validated and serialised again. `undefined` for a line it cannot copy safely (quotes, a field count or a
 * number spelt otherwise): the caller then parses that line into an input object.
 */
export class FeaturesLineEncoder {
  readonly #text: boolean[];

  private constructor(columns: readonly string[]) {
    this.#text = columns.map((c) => TEXT_COLUMNS.has(c));
  }

  /** An encoder when `columns` are the current features list, in order; undefined otherwise. */
  static for(columns: readonly string[]): FeaturesLineEncoder | undefined {
    const current = INPUT_COLUMN_LISTS[CURRENT_FEATURES_COLUMNS] as readonly string[];
    if (columns.length !== current.length || columns.some((c, i) => c !== current[i])) return undefined;
    return new FeaturesLineEncoder(columns);
  }

  /** The JSON array of the line's values, or undefined (see the class). */
  values(line: string): string | undefined {
    if (line.includes('"')) return undefined;
    const text = this.#text;
    const last = text.length - 1;
    // Parts joined once into a flat string (a `+=` rope would be held, piece by piece, until the message is sent).
    const json: string[] = ['['];
    // Runs of number fields (with their commas) are copied as one slice once each number is checked in place.
    let run = 0;
    let start = 0;
    for (let i = 0; i <= last; i++) {
      let end = line.indexOf(',', start);
      if (i === last) {
        if (end >= 0) return undefined;
        end = line.length;
      } else if (end < 0) {
        return undefined;
      }
      if (text[i]) {
        json.push(line.slice(run, start), JSON.stringify(line.slice(start, end)));
        run = end;
      } else if (!isJsonNumber(line, start, end)) {
        return undefined;
      }
      start = end + 1;
    }
    json.push(line.slice(run), ']');
    return json.join('');
  }
}

const CHAR_0 = 48;
const CHAR_1 = 49;
const CHAR_9 = 57;
const CHAR_MINUS = 45;
const CHAR_PLUS = 43;
const CHAR_DOT = 46;
const CHAR_E = 69;
const CHAR_LOWER_E = 101;

function digitsFrom(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) break;
    i++;
  }
  return i;
}

/** Whether `text[start, end)` is a JSON number literal (RFC 8259 section 6), checked without a substring. */
function isJsonNumber(text: string, start: number, end: number): boolean {
  let i = start;
  if (i < end && text.charCodeAt(i) === CHAR_MINUS) i++;
  if (i >= end) return false;
  const first = text.charCodeAt(i);
  if (first === CHAR_0) i++;
  else if (first >= CHAR_1 && first <= CHAR_9) i = digitsFrom(text, i + 1, end);
  else return false;
  if (i < end && text.charCodeAt(i) === CHAR_DOT) {
    const digits = i + 1;
    i = digitsFrom(text, digits, end);
    if (i === digits) return false;
  }
  if (i < end) {
    const e = text.charCodeAt(i);
    if (e !== CHAR_E && e !== CHAR_LOWER_E) return false;
    i++;
    const sign = i < end ? text.charCodeAt(i) : 0;
    if (sign === CHAR_PLUS || sign === CHAR_MINUS) i++;
    const digits = i;
    i = digitsFrom(text, digits, end);
    if (i === digits) return false;
  }
  return i === end;
}

/**
 * Serialises as wire version 2 after validating, so a producer can never put a value on the topic that
 * consumers would refuse. A capture flow's input (the current features list, in order) travels as values:
 * taken from the prediction's input, or given as `inputValuesJson` (from `FeaturesLineEncoder`, which checked
 * every value; the prediction's own `input` is then ignored).
 */
export function encodePredictionMessage(message: PredictionMessage, inputValuesJson?: string): string {
  const { input, ...prediction } = message.prediction;
  const values = inputValuesJson === undefined && isPlainObject(input) ? compactInput(input) : undefined;
  const envelope = v2EnvelopeSchema.safeParse({
    type: message.type,
    message_version: PREDICTION_MESSAGE_VERSION,
    published_at: message.published_at,
    prediction,
    ...(values || inputValuesJson !== undefined ? { input_columns: CURRENT_FEATURES_COLUMNS } : {}),
    ...(message.capture ? { capture: message.capture } : {}),
  });
  if (!envelope.success) throw refuse(envelope.error.issues[0], prediction.prediction_id);
  if (inputValuesJson !== undefined)
    return [JSON.stringify(envelope.data).slice(0, -1), ',"input_values":', inputValuesJson, '}'].join('');
  if (values) return JSON.stringify({ ...envelope.data, input_values: values });
  if (!isPredictionInput(input))
    throw refuse(
      { code: 'custom', path: ['prediction', 'input'], message: 'invalid input', input },
      prediction.prediction_id,
    );
  const { capture, ...rest } = envelope.data;
  return JSON.stringify({
    ...rest,
    prediction: { ...envelope.data.prediction, input },
    ...(capture ? { capture } : {}),
  });
}

function poisonSchema(issue: z.core.$ZodIssue | undefined, version: number): PoisonMessageError {
  return new PoisonMessageError(
    `Kafka value is not a ccf.prediction v${version} message: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    { reason: 'schema', field: issue?.path.join('.') ?? '' },
  );
}

/** Parses a Kafka value (bytes or text), wire version 1 or 2; throws `PoisonMessageError` naming what is wrong. */
export function decodePredictionMessage(value: Uint8Array | string): PredictionMessage {
  const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PoisonMessageError('Kafka value is not valid JSON', { reason: 'json' }, { cause: error });
  }
  const version =
    typeof json === 'object' && json !== null && 'message_version' in json ? json.message_version : undefined;
  if (version === 1) {
    const v1 = v1WireSchema.safeParse(json);
    if (!v1.success) throw poisonSchema(v1.error.issues[0], 1);
    return v1.data;
  }
  const v2 = v2WireSchema.safeParse(json);
  if (!v2.success) throw poisonSchema(v2.error.issues[0], PREDICTION_MESSAGE_VERSION);
  const { input_columns: listName, input_values: values, prediction, capture, ...envelope } = v2.data;
  let input = prediction.input;
  if (input === undefined) {
    const columns = listName === undefined ? undefined : INPUT_COLUMN_LISTS[listName];
    if (!columns || !values)
      throw poisonSchema(
        {
          code: 'custom',
          path: ['input_columns'],
          message: `no input and no known column list (${listName})`,
          input: listName,
        },
        PREDICTION_MESSAGE_VERSION,
      );
    if (values.length !== columns.length)
      throw poisonSchema(
        {
          code: 'custom',
          path: ['input_values'],
          message: `${values.length} values for ${columns.length} columns`,
          input: values,
        },
        PREDICTION_MESSAGE_VERSION,
      );
    input = {};
    for (let i = 0; i < columns.length; i++) input[columns[i] as string] = values[i] as InputValue;
  } else if (listName !== undefined || values !== undefined) {
    throw poisonSchema(
      {
        code: 'custom',
        path: ['input_values'],
        message: 'both an input object and input values',
        input: values,
      },
      PREDICTION_MESSAGE_VERSION,
    );
  }
  return { ...envelope, prediction: { ...prediction, input }, ...(capture ? { capture } : {}) };
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
