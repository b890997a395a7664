import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FLOW_CONTEXT_COLUMNS } from '../../../functions/flows/flow-context.js';
import { indexMskBatch } from '../../../functions/handlers/index-flows.js';
import { FEATURE_PART_HEADER } from '../../../functions/pipeline/feature-parts.js';
import { flowRecordFromCsv } from '../../../functions/pipeline/flow-record-schema.js';
import { unacknowledgedTarget } from '../../../functions/pipeline/republish-capture.js';
import { parseConfig } from '../../../functions/platform/config.js';
import type { PoisonRecord } from '../../../functions/platform/kafka-dead-letter.js';
import { toMskEvent } from '../../../functions/platform/kafka-msk-event.js';
import { kafkaConnectionFrom } from '../../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../../functions/platform/opensearch-indexer.js';
import {
  ecsDocumentJson,
  ecsDocumentSchema,
  FLOWS_TEMPLATE_VERSION,
  featureFieldName,
  parseCicTimestamp,
  toEcsDocument,
} from '../../../functions/records/ecs-document.js';
import { FLOW_CSV_COLUMNS } from '../../../functions/records/flow-csv.js';
import { predictionSchema } from '../../../functions/records/prediction.js';
import {
  buildPredictionMessage,
  CURRENT_FEATURES_COLUMNS,
  decodePredictionMessage,
  encodePredictionMessage,
  FeaturesLineEncoder,
  INPUT_COLUMN_LISTS,
  isPredictionInput,
  isUnacknowledged,
  MAX_UNACKNOWLEDGED_RANGES,
  mergeUnacknowledged,
  normalizeUnacknowledged,
  PoisonMessageError,
  type PredictionMessage,
  subtractRanges,
  unacknowledgedCount,
  unacknowledgedOf,
} from '../../../functions/records/prediction-message.js';
import { flowPrediction } from './support.js';

describe('prediction message', () => {
  it('round-trips through JSON and refuses bad JSON, unknown versions and invalid predictions', () => {
    const prediction = flowPrediction('cap-1', 7);
    const message = buildPredictionMessage(prediction, new Date('2026-11-28T00:00:00Z'), {
      s3_key: 'uploads/cap-1/a.pcap',
      sha256: 'a'.repeat(64),
    });
    const text = encodePredictionMessage(message);
    expect(decodePredictionMessage(Buffer.from(text))).toEqual(message);
    expect(() => decodePredictionMessage('{nope')).toThrow(PoisonMessageError);
    expect(() => decodePredictionMessage(JSON.stringify({ ...message, message_version: 3 }))).toThrow(
      /message_version/,
    );
    const broken = { ...message, prediction: { ...prediction, probability: 3 } };
    expect(() => encodePredictionMessage(broken)).toThrow(/Refusing to publish/);
    expect(() => decodePredictionMessage(JSON.stringify(broken))).toThrow(/prediction\.probability/);
  });

  it("checks `input` exactly as the prediction schema's zod record does (the fast check must not widen it)", () => {
    const prediction = flowPrediction('cap-1', 8);
    const inputs: unknown[] = [
      {},
      { a: 1, b: 'x', c: true, d: null, e: -0 },
      prediction.input,
      Object.assign(Object.create(null), { a: 1 }),
      JSON.parse('{"__proto__": 1, "b": 2}'),
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: Number.NEGATIVE_INFINITY },
      { a: undefined },
      { a: {} },
      { a: [] },
      { a: 1n },
      { a: Symbol('s') },
      { a: () => 1 },
      [],
      null,
      'x',
      3,
      new Date(),
      new Map(),
    ];
    for (const [i, input] of inputs.entries()) {
      const expected = predictionSchema.safeParse({ ...prediction, input }).success;
      expect(isPredictionInput(input), `case ${i}`).toBe(expected);
      // Deliberately mistyped (the point is what the runtime check refuses).
      const message = {
        ...buildPredictionMessage(prediction, new Date()),
        prediction: { ...prediction, input: input as Record<string, string> },
      };
      if (expected) expect(() => encodePredictionMessage(message)).not.toThrow();
      else expect(() => encodePredictionMessage(message)).toThrow(/Refusing to publish/);
    }
    expect(() =>
      decodePredictionMessage(
        JSON.stringify({
          ...buildPredictionMessage(prediction, new Date()),
          prediction: { ...prediction, input: { a: [1] } },
        }),
      ),
    ).toThrow(/prediction\.input/);
    // Still strict: an unknown prediction field is refused.
    const extra = {
      ...buildPredictionMessage(prediction, new Date()),
      prediction: { ...prediction, extra: 1 },
    };
    expect(() => encodePredictionMessage(extra)).toThrow(/Refusing to publish/);
  });
});

