import { DependencyError, ValidationError } from '../platform/errors.js';
import type {
  CaptureRepository,
  CaptureStore,
  Clock,
  PartProgress,
  PredictionPublisher,
  PredictionRepository,
  PublishResult,
  ScoredPart,
  ScoreSummary,
} from '../platform/ports.js';
import { PREDICTION_PAGE_SIZE } from '../platform/prediction-pages.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../records/prediction.js';
import { mergeUnacknowledged } from '../records/prediction-message.js';
import { flowPredictionId, parseFeaturePartKey } from './capture-keys.js';
import { errorInfo } from './error-info.js';
import { FeatureRowReader, lineAt, lineBlocks } from './feature-rows.js';
import {
  csvFields,
  type FlowRecordInput,
  featuresHeaderSchema,
  flowRecordFromCsv,
} from './flow-record-schema.js';
import type { PredictionScorer, RecordScore } from './scoring.js';

export interface ScoreDependencies {
  store: CaptureStore;
  captures: CaptureRepository;
  predictions: PredictionRepository;
  publisher: PredictionPublisher;
  scorer: PredictionScorer;
  clock: Clock;
  batchSize: number;
  /** How long the last part's scorer waits for parse-capture's PARSED write. */
  parsedWaitS: number;
  sleep?: (ms: number) => Promise<void>;
}

export type ScoreOutcome =
  | { outcome: 'scored'; captureId: string; summary: ScoreSummary; publish: PublishResult }
  | { outcome: 'part'; captureId: string; firstFlow: number }
  | { outcome: 'skipped'; captureId: string | undefined; reason: string };

/** Page-group writes in flight while scoring goes on. */
const WRITES_IN_FLIGHT = 3;

type RowScorer = NonNullable<PredictionScorer['scoreFeatureRows']>;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * score-flows, once per features part (features/{id}/{first flow}.csv, see feature-parts.ts): read the part as
 * a stream, score its flows in batches, store the predictions (deterministic ids `${captureId}:${flow index}`
 * and pages, so a redelivered event rewrites nothing), publish them, and record the part on the capture. Parts
 * are scored while the capture is still being parsed; the capture becomes SCORED, with the summary of all its
 * parts, when the last of them is recorded after PARSED (whichever part that is: see `completeIfScored`).
 */
export async function scoreCapture(deps: ScoreDependencies, objectKey: string): Promise<ScoreOutcome> {
  const part = parseFeaturePartKey(objectKey);
  if (!part) return { outcome: 'skipped', captureId: undefined, reason: `not a features part: ${objectKey}` };
  const { captureId } = part;
  const sleep = deps.sleep ?? defaultSleep;

  const before = await deps.captures.partProgress(captureId);
  if (!before) return { outcome: 'skipped', captureId, reason: 'unknown capture' };
  if (before.status === 'SCORED' || before.status === 'FAILED')
    return { outcome: 'skipped', captureId, reason: `capture is ${before.status}` };

  let progress: PartProgress | undefined = before;
  // A redelivered part already recorded is not scored again (its pages exist); it may still complete the capture.
  if (!before.parts.some((p) => p.firstFlow === part.firstFlow)) {
    let scored: ScoredPart;
    try {
      scored = await scorePart(deps, objectKey, part.firstFlow, captureId);
    } catch (error) {
      const info = errorInfo('score', error);
      if (info.code === 'INTERNAL' || info.code === 'DEPENDENCY') throw error;
      await deps.captures.markFailed(captureId, info, null);
      return { outcome: 'skipped', captureId, reason: `failed: ${info.message}` };
    }
    progress = await deps.captures.recordScoredPart(captureId, scored);
    if (!progress) return { outcome: 'skipped', captureId, reason: 'capture failed or scored meanwhile' };
  }
  if (part.last && progress.status === 'PENDING') {
    // The last part's event can arrive before parse-capture's PARSED write lands (it follows the upload).
    progress = await waitForParsed(deps, captureId, sleep);
  }
  const completed = await completeIfScored(deps, captureId, progress);
  if (completed) return { outcome: 'scored', captureId, ...completed };
  return { outcome: 'part', captureId, firstFlow: part.firstFlow };
}

