import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { type Prediction, predictionSchema } from '../records/prediction.js';
import { DependencyError, ValidationError } from './errors.js';
import type {
  CaptureErrorInfo,
  CaptureRecord,
  CaptureRepository,
  HistoryPage,
  HistoryQuery,
  NewCapture,
  ParseResult,
  PipelineStage,
  PredictionRepository,
  PublishResult,
  ScoreSummary,
} from './ports.js';

/**
 * One DynamoDB table for captures and predictions (see docs/pipeline.md, "Table design"):
 *
 * | item                | pk                    | sk                     | gsi1pk (index `by-time`)      | gsi1sk                      |
 * | capture             | CAPTURE#{id}          | #CAPTURE               | –                             | –                           |
 * | capture prediction  | CAPTURE#{id}          | PRED#{prediction_id}   | TIME#{yyyy-mm-dd}#{shard}     | {scored_at}#{prediction_id} |
 * | API prediction      | APIPRED#{uuid}        | PRED                   | TIME#{yyyy-mm-dd}#{shard}     | {scored_at}#{prediction_id} |
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
const PREDICTION_PREFIX = 'PRED#';
const BATCH_WRITE_MAX_ITEMS = 25;
const BATCH_WRITE_CONCURRENCY = 8;
const MAX_UNPROCESSED_ATTEMPTS = 10;
/** Coalesced small writes (POST /api/predict): at most this many BatchWriteItem calls in flight. */
const COALESCE_MAX_IN_FLIGHT = 4;
const DAY_MS = 86_400_000;

const capturePk = (captureId: string) => `CAPTURE#${captureId}`;

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

const cursorSchema = z.union([
  z.object({ kind: z.literal('time'), day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), after: z.string() }),
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
   * Coalesce small concurrent `putMany` calls (fewer than 25 items, e.g. one POST /api/predict each) into
   * shared BatchWriteItem calls. Every caller still awaits the durable write of its own items. Default on.
   */
  coalesceWrites?: boolean;
}

interface PendingWrite {
  key: string;
  item: Record<string, unknown>;
  done: (error?: unknown) => void;
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

  async markScored(captureId: string, summary: ScoreSummary, publish: PublishResult): Promise<void> {
    await this.#transition(
      captureId,
      'PARSED',
      'SCORED',
      'SET score = :score, publish = :publish',
      { ':score': summary, ':publish': publish },
      'score_claim_ms',
    );
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
        throw new DependencyError(`Capture ${captureId} left state ${from} before it could become ${to}`, {
          dependency: 'dynamodb',
          captureId,
        });
      }
      throw dependencyError(`UpdateItem (${to})`, error);
    }
  }
}