/** A capture flow's input as score-flows publishes it: every features column, in header order. */
function featuresInput(index: number): Record<string, string | number> {
  const input: Record<string, string | number> = {};
  for (const [i, column] of [...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS].entries()) {
    input[column] =
      column === 'Flow ID'
        ? `10.0.0.${index}-192.168.1.10-${40000 + index}-80-6`
        : column === 'Src IP'
          ? `10.0.0.${index}`
          : column === 'Dst IP'
            ? '192.168.1.10'
            : column === 'Timestamp'
              ? '2017-07-07 18:08:13.763666'
              : column === 'community_id'
                ? '1:LQU9qZlK+B5F3KDmev6m5PMibrg='
                : column === 'expiry_reason'
                  ? 'fin'
                  : i % 4 === 0
                    ? (i * 7919 + index) / 8
                    : i * 3 + index;
  }
  return input;
}

describe('prediction message v2 (compact capture-flow input)', () => {
  it('the newest registered column list is the features header score-flows publishes', () => {
    expect(INPUT_COLUMN_LISTS[CURRENT_FEATURES_COLUMNS]).toEqual(FEATURE_PART_HEADER.trimEnd().split(','));
  });

  it('a published column list never changes (its 109 names are pinned by SHA-256)', () => {
    // Fails when the flow or context columns change: `ccf-features-1` is derived from them, so freeze it as a
    // literal list and register the new header under a new name (messages naming the old list stay readable).
    const published = INPUT_COLUMN_LISTS['ccf-features-1'] ?? [];
    expect(published).toHaveLength(109);
    expect(createHash('sha256').update(JSON.stringify(published)).digest('hex')).toBe(
      '9d3b3076e582ae50c39fd83809482588502327e4993b04e6f0b5fbe43d0b8065',
    );
  });

  it('carries a features input as values of the named list, decodes to the same message, and is under 40% of v1', () => {
    const prediction = { ...flowPrediction('cap-2', 11), input: featuresInput(11) };
    const message = buildPredictionMessage(prediction, new Date('2026-11-29T00:00:00Z'));
    const text = encodePredictionMessage(message);
    const wire = JSON.parse(text);
    expect(wire).toMatchObject({ message_version: 2, input_columns: CURRENT_FEATURES_COLUMNS });
    expect(wire.prediction.input).toBeUndefined();
    expect(wire.input_values).toEqual(Object.values(prediction.input));
    expect(decodePredictionMessage(text)).toEqual(message);
    const v1 = JSON.stringify({ ...message, message_version: 1 });
    expect(text.length).toBeLessThan(v1.length * 0.4);
    // Messages written before v2 are still read.
    expect(decodePredictionMessage(v1)).toEqual({ ...message, message_version: 1 });
  });

  it('keeps an input object when its columns are not a registered list (another order, a subset, API records)', () => {
    const full = featuresInput(12);
    const [first, ...rest] = Object.keys(full);
    const reordered: Record<string, string | number> = {};
    for (const key of [...rest, first as string]) reordered[key] = full[key] as string | number;
    for (const input of [reordered, flowPrediction('cap-2', 12).input, { ...full, extra: 1 }]) {
      const message = buildPredictionMessage({ ...flowPrediction('cap-2', 12), input }, new Date());
      const wire = JSON.parse(encodePredictionMessage(message));
      expect(wire.input_values).toBeUndefined();
      expect(wire.prediction.input).toEqual(input);
      expect(decodePredictionMessage(JSON.stringify(wire))).toEqual(message);
    }
    // A features input with a value the schema refuses is refused, not sent as an object instead.
    const bad = { ...featuresInput(13), 'Flow Duration': Number.NaN };
    expect(() =>
      encodePredictionMessage(
        buildPredictionMessage({ ...flowPrediction('cap-2', 13), input: bad }, new Date()),
      ),
    ).toThrow(/Refusing to publish/);
  });

  it('refuses v2 values without a known list, with the wrong count, or next to an input object', () => {
    const prediction = { ...flowPrediction('cap-2', 14), input: featuresInput(14) };
    const wire = JSON.parse(encodePredictionMessage(buildPredictionMessage(prediction, new Date())));
    const cases: [unknown, RegExp][] = [
      [{ ...wire, input_columns: 'ccf-features-999' }, /input_columns/],
      [{ ...wire, input_columns: undefined }, /input_columns/],
      [{ ...wire, input_values: wire.input_values.slice(1) }, /input_values: 108 values for 109 columns/],
      [{ ...wire, input_values: [...wire.input_values.slice(1), { x: 1 }] }, /input_values/],
      [{ ...wire, prediction: { ...wire.prediction, input: { a: 1 } } }, /input_values/],
    ];
    for (const [value, error] of cases) {
      expect(() => decodePredictionMessage(JSON.stringify(value))).toThrow(PoisonMessageError);
      expect(() => decodePredictionMessage(JSON.stringify(value))).toThrow(error);
    }
  });
});