/** Scores one part's flows, stores and publishes their predictions; the part's counts. */
async function scorePart(
  deps: ScoreDependencies,
  objectKey: string,
  firstFlow: number,
  captureId: string,
): Promise<ScoredPart> {
  const startedMs = deps.clock.now().getTime();
  const object = await deps.store.getObject(objectKey);
  const scored: ScoredPart = {
    firstFlow,
    predictions: 0,
    byVerdict: {},
    byLabel: {},
    modelVersions: [],
    startedMs,
    finishedMs: 0,
    publish: { status: 'published', published: 0, failed: 0 },
  };
  const versions = new Set<string>();
  let batch: FlowRecordInput[] = [];
  let flowIndex = firstFlow - 1;
  const writes: Promise<void>[] = [];
  // One time per part (its start): its pages then sort as one block in history and never span a day (a part
  // holds whole pages). A redelivery keeps the pages already stored as they were (conditional put).
  const scoredAt = new Date(startedMs).toISOString();
  // Predictions not yet written: pages are written whole (PREDICTION_PAGE_SIZE), the last one at the end.
  let unwritten: Prediction[] = [];
  // The features CSV line of each scored flow, stored as the prediction's input as it is (see pages).
  let batchLines: string[] = [];
  let unwrittenLines: string[] = [];
  let columns: string[] | undefined;
  let rowReader: FeatureRowReader | undefined;

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
      scored.byVerdict[score.verdict] = (scored.byVerdict[score.verdict] ?? 0) + 1;
      scored.byLabel[score.label] = (scored.byLabel[score.label] ?? 0) + 1;
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
    scored.predictions += predictions.length;
    unwritten.push(...predictions);
    const whole = last ? unwritten.length : unwritten.length - (unwritten.length % PREDICTION_PAGE_SIZE);
    if (whole === 0) return;
    const writing = unwritten.slice(0, whole);
    unwritten = unwritten.slice(whole);
    const writingLines = unwrittenLines.slice(0, whole);
    unwrittenLines = unwrittenLines.slice(whole);
    const storedColumns = columns ?? [];
    // Storing overlaps scoring: up to WRITES_IN_FLIGHT groups are being written while the next batches
    // are parsed and scored (dynalite or DynamoDB works meanwhile); publishing stays in the part's order.
    while (writes.length >= WRITES_IN_FLIGHT) await writes.shift();
    const previous = writes[writes.length - 1] ?? Promise.resolve();
    const stored = deps.predictions.putCapturePredictions(writing, {
      columns: storedColumns,
      lines: writingLines,
    });
    stored.catch(() => undefined);
    const done = (async () => {
      await stored;
      await previous;
      const published =
        rowReader && deps.publisher.readsCsvInputs === true
          ? await deps.publisher.publish(writing, { columns: storedColumns, lines: writingLines })
          : await deps.publisher.publish(
              rowReader && deps.publisher.readsInputs !== false
                ? writing.map((p, i) => ({
                    ...p,
                    input: flowRecordFromCsv(storedColumns, writingLines[i] as string, 0),
                  }))
                : writing,
            );
      mergePublish(scored.publish, published);
    })();
    done.catch(() => undefined);
    writes.push(done);
  };

  let lineNumber = 0;
  for await (const block of lineBlocks(object.body)) {
    const { bytes, ascii } = block;
    for (let at = 0; at < bytes.length; ) {
      const { start, end, next } = lineAt(bytes, at);
      at = next;
      lineNumber++;
      if (end === start) continue;
      // ASCII blocks (every part parse-capture writes) give one-byte strings without UTF-8 decoding.
      const line = bytes.toString(ascii ? 'latin1' : 'utf8', start, end);
      if (columns === undefined) {
        const header = featuresHeaderSchema.safeParse(csvFields(line));
        if (!header.success)
          throw new ValidationError('features line 1 is not the features CSV header', {
            field: 'features',
            line: 1,
          });
        columns = header.data;
        if (deps.scorer.scoreFeatureRows && deps.scorer.flowLayout)
          rowReader = FeatureRowReader.for(columns, deps.scorer.flowLayout, deps.batchSize);
        continue;
      }
      batchLines.push(line);
      if (rowReader) {
        if (ascii) rowReader.addBytes(bytes, start, end, line, lineNumber);
        else rowReader.add(line, lineNumber);
        if (rowReader.count >= deps.batchSize) await flush(false);
        continue;
      }
      batch.push(flowRecordFromCsv(columns, line, lineNumber));
      if (batch.length >= deps.batchSize) await flush(false);
    }
  }
  await flush(true);
  for (const write of writes) await write;
  scored.modelVersions = [...versions].sort();
  scored.finishedMs = deps.clock.now().getTime();
  return scored;
}

