import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { Prediction } from '../records/prediction.js';
import { unacknowledgedFlowsSchema } from '../records/prediction-message.js';
import { DependencyError, PayloadTooLargeError, ValidationError } from './errors.js';
import type {
  ApiRepublishBatch,
  CaptureErrorInfo,
  CaptureRecord,
  CaptureRepository,
  HistoryPage,
  HistoryQuery,
  NewCapture,
  ParseResult,
  PartProgress,
  PipelineStage,
  PredictionDraft,
  PredictionRepository,
  PublishResult,
  ScoredPart,
  ScoreSummary,
} from './ports.js';
import {
  type CsvInputs,
  decodePredictionPage,
  encodePredictionPage,
  entryKey,
  type PageRow,
  PREDICTION_PAGE_SIZE,
} from './prediction-pages.js';

/**
 * One DynamoDB table for captures and predictions (see docs/pipeline.md, "Table design"). Predictions are
 * stored in pages (`prediction-pages.ts`), never one item per prediction:
 *
 * | item                 | pk                 | sk                    | gsi1pk (index `by-time`)  | gsi1sk                        |
 * | capture              | CAPTURE#{id}       | #CAPTURE              | –                         | –                             |
 * | capture page         | CAPTURE#{id}       | PAGE#{first flow, 9}  | TIME#{yyyy-mm-dd}#{shard} | newest {scored_at}#{pred id}  |
 * | API page (coalesced) | APIPAGE#{uuid}     | PAGE                  | TIME#{yyyy-mm-dd}#{shard} | newest {scored_at}#{pred id}  |
 *
 * | API page awaiting   | APIPAGE#{uuid}     | REPUBLISH             | REPUBLISH_API             | first {recorded at}#{uuid}    |
 * |   republish (marker) |                    |                       |                           |                               |
 *
 * A capture item carries gsi1pk = `REPUBLISH` (gsi1sk = `{recorded at}#{id}`) only while Kafka has not
 * acknowledged all its predictions: a sparse entry in the same index that the republish sweep queries. API
 * predictions have no capture record to carry that, so their page gets a small marker item beside it (`slots`:
 * the number set of page slots not acknowledged) for as long as any is left.
 *
 * `expires_at` (epoch seconds) is the TTL attribute on every item.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeIndex: 'by-time',
  timeIndexPartitionKey: 'gsi1pk',
  timeIndexSortKey: 'gsi1sk',
  ttlAttribute: 'expires_at',
} as const;

const CAPTURE_SK = '#CAPTURE';
/** Page writes of one capture in flight. */
const BATCH_WRITE_CONCURRENCY = 8;
const MAX_UNPROCESSED_ATTEMPTS = 10;
/** Coalesced API pages (POST /api/predict): at most this many page writes in flight. */
const COALESCE_MAX_IN_FLIGHT = 1;
const DAY_MS = 86_400_000;

const CAPTURE_PK_PREFIX = 'CAPTURE#';
const capturePk = (captureId: string) => `${CAPTURE_PK_PREFIX}${captureId}`;
/** The time index's partition that lists captures awaiting republish (see the table above). */
const REPUBLISH_PARTITION = 'REPUBLISH';
/** The time index's partition that lists API pages awaiting republish, and their marker items' sort key. */
const API_REPUBLISH_PARTITION = 'REPUBLISH_API';
const API_REPUBLISH_SK = 'REPUBLISH';

/**
 * The items of a sparse republish partition of the time index (captures, API page markers), oldest first: their
 * gsi1sk starts with the time they were first recorded.
 */
async function listRepublishPartition(
  client: DynamoDBDocumentClient,
  table: string,
  partition: string,
  projection: string,
  limit: number,
): Promise<Record<string, unknown>[]> {
  try {
    const output = await client.send(
      new QueryCommand({
        TableName: table,
        IndexName: TABLE_KEYS.timeIndex,
        KeyConditionExpression: 'gsi1pk = :partition',
        ExpressionAttributeValues: { ':partition': partition },
        ProjectionExpression: projection,
        Limit: limit,
      }),
    );
    return output.Items ?? [];
  } catch (error) {
    throw dependencyError(`Query (${partition} awaiting republish)`, error);
  }
}

/** Kafka did not acknowledge every prediction: a retry can help (`not_configured` has no broker to retry). */
function awaitsRepublish(publish: PublishResult): boolean {
  return publish.status === 'failed' || publish.status === 'partial';
}

