import type { Readable } from 'node:stream';
import type { Prediction, Verdict } from '../records/prediction.js';
import type { UnacknowledgedFlows } from '../records/prediction-message.js';
import type { CsvInputs } from './prediction-pages.js';

/**
 * The pipeline's side effects, each behind a small interface built once per container and passed in.
 * AWS implementations live next to this file (`s3-capture-store.ts`, `dynamodb-repositories.ts`);
 * the Kafka publisher lives in the streaming code (`kafka-*.ts`).
 */

// ---------------------------------------------------------------- S3

export interface StoredObject {
  /** The object's bytes as they arrive (never buffered whole). */
  body: AsyncIterable<Uint8Array>;
  sizeBytes: number;
  etag: string;
}

export interface PresignedPost {
  url: string;
  /** Form fields to send before the `file` field. */
  fields: Record<string, string>;
}

export interface PresignedPostRequest {
  key: string;
  maxBytes: number;
  contentType: string;
  expiresInS: number;
}

export interface CaptureStore {
  /** Streams an object; `NotFoundError` if it does not exist. */
  getObject(key: string): Promise<StoredObject>;
  /** Writes a stream of unknown length (multipart upload for large bodies). */
  putStream(key: string, body: Readable, contentType: string, contentEncoding?: string): Promise<void>;
  /** Writes a small body in one request. */
  putBytes(key: string, body: Uint8Array, contentType: string): Promise<void>;
  createPresignedPost(request: PresignedPostRequest): Promise<PresignedPost>;
  /** A time-limited GET link (the download name is the key's last segment unless `downloadName` is given). */
  presignGet(key: string, expiresInS: number, downloadName?: string): Promise<string>;
  /** Size of an object, or undefined when it does not exist. */
  headObject(key: string): Promise<{ sizeBytes: number } | undefined>;
}

// ---------------------------------------------------------------- captures

export const CAPTURE_STATUSES = ['PENDING', 'PARSED', 'SCORED', 'FAILED'] as const;
export type CaptureStatus = (typeof CAPTURE_STATUSES)[number];

export type PipelineStage = 'parse' | 'score';

export interface CaptureErrorInfo {
  stage: PipelineStage | 'upload' | 'publish';
  code: string;
  name: string;
  message: string;
  details: Record<string, string | number | boolean | null>;
}

export interface ParseResult {
  format: string;
  gzip: boolean;
  packets: number;
  flows: number;
  bytesRead: number;
  objectBytes: number;
  sha256: string;
  firstPacketAt: string | null;
  lastPacketAt: string | null;
  durationS: number;
  warnings: string[];
  parseMs: number;
  keys: { packets: string; flows: string; features: string };
  /** The reader stopped at damage part-way: what was readable is kept, the capture fails with this error. */
  damage: CaptureErrorInfo | null;
}

export interface ScoreSummary {
  predictions: number;
  byVerdict: Record<string, number>;
  byLabel: Record<string, number>;
  modelVersions: string[];
  scoreMs: number;
}

/** One scored features part (score-flows runs once per part; see functions/pipeline/feature-parts.ts). */
export interface ScoredPart {
  /** 1-based index of the part's first flow: the part's identity within its capture. */
  firstFlow: number;
  predictions: number;
  byVerdict: Record<string, number>;
  byLabel: Record<string, number>;
  modelVersions: string[];
  /** Epoch ms when scoring the part started and when its predictions were stored and published. */
  startedMs: number;
  finishedMs: number;
  publish: PublishResult;
}

/** What score-flows needs to know to complete a capture: its state, flow count once PARSED, scored parts. */
export interface PartProgress {
  status: CaptureStatus;
  /** parse.flows once the capture is PARSED (or later), else null. */
  flows: number | null;
  parts: ScoredPart[];
}

export interface PublishResult {
  /** `not_configured`: no broker set up (nothing attempted); `partial`/`failed`: see `failed` and `message`. */
  status: 'published' | 'partial' | 'failed' | 'not_configured';
  published: number;
  failed: number;
  message?: string;
  /**
   * The capture's flow predictions Kafka did not acknowledge (flow-index ranges, bounded), stored on the capture
   * record; the retry path (`republishCapture`) publishes exactly these. Absent when nothing is missing.
   */
  unacknowledged?: UnacknowledgedFlows;
  /**
   * The API predictions (capture `api`, ids `api:{page}:{slot}`) Kafka did not acknowledge. POST /api/predict
   * records them on their page (`PredictionRepository.recordApiUnpublished`) for the republish sweep. Absent
   * when there are none.
   */
  unacknowledgedApi?: string[];
}

export interface CaptureRecord {
  captureId: string;
  status: CaptureStatus;
  filename: string;
  sizeBytes: number;
  tags: Record<string, string>;
  uploadKey: string;
  createdAt: string;
  updatedAt: string;
  parse: ParseResult | null;
  score: ScoreSummary | null;
  publish: PublishResult | null;
  errors: CaptureErrorInfo[];
}

export interface NewCapture {
  captureId: string;
  filename: string;
  sizeBytes: number;
  tags: Record<string, string>;
  uploadKey: string;
  createdAt: string;
}

