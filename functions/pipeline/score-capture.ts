import {
  FLOW_CONTEXT_COLUMNS,
  FLOW_CONTEXT_INPUT_COLUMNS,
  type FlowContextInput,
} from '../flows/flow-context.js';
import { DependencyError, ValidationError } from '../platform/errors.js';
import type {
  CaptureRepository,
  CaptureStore,
  Clock,
  PredictionPublisher,
  PredictionRepository,
  PublishResult,
  ScoreSummary,
} from '../platform/ports.js';
import { PREDICTION_PAGE_SIZE } from '../platform/prediction-pages.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../records/prediction.js';
import { mergeUnacknowledged } from '../records/prediction-message.js';
import { captureIdOfFeaturesKey, flowPredictionId } from './capture-keys.js';
import { errorInfo } from './error-info.js';
import {
  badField,
  csvFields,
  type FlowRecordInput,
  featuresHeaderSchema,
  fieldCountError,
  flowColumnKind,
  flowRecordFromCsv,
  isExpiryReason,
} from './flow-record-schema.js';
import type { FlowContextSource, FlowRowLayout, PredictionScorer, RecordScore } from './scoring.js';

export interface ScoreDependencies {
  store: CaptureStore;
  captures: CaptureRepository;
  predictions: PredictionRepository;
  publisher: PredictionPublisher;
  scorer: PredictionScorer;
  clock: Clock;
  batchSize: number;
  claimLeaseS: number;
  /** How long to wait for parse-capture's PARSED write after features/ appeared. */
  parsedWaitS: number;
  sleep?: (ms: number) => Promise<void>;
}

export type ScoreOutcome =
  | { outcome: 'scored'; captureId: string; summary: ScoreSummary; publish: PublishResult }
  | { outcome: 'skipped'; captureId: string | undefined; reason: string };

/** Page-group writes in flight while scoring goes on. */
const WRITES_IN_FLIGHT = 3;

type RowScorer = NonNullable<PredictionScorer['scoreFeatureRows']>;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The lines of a text object, a chunk's worth at a time: one await per input chunk instead of one per line
 * (readline's async iterator cost ~1 µs of promise work per line, plus its line-break regex).
 */
async function* csvLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of body) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      rest = text;
      continue;
    }
    rest = text.slice(end + 1);
    yield text.slice(0, end).split('\n').map(withoutCr);
  }
  const last = rest + decoder.decode();
  if (last !== '') yield [withoutCr(last)];
}

function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The fields the flow context reads, from a features record (text and numbers checked by flowRecordFromCsv). */
function contextInput(record: FlowRecordInput): FlowContextInput {
  return {
    'Src IP': String(record['Src IP']),
    'Dst IP': String(record['Dst IP']),
    'Dst Port': Number(record['Dst Port']),
    Protocol: Number(record.Protocol),
    Timestamp: String(record.Timestamp),
    'Total Bwd packets': Number(record['Total Bwd packets']),
    'Total Length of Fwd Packet': Number(record['Total Length of Fwd Packet']),
    'Total Fwd Packet': Number(record['Total Fwd Packet']),
    'Flow Duration': Number(record['Flow Duration']),
  };
}

/** functions/inference FLOAT32_MAX: the model input policy clamps to it (pipeline does not import inference). */
const FLOAT32_MAX = 3.4028234663852886e38;

const KIND_NUMBER = 0;
const KIND_TEXT = 1;
const KIND_EXPIRY = 2;

const CONTEXT_INPUT_COLUMNS = FLOW_CONTEXT_INPUT_COLUMNS;

/** `fillRows`' numeric policy for a number: in range as is, non-finite → 0, beyond float32 → clamped. */
function modelValue(value: number): number {
  if (value <= FLOAT32_MAX && value >= -FLOAT32_MAX) return value;
  return Number.isFinite(value) ? (value > 0 ? FLOAT32_MAX : -FLOAT32_MAX) : 0;
}

/**
 * Reads features lines straight into model rows (the scorer's `scoreFeatureRows`), checking every field as
 * `flowRecordFromCsv` does: no per-flow object with ~110 properties, which kept ~2.5 s of an 87k-flow
 * capture in the garbage collector (each record lived until its page was written).
 */
class FeatureRowReader {
  readonly rows: Float32Array;
  count = 0;
  readonly #columns: readonly string[];
  readonly #width: number;
  readonly #kinds: Uint8Array;
  /** Model column of each CSV column, -1 when the models do not read it. */
  readonly #slots: Int32Array;
  readonly #contextSlots: Int32Array;
  readonly #inputAt: Record<(typeof CONTEXT_INPUT_COLUMNS)[number], number>;