function dependencyError(operation: string, error: unknown): DependencyError {
  const message = error instanceof Error ? error.message : String(error);
  return new DependencyError(
    `DynamoDB ${operation} failed: ${message}`,
    { dependency: 'dynamodb' },
    { cause: error },
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** FNV-1a: a stable, cheap hash to spread predictions over the time index's shards. */
function shardOf(id: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

function normalizeInstant(iso: string, field: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new ValidationError(`${field} is not an ISO-8601 time: ${iso}`, { field });
  return new Date(ms).toISOString();
}

const jsonScalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const errorInfoSchema = z.object({
  stage: z.enum(['parse', 'score', 'upload', 'publish']),
  code: z.string(),
  name: z.string(),
  message: z.string(),
  details: z.record(z.string(), jsonScalar),
});
const parseResultSchema = z.object({
  format: z.string(),
  gzip: z.boolean(),
  packets: z.number(),
  flows: z.number(),
  bytesRead: z.number(),
  objectBytes: z.number(),
  sha256: z.string(),
  firstPacketAt: z.string().nullable(),
  lastPacketAt: z.string().nullable(),
  durationS: z.number(),
  warnings: z.array(z.string()),
  parseMs: z.number(),
  keys: z.object({ packets: z.string(), flows: z.string(), features: z.string() }),
  damage: errorInfoSchema.nullable(),
});
const scoreSummarySchema = z.object({
  predictions: z.number(),
  byVerdict: z.record(z.string(), z.number()),
  byLabel: z.record(z.string(), z.number()),
  modelVersions: z.array(z.string()),
  scoreMs: z.number(),
});
const publishSchema = z.object({
  status: z.enum(['published', 'partial', 'failed', 'not_configured']),
  published: z.number(),
  failed: z.number(),
  message: z.string().optional(),
  unacknowledged: unacknowledgedFlowsSchema.optional(),
});
const captureItemSchema = z.object({
  capture_id: z.string(),
  status: z.enum(['PENDING', 'PARSED', 'SCORED', 'FAILED']),
  filename: z.string(),
  size_bytes: z.number(),
  tags: z.record(z.string(), z.string()).default({}),
  upload_key: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  parse: parseResultSchema.nullish(),
  score: scoreSummarySchema.nullish(),
  publish: publishSchema.nullish(),
  errors: z.array(errorInfoSchema).default([]),
});

const scoredPartSchema = z.object({
  firstFlow: z.number(),
  predictions: z.number(),
  byVerdict: z.record(z.string(), z.number()),
  byLabel: z.record(z.string(), z.number()),
  modelVersions: z.array(z.string()),
  startedMs: z.number(),
  finishedMs: z.number(),
  publish: publishSchema,
});
/** Scored parts live in top-level attributes `score_part_{first flow, 9 digits}` of the capture item. */
const SCORED_PART_PREFIX = 'score_part_';

function progressOf(item: Record<string, unknown>): PartProgress {
  const status = captureItemSchema.shape.status.parse(item.status);
  const parse = parseResultSchema.nullish().parse(item.parse);
  const parts: ScoredPart[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(SCORED_PART_PREFIX)) parts.push(scoredPartSchema.parse(value));
  }
  parts.sort((a, b) => a.firstFlow - b.firstFlow);
  return { status, flows: status === 'PENDING' || !parse ? null : parse.flows, parts };
}

const cursorSchema = z.union([
  z.object({
    kind: z.literal('time'),
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    after: z.string(),
    /** Inclusive bound on the gsi1sk of pages that may still hold rows below `after`; '' = none left. */
    from: z.string().optional(),
  }),
  z.object({ kind: z.literal('capture'), after: z.string() }),
]);
type Cursor = z.infer<typeof cursorSchema>;

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch (error) {
    throw new ValidationError(
      'cursor is not a cursor returned by this API',
      { field: 'cursor' },
      { cause: error },
    );
  }
}

/** A state transition whose condition failed: the capture had left the expected state. */
class CaptureStateError extends DependencyError {}

/** A prediction page item (docs/pipeline.md, "Table design"), in the types the repository builds it with. */
interface StoredPageItem {
  pk: string;
  sk: string;
  entity: 'prediction-page';
  capture_id: string;
  n: number;
  n_malicious: number;
  n_benign: number;
  first_at: string;
  last_at: string;
  body: Uint8Array;
  gsi1pk: string;
  gsi1sk: string;
  expires_at: number;
}

/** A page item in DynamoDB's attribute-value form: every attribute has a fixed type, so no generic marshalling. */
function marshallPageItem(page: StoredPageItem): Record<string, AttributeValue> {
  return {
    pk: { S: page.pk },
    sk: { S: page.sk },
    entity: { S: page.entity },
    capture_id: { S: page.capture_id },
    n: { N: String(page.n) },
    n_malicious: { N: String(page.n_malicious) },
    n_benign: { N: String(page.n_benign) },
    first_at: { S: page.first_at },
    last_at: { S: page.last_at },
    body: { B: page.body },
    gsi1pk: { S: page.gsi1pk },
    gsi1sk: { S: page.gsi1sk },
    expires_at: { N: String(page.expires_at) },
  };
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  );
}

export interface DynamoRepositoryOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  retentionDays: number;
  timeIndexShards: number;
  /** Clock for TTL and default time bounds (injectable for tests). */
  now?: () => Date;
  /**
   * Coalesce concurrent small `putApiPredictions` calls (e.g. one POST /api/predict each) into shared page
   * items. Every caller still awaits the durable write of its own page. Default on.
   */
  coalesceWrites?: boolean;
}