/**
 * PARSED → SCORED once every part is recorded: the parts' flows add up to the flows parse-capture counted
 * (parts are disjoint, and only an empty capture has an empty part). Every part checks after its own write,
 * the last part again after PARSED, and parse-capture after its PARSED write (the last part's scorer may have
 * given up waiting for it), so whichever write lands last completes the capture; the transition is
 * conditional, so two completing at once store one summary.
 */
export async function completeIfScored(
  deps: { captures: Pick<CaptureRepository, 'markScored'>; clock: Clock },
  captureId: string,
  progress: PartProgress,
): Promise<{ summary: ScoreSummary; publish: PublishResult } | undefined> {
  if (progress.status !== 'PARSED' || progress.flows === null) return undefined;
  let flows = 0;
  for (const p of progress.parts) flows += p.predictions;
  if (flows !== progress.flows) return undefined;
  const summary: ScoreSummary = { predictions: 0, byVerdict: {}, byLabel: {}, modelVersions: [], scoreMs: 0 };
  const publish: PublishResult = { status: 'published', published: 0, failed: 0 };
  const versions = new Set<string>();
  let startedMs = Number.POSITIVE_INFINITY;
  for (const p of progress.parts) {
    summary.predictions += p.predictions;
    for (const [verdict, n] of Object.entries(p.byVerdict))
      summary.byVerdict[verdict] = (summary.byVerdict[verdict] ?? 0) + n;
    for (const [label, n] of Object.entries(p.byLabel))
      summary.byLabel[label] = (summary.byLabel[label] ?? 0) + n;
    for (const version of p.modelVersions) versions.add(version);
    startedMs = Math.min(startedMs, p.startedMs);
    mergePublish(publish, p.publish);
  }
  summary.modelVersions = [...versions].sort();
  // From the first part's start to now: scoring overlaps parsing, so this is not added to parseMs.
  summary.scoreMs = Number.isFinite(startedMs) ? deps.clock.now().getTime() - startedMs : 0;
  if (summary.predictions === 0 && publish.status !== 'not_configured') publish.status = 'published';
  if (!(await deps.captures.markScored(captureId, summary, publish))) return undefined;
  return { summary, publish };
}

async function waitForParsed(
  deps: ScoreDependencies,
  captureId: string,
  sleep: (ms: number) => Promise<void>,
): Promise<PartProgress> {
  const deadline = deps.clock.now().getTime() + deps.parsedWaitS * 1000;
  let delayMs = 20;
  for (;;) {
    const progress = await deps.captures.partProgress(captureId);
    if (!progress) throw new DependencyError(`Capture ${captureId} disappeared`, { dependency: 'dynamodb' });
    if (progress.status !== 'PENDING') return progress;
    if (deps.clock.now().getTime() >= deadline) {
      throw new DependencyError(`Capture ${captureId} is still not PARSED after ${deps.parsedWaitS} s`, {
        dependency: 'dynamodb',
        captureId,
      });
    }
    await sleep(delayMs);
    delayMs = Math.min(500, delayMs * 2);
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