  private constructor(
    columns: readonly string[],
    layout: FlowRowLayout,
    capacity: number,
    inputAt: Record<(typeof CONTEXT_INPUT_COLUMNS)[number], number>,
  ) {
    this.#columns = columns;
    this.#width = layout.features.length;
    this.rows = new Float32Array(capacity * this.#width);
    // Optional features the header lacks keep the absent value in every row (their slots are never written).
    this.rows.fill(layout.absentValue);
    this.#kinds = Uint8Array.from(columns, (c) => {
      const kind = flowColumnKind(c);
      return kind === 'number' ? KIND_NUMBER : kind === 'text' ? KIND_TEXT : KIND_EXPIRY;
    });
    this.#slots = Int32Array.from(columns, (c) => layout.features.indexOf(c));
    this.#contextSlots = Int32Array.from(FLOW_CONTEXT_COLUMNS, (c) => layout.features.indexOf(c));
    this.#inputAt = inputAt;
  }

  /**
   * A reader when the plain path would give the same rows: every required feature present and numeric, and
   * every column the context reads present. Otherwise undefined (records are built, and errors named, as before).
   */
  static for(
    columns: readonly string[],
    layout: FlowRowLayout,
    capacity: number,
  ): FeatureRowReader | undefined {
    const known = new Set<string>([...columns, ...FLOW_CONTEXT_COLUMNS]);
    for (const name of layout.features) {
      if (!known.has(name) && layout.required.has(name)) return undefined;
      if (columns.includes(name) && flowColumnKind(name) !== 'number') return undefined;
    }
    const inputAt = {} as Record<(typeof CONTEXT_INPUT_COLUMNS)[number], number>;
    for (const name of CONTEXT_INPUT_COLUMNS) {
      const at = columns.indexOf(name);
      if (at < 0) return undefined;
      inputAt[name] = at;
    }
    return new FeatureRowReader(columns, layout, capacity, inputAt);
  }

  /** Adds one line as the next row; returns the line with its context columns appended (the stored input). */
  add(line: string, lineNumber: number, context: FlowContextSource): string {
    const fields = csvFields(line);
    const columns = this.#columns;
    if (fields.length !== columns.length) throw fieldCountError(columns.length, fields.length, lineNumber);
    const rows = this.rows;
    const base = this.count * this.#width;
    const kinds = this.#kinds;
    const slots = this.#slots;
    for (let i = 0; i < fields.length; i++) {
      const kind = kinds[i];
      const text = fields[i] as string;
      if (kind === KIND_NUMBER) {
        const value = text === '' ? Number.NaN : Number(text);
        if (!Number.isFinite(value)) throw badField(columns[i] as string, lineNumber);
        const slot = slots[i] as number;
        if (slot >= 0) rows[base + slot] = modelValue(value);
      } else if (kind === KIND_EXPIRY && !isExpiryReason(text)) {
        throw badField(columns[i] as string, lineNumber);
      }
    }
    const at = this.#inputAt;
    const features = context.next({
      'Src IP': fields[at['Src IP']] as string,
      'Dst IP': fields[at['Dst IP']] as string,
      'Dst Port': Number(fields[at['Dst Port']]),
      Protocol: Number(fields[at.Protocol]),
      Timestamp: fields[at.Timestamp] as string,
      'Total Bwd packets': Number(fields[at['Total Bwd packets']]),
      'Total Length of Fwd Packet': Number(fields[at['Total Length of Fwd Packet']]),
      'Total Fwd Packet': Number(fields[at['Total Fwd Packet']]),
      'Flow Duration': Number(fields[at['Flow Duration']]),
    });
    let withContext = line;
    for (let k = 0; k < FLOW_CONTEXT_COLUMNS.length; k++) {
      const value = features[FLOW_CONTEXT_COLUMNS[k] as (typeof FLOW_CONTEXT_COLUMNS)[number]];
      const slot = this.#contextSlots[k] as number;
      if (slot >= 0) rows[base + slot] = modelValue(value);
      withContext += `,${value}`;
    }
    this.count++;
    return withContext;
  }
}

/**
 * score-flows: read features/{id}.csv (the flow CSV) as a stream, score flows in batches, store the predictions
 * (deterministic ids `${captureId}:${flow index}` → a redelivered event rewrites the same items, never
 * adds), publish them, and record SCORED with a summary by verdict and label.
 */