export class DynamoCaptureRepository implements CaptureRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionS: number;
  readonly #now: () => Date;

  constructor(options: DynamoRepositoryOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retentionS = options.retentionDays * 86_400;
    this.#now = options.now ?? (() => new Date());
  }

  async create(capture: NewCapture): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: capturePk(capture.captureId),
            sk: CAPTURE_SK,
            entity: 'capture',
            capture_id: capture.captureId,
            status: 'PENDING',
            filename: capture.filename,
            size_bytes: capture.sizeBytes,
            tags: capture.tags,
            upload_key: capture.uploadKey,
            created_at: capture.createdAt,
            updated_at: capture.createdAt,
            errors: [],
            expires_at: Math.floor(Date.parse(capture.createdAt) / 1000) + this.#retentionS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependencyError('PutItem (capture)', error);
    }
  }

  async get(captureId: string): Promise<CaptureRecord | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          ConsistentRead: true,
        }),
      );
      item = output.Item;
    } catch (error) {
      throw dependencyError('GetItem (capture)', error);
    }
    if (!item) return undefined;
    const parsed = captureItemSchema.parse(item);
    return {
      captureId: parsed.capture_id,
      status: parsed.status,
      filename: parsed.filename,
      sizeBytes: parsed.size_bytes,
      tags: parsed.tags,
      uploadKey: parsed.upload_key,
      createdAt: parsed.created_at,
      updatedAt: parsed.updated_at,
      parse: parsed.parse ?? null,
      score: parsed.score ?? null,
      publish: parsed.publish ?? null,
      errors: parsed.errors,
    };
  }

  async claim(captureId: string, stage: PipelineStage, nowMs: number, leaseS: number): Promise<boolean> {
    const claimAttribute = stage === 'parse' ? 'parse_claim_ms' : 'score_claim_ms';
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: 'SET #claim = :now, updated_at = :at',
          ConditionExpression:
            'attribute_exists(pk) AND #status = :input AND (attribute_not_exists(#claim) OR #claim < :expired)',
          ExpressionAttributeNames: { '#claim': claimAttribute, '#status': 'status' },
          ExpressionAttributeValues: {
            ':now': nowMs,
            ':expired': nowMs - leaseS * 1000,
            ':input': stage === 'parse' ? 'PENDING' : 'PARSED',
            ':at': new Date(nowMs).toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependencyError('UpdateItem (claim)', error);
    }
  }

  async releaseClaim(captureId: string, stage: PipelineStage, claimedMs: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: 'REMOVE #claim',
          // Only our own claim: another delivery may have taken the capture over since.
          ConditionExpression: '#claim = :mine',
          ExpressionAttributeNames: { '#claim': stage === 'parse' ? 'parse_claim_ms' : 'score_claim_ms' },
          ExpressionAttributeValues: { ':mine': claimedMs },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw dependencyError('UpdateItem (release claim)', error);
    }
  }

  async markParsed(captureId: string, result: ParseResult): Promise<void> {
    await this.#transition(
      captureId,
      'PENDING',
      'PARSED',
      'SET parse = :parse',
      { ':parse': result },
      'parse_claim_ms',
    );
  }

  async recordScoredPart(captureId: string, part: ScoredPart): Promise<PartProgress | undefined> {
    try {
      const output = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: 'SET #part = :part, updated_at = :at',
          ConditionExpression: 'attribute_exists(pk) AND #status IN (:pending, :parsed)',
          ExpressionAttributeNames: {
            '#part': `${SCORED_PART_PREFIX}${String(part.firstFlow).padStart(9, '0')}`,
            '#status': 'status',
          },
          ExpressionAttributeValues: {
            ':part': part,
            ':pending': 'PENDING',
            ':parsed': 'PARSED',
            ':at': this.#now().toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return output.Attributes ? progressOf(output.Attributes) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw dependencyError('UpdateItem (scored part)', error);
    }
  }

  async partProgress(captureId: string): Promise<PartProgress | undefined> {
    try {
      const output = await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          ConsistentRead: true,
        }),
      );
      return output.Item ? progressOf(output.Item) : undefined;
    } catch (error) {
      throw dependencyError('GetItem (part progress)', error);
    }
  }

  async markScored(captureId: string, summary: ScoreSummary, publish: PublishResult): Promise<boolean> {
    const retry = awaitsRepublish(publish);
    try {
      await this.#transition(
        captureId,
        'PARSED',
        'SCORED',
        `SET score = :score, publish = :publish${retry ? ', gsi1pk = :republish, gsi1sk = :republishKey' : ''}`,
        {
          ':score': summary,
          ':publish': publish,
          ...(retry ? this.#republishValues(captureId) : {}),
        },
        'score_claim_ms',
      );
      return true;
    } catch (error) {
      if (error instanceof CaptureStateError) return false;
      throw error;
    }
  }

  async markFailed(captureId: string, error: CaptureErrorInfo, parse: ParseResult | null): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression:
            'SET #status = :failed, updated_at = :at, errors = list_append(if_not_exists(errors, :empty), :error), parse = :parse REMOVE parse_claim_ms, score_claim_ms',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':at': this.#now().toISOString(),
            ':empty': [],
            ':error': [error],
            ':parse': parse,
          },
        }),
      );
    } catch (caught) {
      throw dependencyError('UpdateItem (failed)', caught);
    }
  }

  async claimRepublish(captureId: string, nowMs: number, leaseS: number): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: 'SET publish_claim_ms = :now, updated_at = :at',
          ConditionExpression:
            '#status = :scored AND (attribute_not_exists(publish_claim_ms) OR publish_claim_ms < :expired)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':now': nowMs,
            ':expired': nowMs - leaseS * 1000,
            ':scored': 'SCORED',
            ':at': new Date(nowMs).toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependencyError('UpdateItem (publish claim)', error);
    }
  }

  async recordPublish(captureId: string, publish: PublishResult): Promise<void> {
    const retry = awaitsRepublish(publish);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: retry
            ? 'SET publish = :publish, updated_at = :at, gsi1pk = :republish, gsi1sk = :republishKey REMOVE publish_claim_ms'
            : 'SET publish = :publish, updated_at = :at REMOVE publish_claim_ms, gsi1pk, gsi1sk',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: {
            ':publish': publish,
            ':at': this.#now().toISOString(),
            ...(retry ? this.#republishValues(captureId) : {}),
          },
        }),
      );
    } catch (error) {
      throw dependencyError('UpdateItem (publish)', error);
    }
  }

  async capturesAwaitingRepublish(limit: number): Promise<string[]> {
    const items = await listRepublishPartition(this.#client, this.#table, REPUBLISH_PARTITION, 'pk', limit);
    return items.flatMap((item) =>
      typeof item.pk === 'string' && item.pk.startsWith(CAPTURE_PK_PREFIX)
        ? [item.pk.slice(CAPTURE_PK_PREFIX.length)]
        : [],
    );
  }

  /** The sparse index entry of a capture awaiting republish; oldest first in the index. */
  #republishValues(captureId: string): Record<string, string> {
    return {
      ':republish': REPUBLISH_PARTITION,
      ':republishKey': `${this.#now().toISOString()}#${captureId}`,
    };
  }

  async #transition(
    captureId: string,
    from: string,
    to: string,
    setExpression: string,
    values: Record<string, unknown>,
    claimAttribute: string,
  ): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: capturePk(captureId), sk: CAPTURE_SK },
          UpdateExpression: `${setExpression}, #status = :to, updated_at = :at REMOVE ${claimAttribute}`,
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...values,
            ':to': to,
            ':from': from,
            ':at': this.#now().toISOString(),
          },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new CaptureStateError(`Capture ${captureId} left state ${from} before it could become ${to}`, {
          dependency: 'dynamodb',
          captureId,
        });
      }
      throw dependencyError(`UpdateItem (${to})`, error);
    }
  }
}

