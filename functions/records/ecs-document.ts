import { isIP } from 'node:net';
import { z } from 'zod';
import type { Prediction } from './prediction.js';
import type { PredictionMessage } from './prediction-message.js';

/**
 * The OpenSearch document for one prediction: ECS names for what ECS covers (`@timestamp`, `event.*`,
 * `source.*`, `destination.*`, `network.*` incl. `network.community_id`, `related.ip`), everything else under
 * `ccf.*` (see ../shared/design/FLOW-FEATURES.md, "Search documents"). `_id` = `prediction_id`, so a
 * redelivered message overwrites its own document instead of adding one. Pure module.
 */
export const ECS_VERSION = '8.11.0';
export const SEARCH_DOCUMENT_VERSION = 1;
/** Bumped whenever `flowsIndexTemplate` changes, so the indexer replaces an older installed template. */
export const FLOWS_TEMPLATE_VERSION = 3;
export const DEFAULT_FLOWS_INDEX = 'ccf-flows';

const IANA_TRANSPORT: Readonly<Record<number, string>> = {
  1: 'icmp',
  2: 'igmp',
  6: 'tcp',
  17: 'udp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  132: 'sctp',
};

/** Flow columns that become ECS fields (or ccf.flow_id) instead of `ccf.features.*`. */
const IDENTITY_COLUMNS = new Set([
  'Flow ID',
  'Src IP',
  'Src Port',
  'Dst IP',
  'Dst Port',
  'Protocol',
  'Timestamp',
  'community_id',
  'ip_version',
]);

/** CIC time columns are microseconds; their snake_case names carry the unit. */
const MICROSECOND_COLUMN = /(Duration|IAT|Active|Idle|Total TCP Flow Time)/;

/** `Flow Bytes/s` → `flow_bytes_per_s`, `Fwd IAT Mean` → `fwd_iat_mean_us`, `Down/Up Ratio` → `down_up_ratio`. */
export function featureFieldName(column: string): string {
  // Every document maps the same ~90 column names: six regex passes per name per document were a third of the
  // indexer's CPU (bench), so names are converted once per process.
  let name = fieldNames.get(column);
  if (name === undefined) {
    name = convertFeatureName(column);
    if (fieldNames.size < 10_000) fieldNames.set(column, name);
  }
  return name;
}

const fieldNames = new Map<string, string>();

