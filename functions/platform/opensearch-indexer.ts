import { setTimeout as sleepMs } from 'node:timers/promises';
import { Client } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import { z } from 'zod';
import {
  DEFAULT_FLOWS_INDEX,
  type EcsDocument,
  FLOWS_TEMPLATE_VERSION,
  flowsIndexTemplate,
} from '../records/ecs-document.js';
import { DependencyError } from './errors.js';

/**
 * Bulk-indexes search documents into OpenSearch with `_id` = prediction id (a redelivery overwrites, never
 * duplicates), installs the `ccf-flows` index template when it is missing, retries items rejected with 429
 * (and whole requests answered 429) with exponential backoff, and returns one result per document.
 */

/** What the indexer reads back from an installed template: its version (absent before versions existed → 0). */
const templateMetaSchema = z.object({ template_version: z.number().int() });

export interface OpenSearchConnection {
  url: string;
  /** Set on AWS: requests are signed with SigV4 (service `es`) using the default credential chain. */
  awsRegion?: string;
}

/** One client per container. Amazon OpenSearch endpoints (`*.amazonaws.com`) are signed with SigV4. */
export function createOpenSearchClient(connection: OpenSearchConnection): Client {
  const isAws = /\.amazonaws\.com(:\d+)?\/?$/.test(new URL(connection.url).host);
  if (isAws) {
    return new Client({
      ...AwsSigv4Signer({ region: connection.awsRegion ?? 'us-east-1', service: 'es' }),
      node: connection.url,
      requestTimeout: 30_000,
    });
  }
  return new Client({ node: connection.url, requestTimeout: 30_000, maxRetries: 0 });
}

export interface IndexRequest {
  id: string;
  /** The document, or its JSON text (`ecsDocumentJson`: sent as it is, not serialised again). */
  document: EcsDocument | string;
}

export type IndexItemResult =
  | { id: string; ok: true; status: number }
  /** `retryable`: 429/5xx (try again later); otherwise the document itself was refused (mapping, size). */
  | { id: string; ok: false; status: number; retryable: boolean; error: string };

export interface OpenSearchIndexerOptions {
  client: Client;
  index?: string;
  templateName?: string;
  /** Attempts for items (or requests) answered 429, including the first. */
  maxAttempts?: number;
  /** Documents per `_bulk` request (a larger batch is split). */
  bulkSize?: number;
  /**
   * `_bulk` requests in flight per call. One capture's predictions share a Kafka key, hence one partition, so
   * its batches reach the indexer one after another; sending a batch's bulks side by side is what lets the
   * single-node write thread pool and the network overlap.
   */
  bulkConcurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<unknown>;
}

/** Items keep their positions (every item has a status), so results are still matched by index. */
const BULK_RESPONSE_FIELDS = ['items.*.status', 'items.*.error.type', 'items.*.error.reason'];

interface BulkItem {
  status?: number;
  _id?: string | null;
  error?: { type?: string; reason?: string | null } | null;
}

function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'meta' in error) {
    const meta = (error as { meta?: { statusCode?: unknown } }).meta;
    if (typeof meta?.statusCode === 'number') return meta.statusCode;
  }
  return undefined;
}