/** Most API predictions coalesced into one page item. */
const API_PAGE_MAX_PREDICTIONS = 256;
/** Above this many bytes of input JSON a request's predictions are not coalesced with others. */
const API_PAGE_MAX_INPUT_CHARS = 256 * 1024;
/** Gzipped page bodies above this are split (DynamoDB's item limit is 400 KB, keys and counts included). */
const PAGE_MAX_BODY_BYTES = 300 * 1024;
/** Page items fetched per time-index query while filling a history page. */
const HISTORY_PAGES_PER_QUERY = 4;
const API_PAGE_PREFIX = 'APIPAGE#';
const PAGE_PREFIX = 'PAGE#';
const API_ID_PREFIX = 'api:';

const capturePageSk = (firstIndex: number) => `${PAGE_PREFIX}${String(firstIndex).padStart(9, '0')}`;

/** `${captureId}:${index}` → [captureId, index]; undefined for other ids. */
function parseCapturePredictionId(id: string): [string, number] | undefined {
  const match = /^([A-Za-z0-9][A-Za-z0-9-]{0,63}):(\d{1,12})$/.exec(id);
  if (!match) return undefined;
  return [match[1] as string, Number(match[2])];
}

function parseApiPredictionId(id: string): { pageId: string; slot: number } | undefined {
  const match = /^api:([0-9a-f-]{36}):(\d{1,6})$/.exec(id);
  return match ? { pageId: match[1] as string, slot: Number(match[2]) } : undefined;
}

/** The page slots of API prediction ids, by page (ids of other forms are left out). */
function slotsByApiPage(predictionIds: readonly string[]): Map<string, Set<number>> {
  const byPage = new Map<string, Set<number>>();
  for (const id of predictionIds) {
    const parsed = parseApiPredictionId(id);
    if (!parsed) continue;
    let slots = byPage.get(parsed.pageId);
    if (!slots) {
      slots = new Set();
      byPage.set(parsed.pageId, slots);
    }
    slots.add(parsed.slot);
  }
  return byPage;
}

const apiRepublishMarkerSchema = z.object({
  pk: z.string().startsWith(API_PAGE_PREFIX),
  slots: z.set(z.number().int().min(0)).optional(),
});

interface OpenApiPage {
  pageId: string;
  day: string;
  predictions: Prediction[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/** One page item read from a query: its rows and the time-index key it sorts by. */
interface PageItem {
  rows: PageRow[];
  gsi1sk: string;
}

interface Candidate {
  row: PageRow;
  /** gsi1sk of the page holding the row. */
  pageKey: string;
}

export class DynamoPredictionRepository implements PredictionRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionS: number;
  readonly #retentionDays: number;
  readonly #shards: number;
  readonly #now: () => Date;
  readonly #coalesce: boolean;
  readonly #newId: () => string;
  readonly #apiPageSize: number;
  #open: OpenApiPage | undefined;
  /** Refused API prediction ids gathered in this event-loop turn (`recordApiUnpublished`). */
  #unpublished: { ids: string[]; done: Promise<void> } | undefined;
  #inFlight = 0;
  #drainScheduled = false;

  constructor(options: DynamoRepositoryOptions & { newId?: () => string; apiPageSize?: number }) {
    this.#apiPageSize = options.apiPageSize ?? API_PAGE_MAX_PREDICTIONS;
    this.#client = options.client;
    this.#table = options.tableName;
    this.#coalesce = options.coalesceWrites ?? true;
    this.#retentionDays = options.retentionDays;
    this.#retentionS = options.retentionDays * 86_400;
    this.#shards = options.timeIndexShards;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
  }

  /** The page item: keys, per-page counts that let filters skip pages, the time-index keys, the body. */
  #pageItem(pk: string, sk: string, predictions: readonly Prediction[], body: Uint8Array): StoredPageItem {
    let malicious = 0;
    let firstAt = '';
    let lastAt = '';
    let maxKey = '';
    for (const p of predictions) {
      if (p.verdict === 'malicious') malicious++;
      if (firstAt === '' || p.scored_at < firstAt) firstAt = p.scored_at;
      if (p.scored_at > lastAt) lastAt = p.scored_at;
      const key = entryKey(p);
      if (key > maxKey) maxKey = key;
    }
    return {
      pk,
      sk,
      entity: 'prediction-page',
      capture_id: predictions[0]?.capture_id ?? '',
      n: predictions.length,
      n_malicious: malicious,
      n_benign: predictions.length - malicious,
      first_at: firstAt,
      last_at: lastAt,
      body,
      gsi1pk: `TIME#${dayOf(lastAt)}#${shardOf(`${pk}/${sk}`, this.#shards)}`,
      // The page's newest entry: history reads pages newest-first by it (see #timeHistory).
      gsi1sk: maxKey,
      expires_at: Math.floor(Date.parse(lastAt) / 1000) + this.#retentionS,
    };
  }

