import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { indexMskBatch } from '../../../functions/handlers/index-flows.js';
import { unacknowledgedTarget } from '../../../functions/pipeline/republish-capture.js';
import { parseConfig } from '../../../functions/platform/config.js';
import type { PoisonRecord } from '../../../functions/platform/kafka-dead-letter.js';
import { toMskEvent } from '../../../functions/platform/kafka-msk-event.js';
import { kafkaConnectionFrom } from '../../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../../functions/platform/opensearch-indexer.js';
import {
  ecsDocumentSchema,
  FLOWS_TEMPLATE_VERSION,
  featureFieldName,
  parseCicTimestamp,
  toEcsDocument,
} from '../../../functions/records/ecs-document.js';
import { predictionSchema } from '../../../functions/records/prediction.js';
import {
  buildPredictionMessage,
  decodePredictionMessage,
  encodePredictionMessage,
  isPredictionInput,
  isUnacknowledged,
  MAX_UNACKNOWLEDGED_RANGES,
  mergeUnacknowledged,
  normalizeUnacknowledged,
  PoisonMessageError,
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
    expect(() => decodePredictionMessage(JSON.stringify({ ...message, message_version: 2 }))).toThrow(
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