export class DynamoPredictionRepository implements PredictionRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionS: number;
  readonly #retentionDays: number;
  readonly #shards: number;
  readonly #now: () => Date;
  readonly #coalesce: boolean;
  #pending: PendingWrite[] = [];
  #inFlight = 0;
  #drainScheduled = false;

  constructor(options: DynamoRepositoryOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#coalesce = options.coalesceWrites ?? true;
    this.#retentionDays = options.retentionDays;
    this.#retentionS = options.retentionDays * 86_400;
    this.#shards = options.timeIndexShards;
    this.#now = options.now ?? (() => new Date());
  }

  #item(prediction: Prediction): Record<string, unknown> {
    const isApi = prediction.capture_id === 'api';
    const scoredAt = new Date(prediction.scored_at).toISOString();
    // The scored record is kept as one JSON string: ~90 flow columns as separate map attributes cost
    // marshalling, validation and index work per attribute, and nothing queries inside them.
    const { input, ...fields } = prediction;
    return {
      ...fields,
      input_json: JSON.stringify(input),
      pk: isApi ? `APIPRED#${prediction.prediction_id}` : capturePk(prediction.capture_id),
      sk: isApi ? 'PRED' : `${PREDICTION_PREFIX}${prediction.prediction_id}`,
      entity: 'prediction',
      gsi1pk: `TIME#${dayOf(scoredAt)}#${shardOf(prediction.prediction_id, this.#shards)}`,
      gsi1sk: `${scoredAt}#${prediction.prediction_id}`,
      expires_at: Math.floor(Date.parse(scoredAt) / 1000) + this.#retentionS,
    };
  }

  async putMany(predictions: readonly Prediction[]): Promise<void> {
    if (predictions.length === 0) return;
    if (this.#coalesce && predictions.length < BATCH_WRITE_MAX_ITEMS) {
      await Promise.all(predictions.map((p) => this.#enqueue(this.#item(p))));
      return;
    }
    const groups: Record<string, unknown>[][] = [];
    for (let i = 0; i < predictions.length; i += BATCH_WRITE_MAX_ITEMS) {
      groups.push(predictions.slice(i, i + BATCH_WRITE_MAX_ITEMS).map((p) => this.#item(p)));
    }
    let next = 0;
    const worker = async () => {
      while (next < groups.length) {
        const group = groups[next++];
        if (group) await this.#writeGroup(group);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_WRITE_CONCURRENCY, groups.length) }, worker));
  }

  /**
   * Write-behind queue for small writes: items wait (at most one event-loop turn when idle) and are sent
   * in groups of up to 25 with at most COALESCE_MAX_IN_FLIGHT calls in flight, so under load the groups
   * fill up while earlier calls are busy. Each promise settles with its own item's result (a failed
   * shared call is retried item by item).
   */
  #enqueue(item: Record<string, unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        key: `${String(item.pk)}\u0000${String(item.sk)}`,
        item,
        done: (error?: unknown) => (error === undefined ? resolve() : reject(error)),
      });
      if (!this.#drainScheduled) {
        this.#drainScheduled = true;
        setImmediate(() => {
          this.#drainScheduled = false;
          this.#drain();
        });
      }
    });
  }

  #drain(): void {
    while (this.#pending.length > 0 && this.#inFlight < COALESCE_MAX_IN_FLIGHT) {
      // A batch may not hold the same key twice: a repeated key waits for the next group.
      const group: PendingWrite[] = [];
      const keys = new Set<string>();
      const rest: PendingWrite[] = [];
      for (const entry of this.#pending) {
        if (group.length < BATCH_WRITE_MAX_ITEMS && !keys.has(entry.key)) {
          keys.add(entry.key);
          group.push(entry);
        } else rest.push(entry);
      }
      this.#pending = rest;
      this.#inFlight++;
      this.#writeGroup(group.map((entry) => entry.item))
        .then(
          () => {
            for (const entry of group) entry.done();
          },
          async (error: unknown) => {
            if (group.length === 1) {
              group[0]?.done(error ?? new Error('BatchWriteItem failed'));
              return;
            }
            // One bad item (e.g. over the item size limit) must not fail the requests it shared a call
            // with: write each on its own so every caller gets its own item's outcome.
            await Promise.all(
              group.map((entry) =>
                this.#writeGroup([entry.item]).then(
                  () => entry.done(),
                  (single: unknown) => entry.done(single ?? new Error('BatchWriteItem failed')),
                ),
              ),
            );
          },
        )
        .finally(() => {
          this.#inFlight--;
          this.#drain();
        });
    }
  }

  async #writeGroup(items: Record<string, unknown>[]): Promise<void> {
    let requestItems: BatchWriteCommandInput['RequestItems'] = {
      [this.#table]: items.map((Item) => ({ PutRequest: { Item } })),
    };
    for (let attempt = 0; attempt < MAX_UNPROCESSED_ATTEMPTS; attempt++) {
      let output: { UnprocessedItems?: BatchWriteCommandInput['RequestItems'] };
      try {
        output = await this.#client.send(new BatchWriteCommand({ RequestItems: requestItems }));
      } catch (error) {
        const throttled = error instanceof Error && /Throttl|ProvisionedThroughputExceeded/.test(error.name);
        if (!throttled) throw dependencyError('BatchWriteItem', error);
        await sleep(Math.min(2000, 50 * 2 ** attempt));
        continue;
      }
      const unprocessed = output.UnprocessedItems?.[this.#table];
      if (!unprocessed || unprocessed.length === 0) return;
      requestItems = { [this.#table]: unprocessed };
      // Exponential backoff with jitter, as DynamoDB asks for unprocessed items.
      await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
    }
    throw new DependencyError(`DynamoDB left items unprocessed after ${MAX_UNPROCESSED_ATTEMPTS} attempts`, {
      dependency: 'dynamodb',
    });
  }

  async putIfAbsent(prediction: Prediction): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: this.#item(prediction),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependencyError('PutItem (prediction)', error);
    }
  }

  async countForCapture(captureId: string): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#query({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': capturePk(captureId), ':prefix': PREDICTION_PREFIX },
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      });
      count += output.count;
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

  #filter(query: HistoryQuery, from: string | undefined, to: string | undefined, captureId?: string) {
    const parts: string[] = [];
    const values: Record<string, unknown> = {};
    if (query.verdict) {
      parts.push('verdict = :verdict');
      values[':verdict'] = query.verdict;
    }
    if (from) {
      parts.push('scored_at >= :from');
      values[':from'] = from;
    }
    if (to) {
      parts.push('scored_at <= :to');
      values[':to'] = to;
    }
    if (captureId) {
      parts.push('capture_id = :capture');
      values[':capture'] = captureId;
    }
    return parts.length > 0 ? { FilterExpression: parts.join(' AND '), values } : { values };
  }

  async #captureHistory(
    captureId: string,
    query: HistoryQuery,
    from: string | undefined,
    to: string | undefined,
    after: string | undefined,
  ): Promise<HistoryPage> {
    const filter = this.#filter(query, from, to);
    const items: Prediction[] = [];
    let startKey: Record<string, unknown> | undefined = after
      ? { pk: capturePk(captureId), sk: after }
      : undefined;
    let lastSk: string | undefined;
    while (items.length < query.limit) {
      const output = await this.#query({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ...(filter.FilterExpression ? { FilterExpression: filter.FilterExpression } : {}),
        ExpressionAttributeValues: {
          ...filter.values,
          ':pk': capturePk(captureId),
          ':prefix': PREDICTION_PREFIX,
        },
        ScanIndexForward: false,
        Limit: query.limit - items.length,
        ExclusiveStartKey: startKey,
      });
      for (const item of output.items) {
        items.push(predictionSchema.parse(pickPrediction(item)));
        lastSk = String(item.sk);
      }
      startKey = output.lastKey;
      if (!startKey) return { items, nextCursor: null };
    }
    return { items, nextCursor: lastSk ? encodeCursor({ kind: 'capture', after: lastSk }) : null };
  }

  async #timeHistory(
    query: HistoryQuery,
    from: string | undefined,
    to: string | undefined,
    cursor: Extract<Cursor, { kind: 'time' }> | undefined,
  ): Promise<HistoryPage> {
    const now = this.#now();
    const newest = to ?? new Date(now.getTime() + DAY_MS).toISOString();
    const oldest = from ?? new Date(now.getTime() - this.#retentionDays * DAY_MS).toISOString();
    const filter = this.#filter(query, from, to, query.captureId === 'api' ? 'api' : undefined);
    const items: Prediction[] = [];
    let dayMs = Date.parse(`${cursor ? cursor.day : dayOf(newest)}T00:00:00.000Z`);
    let after: string | undefined = cursor?.after;
    const oldestDayMs = Date.parse(`${dayOf(oldest)}T00:00:00.000Z`);
    while (dayMs >= oldestDayMs) {
      const day = new Date(dayMs).toISOString().slice(0, 10);
      const need = query.limit - items.length;
      const upper = after ?? `${newest}#\uffff`;
      const perShard = await Promise.all(
        Array.from({ length: this.#shards }, (_, shard) =>
          this.#shardTop(`TIME#${day}#${shard}`, upper, need, filter),
        ),
      );
      const merged = perShard.flat().sort((a, b) => (a.gsi1sk < b.gsi1sk ? 1 : a.gsi1sk > b.gsi1sk ? -1 : 0));
      const taken = merged.slice(0, need);
      for (const entry of taken) items.push(entry.prediction);
      if (items.length >= query.limit) {
        const last = taken[taken.length - 1];
        return { items, nextCursor: last ? encodeCursor({ kind: 'time', day, after: last.gsi1sk }) : null };
      }
      after = undefined;
      dayMs -= DAY_MS;
    }
    return { items, nextCursor: null };
  }

  /** The `need` newest matching items of one time-index partition strictly below `upper`. */
  async #shardTop(
    partition: string,
    upper: string,
    need: number,
    filter: { FilterExpression?: string; values: Record<string, unknown> },
  ): Promise<{ gsi1sk: string; prediction: Prediction }[]> {
    const found: { gsi1sk: string; prediction: Prediction }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#query({
        TableName: this.#table,
        IndexName: TABLE_KEYS.timeIndex,
        KeyConditionExpression: 'gsi1pk = :partition AND gsi1sk < :upper',
        ...(filter.FilterExpression ? { FilterExpression: filter.FilterExpression } : {}),
        ExpressionAttributeValues: { ...filter.values, ':partition': partition, ':upper': upper },
        ScanIndexForward: false,
        Limit: need - found.length,
        ExclusiveStartKey: startKey,
      });
      for (const item of output.items) {
        found.push({ gsi1sk: String(item.gsi1sk), prediction: predictionSchema.parse(pickPrediction(item)) });
      }
      startKey = output.lastKey;
    } while (startKey && found.length < need);
    return found;
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

const PREDICTION_FIELDS = Object.keys(predictionSchema.shape) as (keyof Prediction)[];

function pickPrediction(item: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of PREDICTION_FIELDS) picked[field] = item[field];
  picked.input = typeof item.input_json === 'string' ? JSON.parse(item.input_json) : item.input;
  return picked;
}