  async putCapturePredictions(predictions: readonly Prediction[], csv?: CsvInputs): Promise<void> {
    interface Page {
      captureId: string;
      first: number;
      predictions: Prediction[];
      lines: string[];
    }
    const pages = new Map<string, Page>();
    for (let i = 0; i < predictions.length; i++) {
      const p = predictions[i] as Prediction;
      const parsed = parseCapturePredictionId(p.prediction_id);
      if (!parsed || parsed[0] !== p.capture_id || parsed[1] < 1) {
        throw new ValidationError(`Not a capture prediction id: ${p.prediction_id}`, {
          field: 'prediction_id',
        });
      }
      const first = Math.floor((parsed[1] - 1) / PREDICTION_PAGE_SIZE) * PREDICTION_PAGE_SIZE + 1;
      const key = `${p.capture_id}/${first}`;
      let page = pages.get(key);
      if (!page) {
        page = { captureId: p.capture_id, first, predictions: [], lines: [] };
        pages.set(key, page);
      }
      page.predictions.push(p);
      const line = csv?.lines[i];
      if (line !== undefined) page.lines.push(line);
    }
    const work = [...pages.values()];
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const page = work[next++];
        if (!page) continue;
        const body = encodePredictionPage(
          page.predictions,
          csv && page.lines.length === page.predictions.length
            ? { columns: csv.columns, lines: page.lines }
            : undefined,
        );
        if (body.byteLength > PAGE_MAX_BODY_BYTES) {
          throw new PayloadTooLargeError(
            `A page of ${page.predictions.length} predictions is ${body.byteLength} bytes compressed`,
            { limit: PAGE_MAX_BODY_BYTES },
          );
        }
        await this.#putPage(
          this.#pageItem(capturePk(page.captureId), capturePageSk(page.first), page.predictions, body),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_WRITE_CONCURRENCY, work.length) }, worker));
  }

