import type { Client } from '@opensearch-project/opensearch';
import { z } from 'zod';
import { DEFAULT_FLOWS_INDEX, type EcsDocument, ecsDocumentSchema } from '../records/ecs-document.js';
import { DependencyError, ValidationError } from './errors.js';

/**
 * GET /api/flows: a safe search subset over the flows index. `q` holds `key:value` terms (verdict, label, ip,
 * port, capture, from, to) — never OpenSearch query syntax — and the same keys work as query parameters.
 * Results newest first, paginated with an opaque cursor (search_after on @timestamp + prediction id).
 */

const Q_KEYS = ['verdict', 'label', 'ip', 'port', 'capture', 'from', 'to'] as const;
type QKey = (typeof Q_KEYS)[number];

const ipOrCidr = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);
const isoTime = z.iso.datetime({ offset: true }).or(z.iso.date());

export const flowSearchQuerySchema = z
  .object({
    q: z.string().max(500).optional(),
    verdict: z.enum(['benign', 'malicious']).optional(),
    label: z.string().min(1).max(200).optional(),
    ip: ipOrCidr.optional(),
    port: z.coerce.number().int().min(0).max(65535).optional(),
    capture: z.string().min(1).max(200).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(2000).optional(),
  })
  .strict();
export type FlowSearchQuery = z.infer<typeof flowSearchQuerySchema>;

/** Splits `q` into terms; a value may be quoted (`label:"DoS Hulk"`). Unknown keys and bare words are refused. */
export function parseQ(q: string): Partial<Record<QKey, string>> {
  const out: Partial<Record<QKey, string>> = {};
  const term = /\s*([a-z_]+):(?:"([^"]*)"|(\S+))\s*/y;
  let rest = q.trim();
  while (rest !== '') {
    term.lastIndex = 0;
    const match = term.exec(rest);
    if (!match) {
      throw new ValidationError(`q: expected key:value terms (keys: ${Q_KEYS.join(', ')}), got '${rest}'`, {
        field: 'q',
      });
    }
    const key = match[1] as string;
    if (!(Q_KEYS as readonly string[]).includes(key)) {
      throw new ValidationError(`q: unknown key '${key}' (allowed: ${Q_KEYS.join(', ')})`, { field: 'q' });
    }
    out[key as QKey] = match[2] ?? match[3] ?? '';
    rest = rest.slice(term.lastIndex);
  }
  return out;
}

/** Merges `q` terms into the explicit parameters (parameters win) and validates the result. */
export function resolveFlowSearch(raw: Record<string, string | undefined>): FlowSearchQuery {
  const first = flowSearchQuerySchema.safeParse(raw);
  if (!first.success) {
    const issue = first.error.issues[0];
    const field =
      issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys[0] : '') || 'query';
    throw new ValidationError(`${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  if (!first.data.q) return first.data;
  const fromQ = parseQ(first.data.q);
  const merged: Record<string, string | undefined> = { ...fromQ };
  for (const [key, value] of Object.entries(raw)) if (value !== undefined && key !== 'q') merged[key] = value;
  const second = flowSearchQuerySchema.safeParse(merged);
  if (!second.success) {
    const issue = second.error.issues[0];
    const field = `q.${issue?.path.join('.') ?? ''}`;
    throw new ValidationError(`${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  return { ...second.data, q: first.data.q };
}

const cursorSchema = z.tuple([z.number(), z.string()]);

function decodeCursor(cursor: string): [number, string] {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('cursor: not a cursor returned by this API', { field: 'cursor' });
}

type Clause = Record<string, unknown>;

export function buildSearchBody(query: FlowSearchQuery): Record<string, unknown> {
  const filter: Clause[] = [];
  if (query.verdict) filter.push({ term: { 'ccf.prediction.verdict': query.verdict } });
  if (query.label) filter.push({ term: { 'ccf.prediction.label': query.label } });
  if (query.capture) filter.push({ term: { 'ccf.capture.id': query.capture } });
  if (query.ip) filter.push({ term: { 'related.ip': query.ip } });
  if (query.port !== undefined) {
    filter.push({
      bool: {
        should: [{ term: { 'source.port': query.port } }, { term: { 'destination.port': query.port } }],
        minimum_should_match: 1,
      },
    });
  }
  if (query.from || query.to) {
    filter.push({
      range: {
        '@timestamp': { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lte: query.to } : {}) },
      },
    });
  }
  return {
    size: query.limit,
    track_total_hits: true,
    query: { bool: { filter } },
    sort: [{ '@timestamp': { order: 'desc' } }, { 'ccf.prediction_id': { order: 'asc' } }],
    ...(query.cursor ? { search_after: decodeCursor(query.cursor) } : {}),
  };
}

export interface FlowSearchPage {
  total: number;
  items: EcsDocument[];
  nextCursor: string | null;
}

const hitSchema = z.object({
  _source: ecsDocumentSchema,
  sort: z.tuple([z.number(), z.string()]).optional(),
});

export class OpenSearchFlowSearch {
  readonly #client: Client;
  readonly #index: string;

  constructor(client: Client, index = DEFAULT_FLOWS_INDEX) {
    this.#client = client;
    this.#index = index;
  }

  async search(query: FlowSearchQuery): Promise<FlowSearchPage> {
    const body = buildSearchBody(query);
    let hits: unknown[];
    let total: number;
    try {
      const response = await this.#client.search({ index: this.#index, body, ignore_unavailable: true });
      hits = response.body.hits.hits;
      const t = response.body.hits.total;
      total = typeof t === 'number' ? t : (t?.value ?? 0);
    } catch (error) {
      throw new DependencyError(
        `OpenSearch search failed: ${(error as Error).message}`,
        { dependency: 'opensearch' },
        { cause: error },
      );
    }
    const items: EcsDocument[] = [];
    let lastSort: [number, string] | undefined;
    for (const hit of hits) {
      const parsed = hitSchema.safeParse(hit);
      if (!parsed.success) continue;
      items.push(parsed.data._source);
      lastSort = parsed.data.sort;
    }
    const nextCursor =
      hits.length === query.limit && lastSort
        ? Buffer.from(JSON.stringify(lastSort)).toString('base64url')
        : null;
    return { total, items, nextCursor };
  }
}