export async function scoreCapture(deps: ScoreDependencies, objectKey: string): Promise<ScoreOutcome> {
  const captureId = captureIdOfFeaturesKey(objectKey);
  if (!captureId) return { outcome: 'skipped', captureId, reason: `not a features object: ${objectKey}` };
  const sleep = deps.sleep ?? defaultSleep;

  const claimed = await claimWhenParsed(deps, captureId, sleep);
  if (claimed !== true) return { outcome: 'skipped', captureId, reason: claimed };

  const started = deps.clock.now().getTime();
  try {
    const object = await deps.store.getObject(objectKey);
    const lines = csvLines(object.body);
    const summary: ScoreSummary = {
      predictions: 0,
      byVerdict: {},
      byLabel: {},
      modelVersions: [],
      scoreMs: 0,
    };
    const publishTotals: PublishResult = { status: 'published', published: 0, failed: 0 };
    const versions = new Set<string>();
    let batch: FlowRecordInput[] = [];
    let flowIndex = 0;
    const writes: Promise<void>[] = [];
    // One time for the whole capture: its pages then sort as one block in history and never span a day.
    const scoredAt = deps.clock.now().toISOString();
    // Predictions not yet written: pages are written whole (PREDICTION_PAGE_SIZE), the last one at the end.
    let unwritten: Prediction[] = [];
    // The features CSV line of each scored flow, stored as the prediction's input as it is (see pages).
    let batchLines: string[] = [];
    let unwrittenLines: string[] = [];

    const flush = async (last: boolean) => {
      const records = batch;
      batch = [];
      const lineCount = batchLines.length;
      unwrittenLines.push(...batchLines);
      batchLines = [];
      let scores: readonly RecordScore[] = [];
      if (rowReader && rowReader.count > 0) {
        scores = await (deps.scorer.scoreFeatureRows as RowScorer)(rowReader.rows, rowReader.count);
        rowReader.count = 0;
      } else if (records.length > 0) {
        scores = await deps.scorer.scoreFlows(records);
      }
      const predictions: Prediction[] = new Array(rowReader ? lineCount : records.length);
      for (let i = 0; i < predictions.length; i++) {
        const score = scores[i];
        if (!score)
          throw new DependencyError('Scorer returned fewer scores than records', { dependency: 'scorer' });
        flowIndex++;
        summary.byVerdict[score.verdict] = (summary.byVerdict[score.verdict] ?? 0) + 1;
        summary.byLabel[score.label] = (summary.byLabel[score.label] ?? 0) + 1;
        versions.add(score.model_version);
        predictions[i] = {
          schema_version: PREDICTION_SCHEMA_VERSION,
          prediction_id: flowPredictionId(captureId, flowIndex),
          capture_id: captureId,
          kind: 'flow',
          scored_at: scoredAt,
          label: score.label,
          probability: score.probability,
          anomaly_score: score.anomaly_score,
          verdict: score.verdict,
          decided_by: score.decided_by,
          model_version: score.model_version,
          // A fresh object per line (flowRecordFromCsv), so it is kept as the prediction's input as is. Rows
          // read straight from text have none: the page stores the line, and publishing rebuilds the input.
          input: records[i] ?? {},
        };
      }
      summary.predictions += predictions.length;
      unwritten.push(...predictions);
      const whole = last ? unwritten.length : unwritten.length - (unwritten.length % PREDICTION_PAGE_SIZE);
      if (whole === 0) return;
      const writing = unwritten.slice(0, whole);
      unwritten = unwritten.slice(whole);
      const writingLines = unwrittenLines.slice(0, whole);
      unwrittenLines = unwrittenLines.slice(whole);
      // Storing overlaps scoring: up to WRITES_IN_FLIGHT groups are being written while the next batches
      // are parsed and scored (dynalite or DynamoDB works meanwhile); publishing stays in capture order.
      while (writes.length >= WRITES_IN_FLIGHT) await writes.shift();
      const previous = writes[writes.length - 1] ?? Promise.resolve();
      const stored = deps.predictions.putCapturePredictions(
        writing,
        columns ? { columns: storedColumns, lines: writingLines } : undefined,
      );
      stored.catch(() => undefined);
      const done = (async () => {
        await stored;
        await previous;
        const published = await deps.publisher.publish(
          rowReader && deps.publisher.readsInputs !== false
            ? writing.map((p, i) => ({
                ...p,
                input: flowRecordFromCsv(storedColumns, writingLines[i] as string, 0),
              }))
            : writing,
        );
        mergePublish(publishTotals, published);
      })();
      done.catch(() => undefined);
      writes.push(done);
    };

    let columns: string[] | undefined;
    let rowReader: FeatureRowReader | undefined;
    let storedColumns: string[] = [];
    const context = deps.scorer.newFlowContext?.();
    let lineNumber = 0;
    for await (const chunk of lines) {
      for (const line of chunk) {
        lineNumber++;
        if (line === '') continue;
        if (columns === undefined) {
          const header = featuresHeaderSchema.safeParse(csvFields(line));
          if (!header.success)
            throw new ValidationError('features line 1 is not the flow CSV header', {
              field: 'features',
              line: 1,
            });
          columns = header.data;
          storedColumns = context ? [...columns, ...FLOW_CONTEXT_COLUMNS] : columns;
          if (context && deps.scorer.scoreFeatureRows && deps.scorer.flowLayout)
            rowReader = FeatureRowReader.for(columns, deps.scorer.flowLayout, deps.batchSize);
          continue;
        }
        if (rowReader && context) {
          batchLines.push(rowReader.add(line, lineNumber, context));
          if (rowReader.count >= deps.batchSize) await flush(false);
          continue;
        }
        const record = flowRecordFromCsv(columns, line, lineNumber);
        if (context) {
          // Context columns, computed in emission order (the features file's order), as `ccf analyze` does:
          // the models score a capture's flows with them. They are stored with the input too.
          const features = context.next(contextInput(record));
          let withContext = line;
          for (const column of FLOW_CONTEXT_COLUMNS) {
            record[column] = features[column];
            withContext += `,${features[column]}`;
          }
          batchLines.push(withContext);
        } else {
          batchLines.push(line);
        }
        batch.push(record);
        if (batch.length >= deps.batchSize) await flush(false);
      }
    }
    await flush(true);
    for (const write of writes) await write;
    summary.modelVersions = [...versions].sort();
    summary.scoreMs = deps.clock.now().getTime() - started;
    if (summary.predictions === 0)
      publishTotals.status = publishTotals.status === 'not_configured' ? 'not_configured' : 'published';
    await deps.captures.markScored(captureId, summary, publishTotals);
    return { outcome: 'scored', captureId, summary, publish: publishTotals };
  } catch (error) {
    const info = errorInfo('score', error);
    if (info.code === 'INTERNAL' || info.code === 'DEPENDENCY') throw error;
    await deps.captures.markFailed(captureId, info, null);
    return { outcome: 'skipped', captureId, reason: `failed: ${info.message}` };
  }
}