  /**
   * PutItem if absent. A page that exists already was written by an earlier delivery of the same event
   * (ids and page boundaries are deterministic), so it is kept as it is: no duplicates, no transactions.
   */
  async #putPage(page: StoredPageItem): Promise<'written' | 'exists'> {
    const item = marshallPageItem(page);
    for (let attempt = 0; ; attempt++) {
      try {
        // The low-level PutItem with the item already in DynamoDB's wire form (`marshallPageItem`), sent through
        // the same client: lib-dynamodb's marshalling middleware, which walks the item generically on every call,
        // cost ~0.3 ms of the ~1.2 ms of SDK CPU per page write (measured against dynalite, 1,500 puts a
        // variant, alternated 4 times). The request on the wire is the same.
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return 'written';
      } catch (error) {
        if (isConditionFailure(error)) return 'exists';
        const throttled = error instanceof Error && /Throttl|ProvisionedThroughputExceeded/.test(error.name);
        if (!throttled || attempt >= MAX_UNPROCESSED_ATTEMPTS) throw dependencyError('PutItem (page)', error);
        // Exponential backoff with jitter, as DynamoDB asks for throttled writes.
        await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
      }
    }
  }

  putApiPredictions(drafts: readonly PredictionDraft[]): Promise<Prediction[]> {
    if (drafts.length === 0) return Promise.resolve([]);
    let inputChars = 0;
    for (const d of drafts) inputChars += JSON.stringify(d.input).length;
    if (!this.#coalesce || drafts.length > this.#apiPageSize || inputChars > API_PAGE_MAX_INPUT_CHARS) {
      return this.#putOwnApiPages(drafts);
    }
    const day = dayOf(drafts[0]?.scored_at ?? '');
    let page = this.#open;
    // A page holds one UTC day (its time-index partition) and a bounded number of predictions.
    if (!page || page.day !== day || page.predictions.length + drafts.length > this.#apiPageSize) {
      if (page) this.#send(page);
      page = { pageId: this.#newId(), day, predictions: [], waiters: [] };
      this.#open = page;
    }
    const open = page;
    const stored = drafts.map((draft) => {
      const prediction: Prediction = {
        ...draft,
        prediction_id: `${API_ID_PREFIX}${open.pageId}:${open.predictions.length}`,
      };
      open.predictions.push(prediction);
      return prediction;
    });
    const written = new Promise<Prediction[]>((resolve, reject) => {
      open.waiters.push({ resolve: () => resolve(stored), reject });
    });
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      // One event-loop turn lets the requests that arrived together share the page (a 2 ms wait was tried:
      // no larger pages under closed-loop load, since pages fill while the previous write is in flight).
      setImmediate(() => {
        this.#drainScheduled = false;
        this.#drain();
      });
    }
    return written;
  }

  /** Large API requests: their own pages, written right away (a bad one fails only its own request). */
  async #putOwnApiPages(drafts: readonly PredictionDraft[]): Promise<Prediction[]> {
    const out: Prediction[] = [];
    for (let i = 0; i < drafts.length; i += this.#apiPageSize) {
      const pageId = this.#newId();
      const predictions = drafts
        .slice(i, i + this.#apiPageSize)
        .map((d, slot) => ({ ...d, prediction_id: `${API_ID_PREFIX}${pageId}:${slot}` }));
      await this.#writeApiPage(pageId, predictions);
      out.push(...predictions);
    }
    return out;
  }

  async #writeApiPage(pageId: string, predictions: readonly Prediction[]): Promise<void> {
    const body = encodePredictionPage(predictions);
    if (body.byteLength > PAGE_MAX_BODY_BYTES) {
      throw new PayloadTooLargeError(`The predictions are ${body.byteLength} bytes compressed`, {
        limit: PAGE_MAX_BODY_BYTES,
      });
    }
    await this.#putPage(this.#pageItem(`${API_PAGE_PREFIX}${pageId}`, 'PAGE', predictions, body));
  }

  /**
   * Write-behind for small API writes: the open page is sent when fewer than COALESCE_MAX_IN_FLIGHT page
   * writes are in flight, so under load pages fill while earlier writes are busy and when idle a request
   * waits one event-loop turn. Every request in a page settles with that page's write.
   */
  #drain(): void {
    const page = this.#open;
    if (!page || this.#inFlight >= COALESCE_MAX_IN_FLIGHT) return;
    this.#send(page);
  }

  #send(page: OpenApiPage): void {
    if (this.#open === page) this.#open = undefined;
    this.#inFlight++;
    this.#writeApiPage(page.pageId, page.predictions)
      .then(
        () => {
          for (const waiter of page.waiters) waiter.resolve();
        },
        (error: unknown) => {
          for (const waiter of page.waiters) waiter.reject(error);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#drain();
      });
  }

  async get(predictionId: string): Promise<Prediction | undefined> {
    let key: { pk: string; sk: string };
    const api = parseApiPredictionId(predictionId);
    if (api) {
      key = { pk: `${API_PAGE_PREFIX}${api.pageId}`, sk: 'PAGE' };
    } else {
      const parsed = parseCapturePredictionId(predictionId);
      if (!parsed || parsed[1] < 1) return undefined;
      const first = Math.floor((parsed[1] - 1) / PREDICTION_PAGE_SIZE) * PREDICTION_PAGE_SIZE + 1;
      key = { pk: capturePk(parsed[0]), sk: capturePageSk(first) };
    }
    let item: Record<string, unknown> | undefined;
    try {
      item = (await this.#client.send(new GetCommand({ TableName: this.#table, Key: key }))).Item;
    } catch (error) {
      throw dependencyError('GetItem (page)', error);
    }
    if (!item) return undefined;
    return readPage(item)
      .rows.find((row) => row.id === predictionId)
      ?.toPrediction();
  }

  /**
   * Coalesced like the pages: the requests of one page learn of a Kafka outage in the same event-loop turn (they
   * were released together and publish together), so their slots are merged into one marker write per page
   * instead of one per request, when the store is already doing extra work for the outage.
   */
  recordApiUnpublished(predictionIds: readonly string[]): Promise<void> {
    if (!this.#unpublished) {
      const ids: string[] = [];
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.#unpublished = undefined;
        return this.#writeUnpublishedMarkers(ids);
      });
      this.#unpublished = { ids, done };
    }
    this.#unpublished.ids.push(...predictionIds);
    return this.#unpublished.done;
  }

  async #writeUnpublishedMarkers(predictionIds: readonly string[]): Promise<void> {
    const recordedAt = this.#now().toISOString();
    // Retention follows the page's: the marker goes with the predictions it points at.
    const expiresAt = Math.floor(this.#now().getTime() / 1000) + this.#retentionS;
    for (const [pageId, slots] of slotsByApiPage(predictionIds)) {
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: `${API_PAGE_PREFIX}${pageId}`, sk: API_REPUBLISH_SK },
            // ADD to a set: concurrent requests of one page each record their own slots without a read.
            // The index key keeps the first record time, so the sweep takes the longest-waiting pages first.
            UpdateExpression:
              'ADD slots :slots SET entity = :entity, gsi1pk = :partition, gsi1sk = if_not_exists(gsi1sk, :key), expires_at = :expires',
            ExpressionAttributeValues: {
              ':slots': slots,
              ':entity': 'api-republish',
              ':partition': API_REPUBLISH_PARTITION,
              ':key': `${recordedAt}#${pageId}`,
              ':expires': expiresAt,
            },
          }),
        );
      } catch (error) {
        throw dependencyError('UpdateItem (API republish marker)', error);
      }
    }
  }

  async apiPredictionsAwaitingRepublish(limit: number): Promise<ApiRepublishBatch[]> {
    const items = await listRepublishPartition(
      this.#client,
      this.#table,
      API_REPUBLISH_PARTITION,
      'pk, slots',
      limit,
    );
    const markers = items.map((item) => {
      const parsed = apiRepublishMarkerSchema.safeParse(item);
      if (parsed.success) return parsed.data;
      throw new DependencyError(
        'An API republish marker is malformed',
        { dependency: 'dynamodb' },
        { cause: parsed.error },
      );
    });
    const batches: ApiRepublishBatch[] = [];
    for (const marker of markers) {
      const pageId = marker.pk.slice(API_PAGE_PREFIX.length);
      const slots = marker.slots ?? new Set<number>();
      let page: Record<string, unknown> | undefined;
      try {
        page = (
          await this.#client.send(
            new GetCommand({ TableName: this.#table, Key: { pk: marker.pk, sk: 'PAGE' } }),
          )
        ).Item;
      } catch (error) {
        throw dependencyError('GetItem (API page to republish)', error);
      }
      // A page gone (expired) has nothing left to publish: its marker goes too.
      const rows = page ? readPage(page).rows : [];
      const predictions = rows.filter((row) => slots.has(apiSlotOf(row.id))).map((row) => row.toPrediction());
      if (predictions.length === 0) {
        await this.#deleteSettledMarker(marker.pk, page === undefined);
        continue;
      }
      batches.push({ pageId, predictions });
    }
    return batches;
  }

  async settleApiRepublish(pageId: string, acknowledgedIds: readonly string[]): Promise<void> {
    const slots = slotsByApiPage(acknowledgedIds).get(pageId);
    if (!slots || slots.size === 0) return;
    const pk = `${API_PAGE_PREFIX}${pageId}`;
    let left: unknown;
    try {
      const output = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk, sk: API_REPUBLISH_SK },
          // DELETE from a set; the attribute disappears with its last element.
          UpdateExpression: 'DELETE slots :slots',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':slots': slots },
          ReturnValues: 'ALL_NEW',
        }),
      );
      left = output.Attributes?.slots;
    } catch (error) {
      if (isConditionFailure(error)) return; // settled already (a concurrent sweep)
      throw dependencyError('UpdateItem (API republish settled)', error);
    }
    if (left === undefined) await this.#deleteSettledMarker(pk, false);
  }

  /**
   * Deletes an API page's marker once no slot is left: conditional, so a slot recorded meanwhile (a request of
   * the same page that Kafka refused just now) keeps it. `force`: the page itself is gone.
   */
  async #deleteSettledMarker(pk: string, force: boolean): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk, sk: API_REPUBLISH_SK },
          ...(force ? {} : { ConditionExpression: 'attribute_not_exists(slots)' }),
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw dependencyError('DeleteItem (API republish marker)', error);
    }
  }

  async countForCapture(captureId: string): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#query({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': capturePk(captureId), ':prefix': PAGE_PREFIX },
        ProjectionExpression: 'n',
        ExclusiveStartKey: startKey,
      });
      for (const item of output.items) count += typeof item.n === 'number' ? item.n : 0;
      startKey = output.lastKey;
    } while (startKey);
    return count;
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const from = query.from ? normalizeInstant(query.from, 'from') : undefined;
    const to = query.to ? normalizeInstant(query.to, 'to') : undefined;
    if (from && to && from > to) throw new ValidationError('from is after to', { field: 'from' });
    if (query.captureId && query.captureId !== 'api') {
      if (cursor && cursor.kind !== 'capture')
        throw new ValidationError('cursor does not match the filters', { field: 'cursor' });
      return this.#captureHistory(query.captureId, query, from, to, cursor?.after);
    }
    if (cursor && cursor.kind !== 'time')
      throw new ValidationError('cursor does not match the filters', { field: 'cursor' });
    return this.#timeHistory(query, from, to, cursor);
  }

  /** FilterExpression on page attributes: skips pages with no prediction of the verdict or time range. */
  #pageFilter(query: HistoryQuery, from: string | undefined, to: string | undefined, apiOnly: boolean) {
    const parts: string[] = [];
    const values: Record<string, unknown> = {};
    if (query.verdict) {
      parts.push(query.verdict === 'malicious' ? 'n_malicious > :zero' : 'n_benign > :zero');
      values[':zero'] = 0;
    }
    if (from) {
      parts.push('last_at >= :from');
      values[':from'] = from;
    }
    if (to) {
      parts.push('first_at <= :to');
      values[':to'] = to;
    }
    if (apiOnly) {
      parts.push('capture_id = :capture');
      values[':capture'] = 'api';
    }
    return parts.length > 0 ? { FilterExpression: parts.join(' AND '), values } : { values };
  }

  #rowMatches(row: PageRow, query: HistoryQuery, from: string | undefined, to: string | undefined) {
    if (query.verdict && row.verdict !== query.verdict) return false;
    if (from && row.scoredAt < from) return false;
    if (to && row.scoredAt > to) return false;
    return true;
  }

  /** One capture's predictions, highest flow index first; the cursor is the last prediction id returned. */
  async #captureHistory(
    captureId: string,
    query: HistoryQuery,
    from: string | undefined,
    to: string | undefined,
    after: string | undefined,
  ): Promise<HistoryPage> {
    const filter = this.#pageFilter(query, from, to, false);
    const afterIndex = after === undefined ? undefined : parseCapturePredictionId(after)?.[1];
    if (after !== undefined && afterIndex === undefined)
      throw new ValidationError('cursor is not a cursor returned by this API', { field: 'cursor' });
    const upperSk =
      afterIndex === undefined
        ? `${PAGE_PREFIX}\uffff`
        : capturePageSk(Math.floor((afterIndex - 1) / PREDICTION_PAGE_SIZE) * PREDICTION_PAGE_SIZE + 1);
    const items: Prediction[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#query({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
        ...(filter.FilterExpression ? { FilterExpression: filter.FilterExpression } : {}),
        ExpressionAttributeValues: {
          ...filter.values,
          ':pk': capturePk(captureId),
          ':lower': PAGE_PREFIX,
          ':upper': upperSk,
        },
        ScanIndexForward: false,
        Limit: HISTORY_PAGES_PER_QUERY,
        ExclusiveStartKey: startKey,
      });
      for (const item of output.items) {
        const rows = readPage(item).rows;
        for (let i = rows.length - 1; i >= 0; i--) {
          const row = rows[i] as PageRow;
          if (after !== undefined && row.id >= after) continue;
          if (!this.#rowMatches(row, query, from, to)) continue;
          items.push(row.toPrediction());
          if (items.length >= query.limit) {
            return { items, nextCursor: encodeCursor({ kind: 'capture', after: row.id }) };
          }
        }
      }
      startKey = output.lastKey;
    } while (startKey);
    return { items, nextCursor: null };
  }

  /**
   * History across captures and API calls, newest first, from the sharded `by-time` index of pages.
   *
   * Each page item's gsi1sk is its newest entry's key (`{scored_at}#{prediction_id}`). Pages may overlap in
   * time (concurrent API pages), so a page read does not finalise its rows by itself. Per shard, pages are
   * read newest-gsi1sk first; every unread page of a shard holds only keys below the last gsi1sk evaluated
   * there. Candidates at or above the highest such bound (over unfinished shards) are final; pages are read
   * until `limit` rows are final. The cursor keeps the last key returned (`after`, exclusive) and a bound on
   * the gsi1sk of pages that may still hold older rows (`from`, inclusive), so pages never skip or repeat.
   */
  async #timeHistory(
    query: HistoryQuery,
    from: string | undefined,
    to: string | undefined,
    cursor: Extract<Cursor, { kind: 'time' }> | undefined,
  ): Promise<HistoryPage> {
    const now = this.#now();
    const newest = to ?? new Date(now.getTime() + DAY_MS).toISOString();
    const oldest = from ?? new Date(now.getTime() - this.#retentionDays * DAY_MS).toISOString();
    const filter = this.#pageFilter(query, from, to, query.captureId === 'api');
    const items: Prediction[] = [];
    let dayMs = Date.parse(`${cursor ? cursor.day : dayOf(newest)}T00:00:00.000Z`);
    let after: string | undefined = cursor?.after;
    let pageBound: string | undefined = cursor?.from;
    const oldestDayMs = Date.parse(`${dayOf(oldest)}T00:00:00.000Z`);
    while (dayMs >= oldestDayMs) {
      const day = new Date(dayMs).toISOString().slice(0, 10);
      const shards = Array.from({ length: this.#shards }, (_, shard) => ({
        partition: `TIME#${day}#${shard}`,
        startKey: undefined as Record<string, unknown> | undefined,
        done: false,
        lastEvaluated: '',
      }));
      let candidates: Candidate[] = [];
      for (;;) {
        const open = shards.filter((s) => !s.done);
        const fetched = await Promise.all(
          open.map((s) => this.#timePages(s.partition, pageBound, filter, s.startKey)),
        );
        open.forEach((s, i) => {
          const result = fetched[i];
          if (!result) return;
          s.startKey = result.lastKey;
          s.done = result.lastKey === undefined;
          s.lastEvaluated = typeof result.lastKey?.gsi1sk === 'string' ? result.lastKey.gsi1sk : '';
          for (const page of result.pages) {
            for (const row of page.rows) {
              if (after !== undefined && row.key >= after) continue;
              if (!this.#rowMatches(row, query, from, to)) continue;
              candidates.push({ row, pageKey: page.gsi1sk });
            }
          }
        });
        // Rows in unread pages are below every unfinished shard's last evaluated key.
        let bound = '';
        for (const s of shards) if (!s.done && s.lastEvaluated > bound) bound = s.lastEvaluated;
        candidates.sort((a, b) => (a.row.key < b.row.key ? 1 : a.row.key > b.row.key ? -1 : 0));
        let final = candidates.length;
        if (bound !== '') {
          final = 0;
          while (final < candidates.length && (candidates[final] as Candidate).row.key >= bound) final++;
        }
        const need = query.limit - items.length;
        if (final < need && bound !== '') continue;
        const taken = candidates.slice(0, Math.min(need, final));
        for (const candidate of taken) items.push(candidate.row.toPrediction());
        if (items.length >= query.limit) {
          const last = taken[taken.length - 1];
          if (!last) return { items, nextCursor: null };
          candidates = candidates.slice(taken.length);
          // Pages that may still hold rows below `last`: read ones with rows left, and every unread one.
          let nextBound = bound;
          for (const candidate of candidates)
            if (candidate.pageKey > nextBound) nextBound = candidate.pageKey;
          const next: Extract<Cursor, { kind: 'time' }> = { kind: 'time', day, after: last.row.key };
          if (nextBound !== '') next.from = nextBound;
          else if (candidates.length === 0 && shards.every((s) => s.done)) next.from = '';
          return { items, nextCursor: encodeCursor(next) };
        }
        break;
      }
      after = undefined;
      pageBound = undefined;
      dayMs -= DAY_MS;
    }
    return { items, nextCursor: null };
  }

  /** Up to HISTORY_PAGES_PER_QUERY page items of one time-index partition, newest first, gsi1sk ≤ bound. */
  async #timePages(
    partition: string,
    bound: string | undefined,
    filter: { FilterExpression?: string; values: Record<string, unknown> },
    startKey: Record<string, unknown> | undefined,
  ): Promise<{ pages: PageItem[]; lastKey: Record<string, unknown> | undefined }> {
    // An empty bound: this day has nothing left below the cursor.
    if (bound === '') return { pages: [], lastKey: undefined };
    const output = await this.#query({
      TableName: this.#table,
      IndexName: TABLE_KEYS.timeIndex,
      KeyConditionExpression:
        bound === undefined ? 'gsi1pk = :partition' : 'gsi1pk = :partition AND gsi1sk <= :bound',
      ...(filter.FilterExpression ? { FilterExpression: filter.FilterExpression } : {}),
      ExpressionAttributeValues: {
        ...filter.values,
        ':partition': partition,
        ...(bound === undefined ? {} : { ':bound': bound }),
      },
      ScanIndexForward: false,
      Limit: HISTORY_PAGES_PER_QUERY,
      ExclusiveStartKey: startKey,
    });
    return {
      pages: output.items.map((item) => ({ rows: readPage(item).rows, gsi1sk: String(item.gsi1sk) })),
      lastKey: output.lastKey,
    };
  }

  async #query(input: QueryCommandInput): Promise<{
    items: Record<string, unknown>[];
    count: number;
    lastKey: Record<string, unknown> | undefined;
  }> {
    try {
      const output = await this.#client.send(new QueryCommand(input));
      return { items: output.Items ?? [], count: output.Count ?? 0, lastKey: output.LastEvaluatedKey };
    } catch (error) {
      throw dependencyError('Query', error);
    }
  }
}

/** The page slot of an API prediction id (-1 for other ids). */
function apiSlotOf(predictionId: string): number {
  return parseApiPredictionId(predictionId)?.slot ?? -1;
}

function readPage(item: Record<string, unknown>): { rows: PageRow[] } {
  const body = item.body;
  if (!(body instanceof Uint8Array)) {
    throw new DependencyError('A prediction page item has no body', { dependency: 'dynamodb' });
  }
  return { rows: decodePredictionPage(body) };
}