function convertFeatureName(column: string): string {
  const base = column
    .replace(/\/s$/, ' per s')
    .replace(/\//g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return MICROSECOND_COLUMN.test(column) && !column.endsWith('/s') ? `${base}_us` : base;
}

const ipString = z.union([z.ipv4(), z.ipv6()]);
const endpointSchema = z
  .object({
    ip: ipString.optional(),
    port: z.number().int().min(0).max(65535).optional(),
    bytes: z.number().nonnegative().optional(),
    packets: z.number().int().nonnegative().optional(),
  })
  .strict();

export const ecsDocumentSchema = z
  .object({
    '@timestamp': z.string().datetime({ offset: true }),
    ecs: z.object({ version: z.literal(ECS_VERSION) }).strict(),
    event: z
      .object({
        id: z.string().min(1),
        kind: z.enum(['event', 'alert']),
        category: z.array(z.literal('network')),
        type: z.array(z.enum(['connection', 'info'])),
        dataset: z.literal('ccf.flows'),
        module: z.literal('ccf'),
        outcome: z.literal('unknown'),
        start: z.string().datetime({ offset: true }).optional(),
        end: z.string().datetime({ offset: true }).optional(),
        /** Nanoseconds (ECS). */
        duration: z.number().int().nonnegative().optional(),
        created: z.string().datetime({ offset: true }),
        risk_score: z.number().min(0).max(100),
      })
      .strict(),
    source: endpointSchema,
    destination: endpointSchema,
    network: z
      .object({
        transport: z.string().optional(),
        iana_number: z.string().optional(),
        type: z.enum(['ipv4', 'ipv6']).optional(),
        bytes: z.number().nonnegative().optional(),
        packets: z.number().int().nonnegative().optional(),
        community_id: z.string().optional(),
      })
      .strict(),
    related: z.object({ ip: z.array(ipString) }).strict(),
    ccf: z
      .object({
        document_version: z.literal(SEARCH_DOCUMENT_VERSION),
        prediction_id: z.string().min(1),
        kind: z.enum(['flow', 'packet']),
        flow_id: z.string().optional(),
        feature_set: z.string().optional(),
        features: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
        prediction: z
          .object({
            label: z.string(),
            probability: z.number(),
            anomaly_score: z.number().nullable(),
            model: z.string(),
            model_version: z.string(),
            verdict: z.enum(['benign', 'malicious']),
            scored_at: z.string().datetime({ offset: true }),
          })
          .strict(),
        capture: z
          .object({
            id: z.string(),
            s3_key: z.string().optional(),
            sha256: z.string().optional(),
          })
          .strict(),
      })
      .strict(),
  })
  .strict();
export type EcsDocument = z.infer<typeof ecsDocumentSchema>;

type InputValue = Prediction['input'][string];

function numberOf(value: InputValue | undefined): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function stringOf(value: InputValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function ipOf(value: InputValue | undefined): string | undefined {
  const text = stringOf(value);
  // node:net's parser accepts exactly dotted-quad IPv4 and RFC 4291 IPv6, as the schema's ipv4/ipv6 do, at a
  // fraction of the cost per document.
  return text !== undefined && isIP(text) !== 0 ? text : undefined;
}

function portOf(value: InputValue | undefined): number | undefined {
  const port = numberOf(value);
  return port !== undefined && Number.isInteger(port) && port >= 0 && port <= 65535 ? port : undefined;
}

function countOf(value: InputValue | undefined): number | undefined {
  const n = numberOf(value);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * CIC `Timestamp` (flow start, UTC, `2017-07-07 18:08:57.763666`) → ISO-8601 with milliseconds,
 * plus the sub-millisecond microseconds that ISO strings in JS cannot carry.
 */
export function parseCicTimestamp(value: string): { iso: string; epochUs: number } | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    value.trim(),
  );
  if (!match) return undefined;
  const fraction = (match[3] ?? '').padEnd(6, '0').slice(0, 6);
  const zone = match[4] ?? 'Z';
  const ms = Date.parse(`${match[1]}T${match[2]}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  const epochUs = ms * 1000 + Number(fraction);
  return { iso: new Date(Math.floor(epochUs / 1000)).toISOString(), epochUs };
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}

/** Maps one prediction message to its search document. Unknown or malformed input fields are left out, never guessed. */
export function toEcsDocument(message: PredictionMessage): EcsDocument {
  const document = documentWithoutFeatures(message);
  return { ...document, ccf: { ...document.ccf, features: featuresOf(message) } };
}

type DocumentWithoutFeatures = Omit<EcsDocument, 'ccf'> & { ccf: Omit<EcsDocument['ccf'], 'features'> };

/** `ccf.features`: every input column not mapped to an ECS field, by its snake_case name with units. */
function featuresOf(message: PredictionMessage): Record<string, number | string | boolean> {
  const input = message.prediction.input;
  const isFlow = message.prediction.kind === 'flow';
  const features: Record<string, number | string | boolean> = {};
  // for…in, not Object.entries: no [key, value] array per column (~110 per flow document).
  for (const column in input) {
    if (!Object.hasOwn(input, column)) continue;
    const value = input[column];
    if (value === null || value === undefined || (isFlow && IDENTITY_COLUMNS.has(column))) continue;
    if (typeof value === 'number' && !Number.isFinite(value)) continue;
    features[featureFieldName(column)] = value;
  }
  return features;
}

/** `"snake_name":` per column, JSON-quoted once per process. */
const featureKeys = new Map<string, string>();

function featureKeyJson(column: string): string {
  let key = featureKeys.get(column);
  if (key === undefined) {
    key = `${JSON.stringify(featureFieldName(column))}:`;
    if (featureKeys.size < 10_000) featureKeys.set(column, key);
  }
  return key;
}

/**
 * The document's JSON text: the same document as `JSON.stringify(toEcsDocument(message))` (keys may come in
 * another order), without building `ccf.features` as an object. A flow document is ~3.3 KB, ~2.3 KB of it the
 * ~95 features: building that object (~95 keyed stores) and serialising it was half the indexer's CPU per
 * document, on the thread that also scores locally. Here each feature is written once with its key quoted once
 * per process (`String(n)` is how `JSON.stringify` writes a finite number).
 */
export function ecsDocumentJson(message: PredictionMessage): string {
  const input = message.prediction.input;
  const isFlow = message.prediction.kind === 'flow';
  const names = new Set<string>();
  // Parts joined once: `+=` would leave a rope of ~200 small strings per document, which the indexer holds
  // until its bulk answers; the garbage collector then copied every piece (measured: ~90 µs per document).
  const features: string[] = [];
  for (const column in input) {
    if (!Object.hasOwn(input, column)) continue;
    const value = input[column];
    if (value === null || value === undefined || (isFlow && IDENTITY_COLUMNS.has(column))) continue;
    let text: string;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) continue;
      text = String(value);
    } else {
      text = typeof value === 'string' ? JSON.stringify(value) : value ? 'true' : 'false';
    }
    const key = featureKeyJson(column);
    // Two columns with one snake_case name: the object keeps the last value; leave that case to it.
    if (names.has(key)) return JSON.stringify(toEcsDocument(message));
    names.add(key);
    features.push(key + text);
  }
  // `ccf` is the document's last key and `capture` the last of `ccf`: the text ends with `}}}`.
  const base = JSON.stringify(documentWithoutFeatures(message));
  return [base.slice(0, -2), ',"features":{', features.join(','), '}}}'].join('');
}

/** The document but `ccf.features` (`ccf` last in the document, `capture` last in `ccf`: see `ecsDocumentJson`). */
function documentWithoutFeatures(message: PredictionMessage): DocumentWithoutFeatures {
  const p = message.prediction;
  const input = p.input;
  const isFlow = p.kind === 'flow';

  const sourceIp = ipOf(isFlow ? input['Src IP'] : input.source_ip);
  const destinationIp = ipOf(isFlow ? input['Dst IP'] : input.dest_ip);
  const protocol = countOf(isFlow ? input.Protocol : input.protocol);
  const ipVersion = countOf(input.ip_version);

  const started = isFlow ? parseCicTimestamp(stringOf(input.Timestamp) ?? '') : undefined;
  const durationUs = isFlow ? numberOf(input['Flow Duration']) : undefined;
  const durationNs = durationUs !== undefined && durationUs >= 0 ? Math.round(durationUs * 1000) : undefined;
  const end =
    started && durationUs !== undefined && durationUs >= 0
      ? new Date(Math.floor((started.epochUs + durationUs) / 1000)).toISOString()
      : undefined;

  const fwdBytes = isFlow ? numberOf(input['Total Length of Fwd Packet']) : numberOf(input.len);
  const bwdBytes = isFlow ? numberOf(input['Total Length of Bwd Packet']) : undefined;
  const fwdPackets = isFlow ? countOf(input['Total Fwd Packet']) : 1;
  const bwdPackets = isFlow ? countOf(input['Total Bwd packets']) : undefined;

  const related = [...new Set([sourceIp, destinationIp].filter((ip): ip is string => ip !== undefined))];
  const malicious = p.verdict === 'malicious';
  const sum = (a: number | undefined, b: number | undefined) =>
    a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);

  const document: DocumentWithoutFeatures = {
    '@timestamp': started?.iso ?? p.scored_at,
    ecs: { version: ECS_VERSION },
    event: withoutUndefined({
      id: p.prediction_id,
      kind: malicious ? ('alert' as const) : ('event' as const),
      category: ['network' as const],
      type: isFlow ? ['connection' as const] : ['info' as const],
      dataset: 'ccf.flows' as const,
      module: 'ccf' as const,
      outcome: 'unknown' as const,
      start: started?.iso,
      end,
      duration: durationNs,
      created: p.scored_at,
      risk_score: Math.round(p.probability * 10000) / 100,
    }),
    source: withoutUndefined({
      ip: sourceIp,
      port: portOf(isFlow ? input['Src Port'] : input.source_port),
      bytes: fwdBytes,
      packets: fwdPackets,
    }),
    destination: withoutUndefined({
      ip: destinationIp,
      port: portOf(isFlow ? input['Dst Port'] : input.dest_port),
      bytes: bwdBytes,
      packets: bwdPackets,
    }),
    network: withoutUndefined({
      transport: protocol !== undefined ? (IANA_TRANSPORT[protocol] ?? String(protocol)) : undefined,
      iana_number: protocol !== undefined ? String(protocol) : undefined,
      type: ipVersion === 4 ? ('ipv4' as const) : ipVersion === 6 ? ('ipv6' as const) : undefined,
      bytes: sum(fwdBytes, bwdBytes),
      packets: sum(fwdPackets, bwdPackets),
      community_id: stringOf(input.community_id),
    }),
    related: { ip: related },
    ccf: {
      document_version: SEARCH_DOCUMENT_VERSION,
      prediction_id: p.prediction_id,
      kind: p.kind,
      ...(isFlow && stringOf(input['Flow ID']) ? { flow_id: stringOf(input['Flow ID']) } : {}),
      ...(stringOf(input.feature_set) ? { feature_set: stringOf(input.feature_set) } : {}),
      prediction: {
        label: p.label,
        probability: p.probability,
        anomaly_score: p.anomaly_score,
        model: p.decided_by,
        model_version: p.model_version,
        verdict: p.verdict,
        scored_at: p.scored_at,
      },
      capture: withoutUndefined({
        id: p.capture_id,
        s3_key: message.capture?.s3_key,
        sha256: message.capture?.sha256,
      }),
    },
  };
  return document;
}

/**
 * The index template for `ccf-flows*`: explicit types for every searchable field (ip, keyword, date, numbers) and
 * `dynamic: false` elsewhere so stray fields never change the mapping.
 *
 * `ccf.features` is stored (in `_source`, returned with every hit) but not indexed (`enabled: false`): nothing
 * searches it (GET /api/flows filters on verdict, label, ip, port, time and capture; the ECS fields carry bytes,
 * packets and duration), and its ~80 numeric fields were most of OpenSearch's work per document: 20,000 flow
 * documents took 2.5–4.5 s of its CPU instead of 5.8–8.0 s (doc values off alone saved nothing). A feature that
 * must become searchable gets its own explicit mapping (and a reindex), not all of them.
 */
export function flowsIndexTemplate(indexPattern = `${DEFAULT_FLOWS_INDEX}*`) {
  const keyword = { type: 'keyword' } as const;
  const endpoint = {
    properties: {
      ip: { type: 'ip' },
      port: { type: 'integer' },
      bytes: { type: 'long' },
      packets: { type: 'long' },
    },
  } as const;
  return {
    index_patterns: [indexPattern],
    priority: 100,
    template: {
      // No explicit refresh_interval: left at OpenSearch's default (1 s), a shard nobody searched for 30 s skips
      // its refreshes (search idle) and refreshes on the next search. A capture's bulk indexing then builds no
      // tiny segments nobody reads; an explicit '1s' would disable that and refresh every second regardless.
      // One replica wherever a second data node exists (the prod domain has two), none on a single node (the
      // local service, the dev domain), where a replica could never be allocated and would leave the index
      // yellow. A fixed 0 lost a prod shard's documents with its node: index-flows has committed their Kafka
      // offsets by then, so nothing would redeliver them. Translog durability stays `request` (fsync before a
      // bulk answers) for the same reason; see docs/streaming.md.
      settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
      mappings: {
        dynamic: false,
        _meta: {
          ecs_version: ECS_VERSION,
          document_version: SEARCH_DOCUMENT_VERSION,
          template_version: FLOWS_TEMPLATE_VERSION,
        },
        properties: {
          '@timestamp': { type: 'date' },
          ecs: { properties: { version: keyword } },
          event: {
            properties: {
              id: keyword,
              kind: keyword,
              category: keyword,
              type: keyword,
              dataset: keyword,
              module: keyword,
              outcome: keyword,
              start: { type: 'date' },
              end: { type: 'date' },
              duration: { type: 'long' },
              created: { type: 'date' },
              risk_score: { type: 'float' },
            },
          },
          source: endpoint,
          destination: endpoint,
          network: {
            properties: {
              transport: keyword,
              iana_number: keyword,
              type: keyword,
              bytes: { type: 'long' },
              packets: { type: 'long' },
              community_id: keyword,
            },
          },
          related: { properties: { ip: { type: 'ip' } } },
          ccf: {
            properties: {
              document_version: { type: 'integer' },
              prediction_id: keyword,
              kind: keyword,
              flow_id: keyword,
              feature_set: keyword,
              features: { type: 'object', enabled: false },
              prediction: {
                properties: {
                  label: keyword,
                  probability: { type: 'float' },
                  anomaly_score: { type: 'float' },
                  model: keyword,
                  model_version: keyword,
                  verdict: keyword,
                  scored_at: { type: 'date' },
                },
              },
              capture: { properties: { id: keyword, s3_key: keyword, sha256: keyword } },
            },
          },
        } as const,
      },
    },
  };
}
export type FlowsIndexTemplate = ReturnType<typeof flowsIndexTemplate>;