describe('features lines straight into v2 values (FeaturesLineEncoder)', () => {
  const columns = [...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS];
  const lineOf = (input: Record<string, string | number>) => columns.map((c) => String(input[c])).join(',');

  it('copies a features line into values that decode to what flowRecordFromCsv reads', () => {
    const encoder = FeaturesLineEncoder.for(columns);
    if (!encoder) throw new Error('the features header is not the current list');
    const input = {
      ...featuresInput(21),
      'Flow Bytes/s': 40816.32653061225,
      'Fwd IAT Min': 1e21,
      'Idle Std': -0.5,
    };
    const line = lineOf(input);
    const values = encoder.values(line);
    expect(values).toBeDefined();
    const prediction = flowPrediction('cap-3', 21);
    const message = buildPredictionMessage(prediction, new Date('2026-11-29T00:00:00Z'));
    const text = encodePredictionMessage(message, values);
    expect(JSON.parse(text).prediction.input).toBeUndefined();
    expect(decodePredictionMessage(text)).toEqual({
      ...message,
      prediction: { ...prediction, input: flowRecordFromCsv(columns, line, 0) },
    });
    // The envelope is still checked when the values come as text.
    expect(() =>
      encodePredictionMessage({ ...message, prediction: { ...prediction, probability: 2 } }, values),
    ).toThrow(/Refusing to publish/);
  });

  it('declines what it cannot copy safely: other headers, quotes, field counts, numbers JSON spells otherwise', () => {
    expect(FeaturesLineEncoder.for(columns.slice(1))).toBeUndefined();
    expect(FeaturesLineEncoder.for([...columns.slice(1), columns[0] as string])).toBeUndefined();
    const encoder = FeaturesLineEncoder.for(columns);
    const line = lineOf(featuresInput(22));
    const fields = line.split(',');
    const withField = (i: number, text: string) => fields.map((f, j) => (j === i ? text : f)).join(',');
    const duration = columns.indexOf('Flow Duration');
    for (const bad of [
      `"${line}`,
      `${line},1`,
      fields.slice(1).join(','),
      ...['', '1.', '.5', '+1', '0x10', 'NaN', 'Infinity', '1e', ' 1', '01'].map((t) =>
        withField(duration, t),
      ),
    ]) {
      expect(encoder?.values(bad), bad.slice(0, 40)).toBeUndefined();
    }
    expect(encoder?.values(withField(duration, '-1.5e-7'))).toContain(',-1.5e-7,');
  });
});