async function claimWhenParsed(
  deps: ScoreDependencies,
  captureId: string,
  sleep: (ms: number) => Promise<void>,
): Promise<true | string> {
  const deadline = deps.clock.now().getTime() + deps.parsedWaitS * 1000;
  let delayMs = 50;
  let sawParsed = false;
  for (;;) {
    const nowMs = deps.clock.now().getTime();
    if (await deps.captures.claim(captureId, 'score', nowMs, deps.claimLeaseS)) return true;
    const capture = await deps.captures.get(captureId);
    if (!capture) return 'unknown capture';
    if (capture.status === 'PARSED' && !sawParsed) {
      // PARSED landed between the claim and the read: claim again (a second refusal means another owner).
      sawParsed = true;
      continue;
    }
    if (capture.status !== 'PENDING')
      return `capture is ${capture.status} (already scored, failed or being scored)`;
    if (nowMs >= deadline) {
      throw new DependencyError(`Capture ${captureId} is still not PARSED after ${deps.parsedWaitS} s`, {
        dependency: 'dynamodb',
        captureId,
      });
    }
    await sleep(delayMs);
    delayMs = Math.min(1000, delayMs * 2);
  }
}

function mergePublish(total: PublishResult, part: PublishResult): void {
  total.published += part.published;
  total.failed += part.failed;
  // The capture record names the flows Kafka did not acknowledge, so the retry path republishes exactly those.
  const unacknowledged = mergeUnacknowledged(total.unacknowledged, part.unacknowledged);
  if (unacknowledged) total.unacknowledged = unacknowledged;
  if (part.status === 'not_configured') {
    total.status = 'not_configured';
    total.message = part.message;
    return;
  }
  if (part.failed > 0) {
    total.status = total.published > 0 ? 'partial' : 'failed';
    total.message = part.message ?? total.message;
  } else if (total.status === 'failed' && total.published > 0) {
    total.status = 'partial';
  }
}