export interface CaptureRepository {
  /** Creates a PENDING record; false when a record with this id already exists (nothing written). */
  create(capture: NewCapture): Promise<boolean>;
  get(captureId: string): Promise<CaptureRecord | undefined>;
  /**
   * Takes the stage's claim if the capture is in the stage's input state and no live claim exists
   * (conditional write). False when another delivery owns it or the stage is already done.
   */
  claim(captureId: string, stage: PipelineStage, nowMs: number, leaseS: number): Promise<boolean>;
  /** Gives back the claim taken at `claimedMs` (an attempt that failed and will be retried); no-op otherwise. */
  releaseClaim(captureId: string, stage: PipelineStage, claimedMs: number): Promise<void>;
  markParsed(captureId: string, result: ParseResult): Promise<void>;
  /**
   * Stores a scored features part on the capture (keyed by its first flow, so a redelivery overwrites it with
   * the same counts) unless the capture is FAILED or SCORED; the progress after the write, or undefined when
   * refused or unknown.
   */
  recordScoredPart(captureId: string, part: ScoredPart): Promise<PartProgress | undefined>;
  /** The capture's part progress (consistent read); undefined for an unknown capture. */
  partProgress(captureId: string): Promise<PartProgress | undefined>;
  /** PARSED → SCORED (conditional); false when the capture had left PARSED (another part completed it). */
  markScored(captureId: string, summary: ScoreSummary, publish: PublishResult): Promise<boolean>;
  /** FAILED with the error; keeps what was parsed so far. */
  markFailed(captureId: string, error: CaptureErrorInfo, parse: ParseResult | null): Promise<void>;
  /**
   * Takes the publish-retry lease of a SCORED capture (conditional write), so two retries never publish the same
   * predictions at once. False when another retry holds a live lease.
   */
  claimRepublish(captureId: string, nowMs: number, leaseS: number): Promise<boolean>;
  /** Replaces the capture's publish result after a retry and releases the lease. */
  recordPublish(captureId: string, publish: PublishResult): Promise<void>;
  /**
   * SCORED captures whose last publish result left flows unacknowledged by Kafka (`failed`/`partial`), the
   * longest-waiting first: what the scheduled republish sweep retries.
   */
  capturesAwaitingRepublish(limit: number): Promise<string[]>;
}

// ---------------------------------------------------------------- predictions

export interface HistoryQuery {
  limit: number;
  cursor?: string;
  captureId?: string;
  verdict?: Verdict;
  /** ISO-8601 bounds on `scored_at`, inclusive. */
  from?: string;
  to?: string;
}

export interface HistoryPage {
  items: Prediction[];
  nextCursor: string | null;
}

/** A prediction before the store names it: API predictions get their id from the page they are stored in. */
export type PredictionDraft = Omit<Prediction, 'prediction_id'>;

/**
 * Predictions are stored in pages (one item holds up to a few hundred; see docs/pipeline.md, "Table design").
 * Every read (history, get, count) expands pages back into single predictions.
 */
export interface PredictionRepository {
  /**
   * A capture's predictions (ids `${captureId}:${flow index, 1-based, 9 digits}`), stored as pages of
   * `PREDICTION_PAGE_SIZE` consecutive flows. Callers pass whole pages (only a capture's last page may be
   * short). Conditional writes: a page that is already stored (a redelivered event) is left as it is, so
   * duplicates never add predictions. Retries throttled writes. `csv`: the inputs as their features CSV
   * lines (one per prediction), kept as they are instead of re-encoding every value.
   */
  putCapturePredictions(predictions: readonly Prediction[], csv?: CsvInputs): Promise<void>;
  /**
   * API predictions: coalesced with concurrent calls into shared page items. Resolves once the page holding
   * them is durably written, with their ids (`api:{page id}:{slot}`).
   */
  putApiPredictions(drafts: readonly PredictionDraft[]): Promise<Prediction[]>;
  /** One prediction by id (reads the page that holds it). */
  get(predictionId: string): Promise<Prediction | undefined>;
  history(query: HistoryQuery): Promise<HistoryPage>;
  /** Number of stored predictions of a capture (reads page counts only). */
  countForCapture(captureId: string): Promise<number>;
  /**
   * Stored API predictions Kafka did not acknowledge: recorded with their page (not in memory), so the republish
   * sweep finds them whichever process stored them and whenever it runs. Unknown ids are ignored.
   */
  recordApiUnpublished(predictionIds: readonly string[]): Promise<void>;
  /** Up to `limit` API pages with predictions awaiting republish (oldest record first), with those predictions. */
  apiPredictionsAwaitingRepublish(limit: number): Promise<ApiRepublishBatch[]>;
  /**
   * Unlists the predictions of `pageId` that Kafka has now acknowledged; the page leaves the list when none is
   * left (a prediction recorded again meanwhile keeps it listed).
   */
  settleApiRepublish(pageId: string, acknowledgedIds: readonly string[]): Promise<void>;
}

/** One API page's predictions that Kafka has not acknowledged yet. */
export interface ApiRepublishBatch {
  pageId: string;
  predictions: Prediction[];
}

// ---------------------------------------------------------------- publishing (issue 6)

/** Publishes predictions to the stream (Kafka topic `network_predictions`). Implemented by the streaming code. */
export interface PredictionPublisher {
  /**
   * `csv`, when given, holds each prediction's flow as its features CSV line (one per prediction, same order):
   * a publisher that says `readsCsvInputs` uses those lines instead of `Prediction.input`, so score-flows need
   * not rebuild a ~110-field object per flow only for it to be serialised again.
   */
  publish(predictions: Prediction[], csv?: CsvInputs): Promise<PublishResult>;
  /**
   * `false` when `publish` never reads `Prediction.input` (the unconfigured publisher): score-flows then skips
   * rebuilding each flow's input object from its features line. Absent = it reads them.
   */
  readonly readsInputs?: boolean;
  /** `true` when `publish` takes a capture's flows as `csv` lines (the Kafka publisher, message format v2). */
  readonly readsCsvInputs?: boolean;
}

// ---------------------------------------------------------------- clock and ids

export interface Clock {
  now(): Date;
}

export interface IdSource {
  /** A new random identifier (UUID). */
  newId(): string;
}