describe('unacknowledged flows (what a capture record keeps for the retry path)', () => {
  it('turns prediction ids into joined flow-index ranges, ignoring API ids', () => {
    const ids = [3, 4, 5, 9, 10, 42].map((i) => `cap:${String(i).padStart(9, '0')}`);
    expect(unacknowledgedOf([...ids, 'api:abc:1x', 'a4b1c2d3-0000'])).toEqual({
      ranges: [
        [3, 5],
        [9, 10],
        [42, 42],
      ],
      exact: true,
    });
    expect(unacknowledgedOf(['api-uuid'])).toBeUndefined();
  });

  it('merges, counts, looks up and subtracts ranges', () => {
    const a = normalizeUnacknowledged([
      [10, 20],
      [1, 2],
      [3, 4],
    ]);
    expect(a.ranges).toEqual([
      [1, 4],
      [10, 20],
    ]);
    const merged = mergeUnacknowledged(a, { ranges: [[21, 30]], exact: true });
    expect(merged).toEqual({
      ranges: [
        [1, 4],
        [10, 30],
      ],
      exact: true,
    });
    expect(unacknowledgedCount(merged)).toBe(25);
    expect([0, 1, 4, 5, 9, 10, 20, 21].map((i) => isUnacknowledged(a, i))).toEqual([
      false,
      true,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(
      subtractRanges(
        [
          [1, 10],
          [20, 30],
        ],
        [
          [3, 4],
          [8, 22],
          [30, 40],
        ],
      ),
    ).toEqual([
      [1, 2],
      [5, 7],
      [23, 29],
    ]);
    expect(subtractRanges([[1, 5]], [])).toEqual([[1, 5]]);
    expect(subtractRanges([[1, 5]], [[1, 5]])).toEqual([]);
  });

  it('stays bounded: beyond the limit the closest ranges are joined and the set is marked inexact', () => {
    const scattered = Array.from({ length: 1000 }, (_, i): [number, number] => [i * 10 + 1, i * 10 + 1]);
    const bounded = normalizeUnacknowledged(scattered);
    expect(bounded.ranges.length).toBeLessThanOrEqual(MAX_UNACKNOWLEDGED_RANGES);
    expect(bounded.exact).toBe(false);
    // Still a superset: nothing unacknowledged is ever dropped.
    for (const [index] of scattered) expect(isUnacknowledged(bounded, index)).toBe(true);
    expect(JSON.stringify(bounded).length).toBeLessThan(8 * 1024);
  });

  it('the retry target: the recorded set, else every flow (exact only when nothing was attempted)', () => {
    const recorded = { ranges: [[5, 9]] as [number, number][], exact: true };
    expect(
      unacknowledgedTarget({ status: 'partial', published: 4, failed: 5, unacknowledged: recorded }, 9),
    ).toBe(recorded);
    expect(unacknowledgedTarget({ status: 'published', published: 9, failed: 0 }, 9)).toBeUndefined();
    expect(unacknowledgedTarget({ status: 'not_configured', published: 0, failed: 9 }, 9)).toEqual({
      ranges: [[1, 9]],
      exact: true,
    });
    expect(unacknowledgedTarget({ status: 'failed', published: 0, failed: 9 }, 9)).toEqual({
      ranges: [[1, 9]],
      exact: false,
    });
    expect(unacknowledgedTarget(null, 0)).toBeUndefined();
  });
});

describe('KAFKA_AUTH', () => {
  const base = { CAPTURE_BUCKET: 'bucket', TABLE_NAME: 'table', KAFKA_BROKERS: 'b-1.example:9098' };
  it('is parsed once from the config: plaintext by default, iam when set, never guessed from the port', () => {
    const plain = parseConfig(base);
    expect(plain.KAFKA_AUTH).toBe('plaintext');
    expect(kafkaConnectionFrom(plain)?.auth).toBe('plaintext');
    const iam = parseConfig({ ...base, KAFKA_BROKERS: 'localhost:9092', KAFKA_AUTH: 'iam' });
    expect(kafkaConnectionFrom(iam)).toMatchObject({ auth: 'iam', brokers: ['localhost:9092'] });
    expect(() => parseConfig({ ...base, KAFKA_AUTH: 'scram' })).toThrow(/KAFKA_AUTH/);
  });
});

describe('ECS document', () => {
  it('names features in snake_case with units', () => {
    expect(featureFieldName('Flow Duration')).toBe('flow_duration_us');
    expect(featureFieldName('Flow Bytes/s')).toBe('flow_bytes_per_s');
    expect(featureFieldName('Fwd IAT Mean')).toBe('fwd_iat_mean_us');
    expect(featureFieldName('Down/Up Ratio')).toBe('down_up_ratio');
    expect(featureFieldName('Idle Max')).toBe('idle_max_us');
    expect(featureFieldName('Fwd Act Data Pkts')).toBe('fwd_act_data_pkts');
    expect(featureFieldName('Total TCP Flow Time')).toBe('total_tcp_flow_time_us');
  });

  it('parses CIC timestamps (UTC, microseconds)', () => {
    expect(parseCicTimestamp('2017-07-07 18:08:57.763666')).toEqual({
      iso: '2017-07-07T18:08:57.763Z',
      epochUs: Date.parse('2017-07-07T18:08:57Z') * 1000 + 763_666,
    });
    expect(parseCicTimestamp('07/07/2017 18:08')).toBeUndefined();
  });

  it('maps an IPv6 UDP flow and a packet prediction to valid documents', () => {
    const v6 = flowPrediction('cap-6', 2);
    v6.input['Src IP'] = '2001:db8::1';
    v6.input['Dst IP'] = '2001:db8::2';
    v6.input.Protocol = 17;
    v6.input.ip_version = 6;
    const doc = toEcsDocument(buildPredictionMessage(v6, new Date()));
    expect(ecsDocumentSchema.parse(doc)).toEqual(doc);
    expect(doc.network).toMatchObject({ transport: 'udp', iana_number: '17', type: 'ipv6' });
    expect(doc.related.ip).toEqual(['2001:db8::1', '2001:db8::2']);
    expect(doc.event.kind).toBe('event');

    const packet = toEcsDocument(
      buildPredictionMessage(
        {
          ...flowPrediction('api', 1),
          kind: 'packet',
          capture_id: 'api',
          prediction_id: 'p-1',
          input: { len: 60, source_port: 80, dest_port: 443 },
        },
        new Date(),
      ),
    );
    expect(ecsDocumentSchema.parse(packet)).toEqual(packet);
    expect(packet).toMatchObject({
      '@timestamp': '2026-11-28T12:00:00.000Z',
      source: { port: 80, bytes: 60, packets: 1 },
      destination: { port: 443 },
      event: { type: ['info'] },
      ccf: { kind: 'packet', capture: { id: 'api' }, features: { len: 60 } },
    });
  });
});

describe('ECS document as JSON text (what index-flows sends)', () => {
  it('is the document toEcsDocument builds, for capture flows, IPv6, packets, odd values and snake_case clashes', () => {
    const v6 = flowPrediction('cap-7', 2);
    v6.input['Src IP'] = '2001:db8::1';
    v6.input.ip_version = 6;
    const messages = [
      buildPredictionMessage({ ...flowPrediction('cap-7', 1), input: featuresInput(1) }, new Date(), {
        s3_key: 'uploads/cap-7/a.pcap',
      }),
      buildPredictionMessage(v6, new Date()),
      buildPredictionMessage(
        {
          ...flowPrediction('api', 1),
          kind: 'packet',
          capture_id: 'api',
          prediction_id: 'p-2',
          input: {
            len: 60,
            note: 'a "quoted"\\ text\n',
            flag: true,
            off: false,
            gone: null,
            tiny: 5e-324,
            big: 1e21,
            neg: -0,
          },
        },
        new Date(),
      ),
      // Two columns with one snake_case name: the later value wins, as in the object.
      buildPredictionMessage(
        {
          ...flowPrediction('cap-7', 3),
          input: { ...flowPrediction('cap-7', 3).input, 'Flow Bytes/s': 1, 'Flow Bytes per s': 2 },
        },
        new Date(),
      ),
    ];
    for (const message of messages) {
      const text = ecsDocumentJson(message);
      // What JSON.stringify of the object sends (-0 is written 0 either way).
      const sent = JSON.parse(JSON.stringify(toEcsDocument(message)));
      expect(JSON.parse(text)).toEqual(sent);
      expect(ecsDocumentSchema.parse(JSON.parse(text))).toEqual(sent);
    }
    expect(JSON.parse(ecsDocumentJson(messages[3] as PredictionMessage)).ccf.features.flow_bytes_per_s).toBe(
      2,
    );
  });
});

describe('OpenSearch indexer backpressure (a real HTTP server answering like a busy cluster)', () => {
  it('retries items rejected with 429 and reports refused documents as poison', async () => {
    let bulkCalls = 0;
    const bodies: string[] = [];
    const server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      response.setHeader('content-type', 'application/json');
      if (request.method === 'HEAD') {
        response.statusCode = 200;
        response.end();
        return;
      }
      if (request.method === 'GET' && request.url?.startsWith('/_index_template/')) {
        // The installed template is current, so the indexer leaves it alone.
        const template = { mappings: { _meta: { template_version: FLOWS_TEMPLATE_VERSION } } };
        response.end(
          JSON.stringify({
            index_templates: [
              { name: 'ccf-flows-template', index_template: { index_patterns: [], template } },
            ],
          }),
        );
        return;
      }
      if (request.url?.startsWith('/_bulk')) {
        bulkCalls++;
        bodies.push(body);
        const actions = body
          .trim()
          .split('\n')
          .filter((_, i) => i % 2 === 0)
          .map((line) => (JSON.parse(line) as { index: { _id: string } }).index._id);
        const items = actions.map((id) => {
          if (id.endsWith(':3')) {
            return {
              index: { _id: id, status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad' } },
            };
          }
          if (bulkCalls === 1 && id.endsWith(':2')) {
            return { index: { _id: id, status: 429, error: { type: 'es_rejected_execution_exception' } } };
          }
          return { index: { _id: id, status: 201 } };
        });
        response.end(JSON.stringify({ took: 1, errors: true, items }));
        return;
      }
      response.statusCode = 404;
      response.end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const indexer = new OpenSearchIndexer({ client: createOpenSearchClient({ url }), baseDelayMs: 5 });
      const predictions = [1, 2, 3].map((i) => flowPrediction('cap-b', i));
      const sent: PoisonRecord[] = [];
      const event = toMskEvent(
        predictions.map((p, i) => ({
          topic: 'network_predictions',
          partition: 0,
          offset: i,
          timestamp: 0,
          key: Buffer.from(p.capture_id),
          value: Buffer.from(encodePredictionMessage(buildPredictionMessage(p, new Date()))),
        })),
        [],
      );
      const outcome = await indexMskBatch(event, {
        indexer,
        poison: {
          send: async (poison) => {
            sent.push(...poison);
          },
        },
      });
      expect(bulkCalls).toBe(2);
      expect(bodies[1]).toContain('"_id":"cap-b:2"');
      expect(bodies[1]).not.toContain('"_id":"cap-b:1"');
      expect(outcome).toMatchObject({
        indexed: 2,
        poison: 1,
        failed: 0,
        response: { batchItemFailures: [] },
      });
      expect(sent.map((p) => [p.record.offset, p.code])).toEqual([[2, 'DOCUMENT_REFUSED']]);
    } finally {
      server.close();
    }
  });
});