/** The `_bulk` body as NDJSON text: documents given as text are copied into it, others serialised. */
function bulkBody(index: string, requests: readonly IndexRequest[]): string {
  const action = `{"index":{"_index":${JSON.stringify(index)},"_id":`;
  const lines: string[] = [];
  for (const r of requests) {
    lines.push(
      `${action}${JSON.stringify(r.id)}}}`,
      typeof r.document === 'string' ? r.document : JSON.stringify(r.document),
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** What the indexer reads of a `_bulk` answer (trimmed by `filter_path`): each item's status and error. */
const bulkResponseSchema = z.object({
  items: z
    .array(
      z.record(
        z.string(),
        z.object({
          status: z.number().optional(),
          error: z.object({ type: z.string().optional(), reason: z.string().nullish() }).nullish(),
        }),
      ),
    )
    .optional(),
});

export class OpenSearchIndexer {
  readonly client: Client;
  readonly index: string;
  readonly #templateName: string;
  readonly #maxAttempts: number;
  readonly #bulkSize: number;
  readonly #bulkConcurrency: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #sleep: (ms: number) => Promise<unknown>;
  #templateReady: Promise<void> | undefined;

  constructor(options: OpenSearchIndexerOptions) {
    this.client = options.client;
    this.index = options.index ?? DEFAULT_FLOWS_INDEX;
    this.#templateName = options.templateName ?? `${this.index}-template`;
    this.#maxAttempts = options.maxAttempts ?? 6;
    this.#bulkSize = Math.max(1, options.bulkSize ?? 500);
    this.#bulkConcurrency = Math.max(1, options.bulkConcurrency ?? 3);
    this.#baseDelayMs = options.baseDelayMs ?? 200;
    this.#maxDelayMs = options.maxDelayMs ?? 5000;
    this.#sleep = options.sleep ?? sleepMs;
  }

  /**
   * Installs the index template once per container when it is missing or older than this code's
   * (`_meta.template_version`); a newer one (installed by a later deployment) is left as is. Existing indices
   * keep their settings; the template applies to indices created afterwards.
   */
  ensureTemplate(): Promise<void> {
    this.#templateReady ??= (async () => {
      try {
        const exists = await this.client.indices.existsIndexTemplate({ name: this.#templateName });
        if (exists.body === true && (await this.#installedTemplateVersion()) >= FLOWS_TEMPLATE_VERSION)
          return;
        await this.client.indices.putIndexTemplate({
          name: this.#templateName,
          body: flowsIndexTemplate(`${this.index}*`),
        });
      } catch (error) {
        throw new DependencyError(
          `OpenSearch index template ${this.#templateName} could not be installed: ${(error as Error).message}`,
          { dependency: 'opensearch' },
          { cause: error },
        );
      }
    })();
    const installing = this.#templateReady;
    installing.catch(() => {
      if (this.#templateReady === installing) this.#templateReady = undefined;
    });
    return installing;
  }

  async #installedTemplateVersion(): Promise<number> {
    const response = await this.client.indices.getIndexTemplate({ name: this.#templateName });
    const meta = templateMetaSchema.safeParse(
      response.body.index_templates?.[0]?.index_template?.template?.mappings?._meta,
    );
    return meta.success ? meta.data.template_version : 0;
  }

  #delay(attempt: number): number {
    const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /**
   * Indexes the documents; one result per request in the same order. Throws `DependencyError` when OpenSearch
   * cannot be reached at all (the whole batch failed).
   */
  async indexDocuments(requests: readonly IndexRequest[]): Promise<IndexItemResult[]> {
    if (requests.length === 0) return [];
    await this.ensureTemplate();
    const results = new Map<string, IndexItemResult>();
    // The last request for an id wins (a batch may carry the same message twice).
    const unique = [...new Map(requests.map((r) => [r.id, r])).values()];
    const chunks: IndexRequest[][] = [];
    for (let i = 0; i < unique.length; i += this.#bulkSize) chunks.push(unique.slice(i, i + this.#bulkSize));
    const errors: unknown[] = [];
    let next = 0;
    const worker = async () => {
      for (let chunk = chunks[next++]; chunk; chunk = chunks[next++]) {
        try {
          await this.#indexChunk(chunk, results);
        } catch (error) {
          // This bulk could not be sent at all: its documents are retryable failures (the others may have landed).
          errors.push(error);
          const message = error instanceof Error ? error.message : String(error);
          for (const r of chunk)
            results.set(r.id, { id: r.id, ok: false, status: 503, retryable: true, error: message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#bulkConcurrency, chunks.length) }, worker));
    // Nothing reached OpenSearch: say so as one error (the caller reports the whole batch for redelivery).
    if (errors.length === chunks.length) throw errors[0];
    return requests.map(
      (r) =>
        results.get(r.id) ?? { id: r.id, ok: false, status: 500, retryable: true, error: 'no bulk result' },
    );
  }

  async #indexChunk(chunk: IndexRequest[], results: Map<string, IndexItemResult>): Promise<void> {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const body = bulkBody(this.index, pending);
      let items: BulkItem[];
      try {
        // Only what is read back: a full answer repeats index, id, version, seq_no and shard counts for every
        // document (~200 bytes each), which OpenSearch serialises and this process parses for nothing.
        // Through the transport: the typed `bulk` API takes the body only as an array, which the client would
        // serialise again; the transport sends NDJSON text as it is.
        const response = await this.client.transport.request({
          method: 'POST',
          path: '/_bulk',
          querystring: { filter_path: BULK_RESPONSE_FIELDS.join(',') },
          bulkBody: body,
        });
        const parsed = bulkResponseSchema.safeParse(response.body);
        if (!parsed.success) throw new Error(`unexpected _bulk answer: ${parsed.error.issues[0]?.message}`);
        items = (parsed.data.items ?? []).map((item): BulkItem => Object.values(item)[0] ?? {});
      } catch (error) {
        const status = statusOf(error);
        if (status === 429 && attempt + 1 < this.#maxAttempts) {
          await this.#sleep(this.#delay(attempt));
          continue;
        }
        throw new DependencyError(
          `OpenSearch bulk request failed${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}`,
          { dependency: 'opensearch', ...(status ? { status } : {}) },
          { cause: error },
        );
      }
      const retry: IndexRequest[] = [];
      pending.forEach((request, i) => {
        const item = items[i];
        const status = item?.status ?? 500;
        if (status >= 200 && status < 300) {
          results.set(request.id, { id: request.id, ok: true, status });
          return;
        }
        const error = item?.error ? `${item.error.type}: ${item.error.reason ?? ''}` : `HTTP ${status}`;
        if (status === 429 && attempt + 1 < this.#maxAttempts) {
          retry.push(request);
          return;
        }
        results.set(request.id, {
          id: request.id,
          ok: false,
          status,
          retryable: status === 429 || status >= 500,
          error,
        });
      });
      pending = retry;
      if (pending.length > 0) await this.#sleep(this.#delay(attempt));
    }
  }
}
