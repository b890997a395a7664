import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndexFlowsHandler, indexMskBatch } from '../../../functions/handlers/index-flows.js';
import {
  type KafkaBridge,
  startKafkaBridge,
  startLocalStreaming,
} from '../../../functions/local/kafka-bridge.js';
import type { LocalRuntime } from '../../../functions/local/runtime.js';
import { FEATURE_PART_HEADER } from '../../../functions/pipeline/feature-parts.js';
import { flowRecordFromCsv } from '../../../functions/pipeline/flow-record-schema.js';
import { KafkaDeadLetterSink } from '../../../functions/platform/kafka-dead-letter.js';
import { type MskEvent, toMskEvent } from '../../../functions/platform/kafka-msk-event.js';
import { createKafka, KafkaPredictionPublisher } from '../../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../../functions/platform/opensearch-indexer.js';
import { OpenSearchFlowSearch, resolveFlowSearch } from '../../../functions/platform/opensearch-search.js';
import type { PredictionPublisher, PublishResult } from '../../../functions/platform/ports.js';
import { FLOWS_TEMPLATE_VERSION, flowsIndexTemplate } from '../../../functions/records/ecs-document.js';
import {
  CURRENT_FEATURES_COLUMNS,
  decodePredictionMessage,
  unacknowledgedCount,
} from '../../../functions/records/prediction-message.js';
import { ensureServices, stopService } from '../../../scripts/services/services.js';
import { buildPcap, ethernetUdpFrame } from '../../support/capture-files.js';
import {
  allHistory,
  csvDataRows,
  postJson,
  realCapture,
  repoDir,
  uploadWithPresignedPost,
  waitForCapture,
} from '../pipeline/pipeline-harness.js';
import {
  countDocuments,
  createTopic,
  flowPrediction,
  readAll,
  servicesForTests,
  testKafka,
  uniqueName,
  waitForCount,
} from './support.js';

let brokers: string[];
let opensearchUrl: string;
let outagesPossible = false;
const EXTERNAL_SERVICES =
  'Kafka/OpenSearch were started outside this checkout (external): the outage tests cannot stop them; `npm run services:down` there, or run on a clean machine (CI does)';
let kafka: Kafka;
let admin: Admin;
let client: Client;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // Quiet Powertools (the local runtime's handlers log and emit metrics), as the Lambda service sets its env.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  ({ brokers, opensearchUrl, outagesPossible } = await servicesForTests());
  kafka = testKafka(brokers);
  admin = kafka.admin();
  await admin.connect();
  client = createOpenSearchClient({ url: opensearchUrl });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await admin?.disconnect();
});

function pipelineParts(index: string, deadLetterTopic: string) {
  const indexer = new OpenSearchIndexer({
    client,
    index,
    templateName: `${index}-template`,
    baseDelayMs: 50,
  });
  const poison = new KafkaDeadLetterSink(kafka, deadLetterTopic);
  cleanups.push(() => poison.disconnect());
  cleanups.push(() => client.indices.delete({ index, ignore_unavailable: true }));
  cleanups.push(() => client.indices.deleteIndexTemplate({ name: `${index}-template` }));
  return { indexer, poison };
}

async function bridge(topic: string, index: string, deadLetterTopic: string): Promise<KafkaBridge> {
  const { indexer, poison } = pipelineParts(index, deadLetterTopic);
  const started = await startKafkaBridge({
    kafka,
    brokers,
    topic,
    groupId: uniqueName('index-flows'),
    handler: createIndexFlowsHandler({ indexer, poison }),
    retryBackoffMs: { initial: 200, max: 1000 },
  });
  cleanups.push(() => started.stop());
  return started;
}

function publisher(
  topic: string,
  options: { chunkSize?: number; retries?: number; failFastMs?: number } = {},
) {
  const p = new KafkaPredictionPublisher({ kafka: testKafka(brokers), topic, ...options });
  cleanups.push(() => p.disconnect());
  return p;
}

describe.sequential('capture → Kafka → OpenSearch on the local runtime', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  let topic: string;
  let index: string;
  const publishResults: PublishResult[] = [];
  let stopKafkaAfterCall: number | undefined;

  beforeAll(async () => {
    topic = uniqueName('predictions');
    index = uniqueName('flows');
    await createTopic(admin, topic);
    // Fail fast for 10 s after a failed send, as in production (15 s): later pages of the capture do not wait.
    const e2ePublisher = publisher(topic, { retries: 1, failFastMs: 10_000 });
    // The runtime's publisher: the real one, which a test can make stop Kafka right after a publish call returns.
    const stoppable: PredictionPublisher = {
      async publish(predictions) {
        const result = await e2ePublisher.publish(predictions);
        publishResults.push(result);
        if (stopKafkaAfterCall !== undefined && publishResults.length === stopKafkaAfterCall) {
          await stopService('kafka');
        }
        return result;
      },
    };
    await bridge(topic, index, `${topic}.dlq`);
    const { startLocalRuntime } = await import('../../../functions/local/runtime.js');
    dataDir = await mkdtemp(join(tmpdir(), 'ccf-streaming-e2e-'));
    runtime = await startLocalRuntime({
      port: 0,
      s3Port: 0,
      dynamoPort: 0,
      dataDir,
      settings: {
        MODELS_DIR: join(repoDir, 'models'),
        SCORE_BATCH_SIZE: '64',
        KAFKA_BROKERS: brokers.join(','),
        // This test drives the retry path by hand; the sweep has its own test below.
        REPUBLISH_SWEEP_S: '0',
      },
      overrides: { publisher: stoppable },
    });
  });

  afterAll(async () => {
    // Kafka comes back for the later tests even if an assertion failed while it was down.
    await ensureServices({ kafka: true, opensearch: false });
    await runtime?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('one Kafka message per prediction and one document per flow; counts agree everywhere', async () => {
    const capture = realCapture();
    const { ticket, uploadStatus, uploadText } = await uploadWithPresignedPost(
      runtime.apiUrl,
      capture.name,
      capture.bytes,
    );
    expect(uploadStatus, uploadText).toBe(204);
    const view = await waitForCapture(runtime.apiUrl, ticket.capture_id, ['SCORED', 'FAILED'], 120_000);
    expect(view.status, JSON.stringify(view.errors)).toBe('SCORED');
    const flows = view.counts.flows ?? -1;
    expect(flows).toBeGreaterThan(0);
    expect(view.counts.predictions).toBe(flows);
    expect(view.publish).toMatchObject({ status: 'published', published: flows, failed: 0 });

    const csv = await fetch(view.links.flows ?? '');
    expect(csvDataRows(await csv.text()).length).toBe(flows);
    const { items } = await allHistory(runtime.apiUrl, { capture_id: ticket.capture_id, limit: '200' });
    expect(items.length).toBe(flows);

    const messages = (await readAll(kafka, topic)).filter((m) => m.key === ticket.capture_id);
    expect(messages.length).toBe(flows);
    const ids = messages.map(
      (m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction.prediction_id,
    );
    expect(new Set(ids)).toEqual(new Set(items.map((item) => item.id)));

    expect(await waitForCount(client, index, flows, 120_000)).toBe(flows);
    const malicious = await client.count({
      index,
      body: { query: { term: { 'ccf.prediction.verdict': 'malicious' } } },
    });
    expect(malicious.body.count).toBe(view.summary?.by_verdict.malicious ?? 0);
    const withCommunityId = await client.count({
      index,
      body: { query: { exists: { field: 'network.community_id' } } },
    });
    expect(withCommunityId.body.count).toBe(flows);
  }, 300_000);

  it('Kafka stopped while a capture is scored: the capture records what was not acknowledged; the retry path publishes exactly that; each prediction reaches OpenSearch once', async (context) => {
    if (!outagesPossible) context.skip(EXTERNAL_SERVICES);
    // 900 one-packet UDP flows → score-flows publishes pages of 256 flows: Kafka stops after the first call.
    publishResults.length = 0;
    stopKafkaAfterCall = 1;
    let view: Awaited<ReturnType<typeof waitForCapture>>;
    let captureId: string;
    try {
      const { ticket, uploadStatus, uploadText } = await uploadWithPresignedPost(
        runtime.apiUrl,
        'outage.pcap',
        manyFlowsCapture(900),
      );
      expect(uploadStatus, uploadText).toBe(204);
      captureId = ticket.capture_id;
      view = await waitForCapture(runtime.apiUrl, captureId, ['SCORED', 'FAILED'], 180_000);
    } finally {
      stopKafkaAfterCall = undefined;
    }
    expect(view.status, JSON.stringify(view.errors)).toBe('SCORED');
    const flows = view.counts.predictions ?? -1;
    const first = publishResults[0]?.published ?? -1;
    expect(publishResults.length).toBeGreaterThanOrEqual(2);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(flows);
    // The stored predictions are all there (DynamoDB), and the capture says precisely which ones Kafka lacks.
    expect(view.counts.predictions).toBe(view.counts.flows);
    expect(view.publish).toMatchObject({
      status: 'partial',
      published: first,
      failed: flows - first,
      unacknowledged: { ranges: [[first + 1, flows]], exact: true },
    });
    expect(view.publish?.message).toMatch(/did not acknowledge/);

    // While Kafka is down the retry records the same set again (nothing lost, nothing marked done).
    const whileDown = await retryPublish(runtime.apiUrl, captureId);
    expect(whileDown.status).toBe(200);
    expect(whileDown.body.publish).toMatchObject({
      status: 'partial',
      failed: flows - first,
      unacknowledged: { ranges: [[first + 1, flows]], exact: true },
    });

    await ensureServices({ kafka: true, opensearch: false });
    // Right after a restart the broker may still be electing leaders: an operator (or a scheduler) retries until
    // the capture says published. Every intermediate answer must still account for every flow.
    let retried = await retryPublish(runtime.apiUrl, captureId);
    let attempted = 0;
    const retryUntil = Date.now() + 90_000;
    while (Date.now() < retryUntil && retried.body.publish?.status !== 'published') {
      const publish = retried.body.publish;
      expect(retried.status).toBe(200);
      expect((publish?.published ?? 0) + (publish?.failed ?? 0)).toBe(flows);
      expect(unacknowledgedCount(publish?.unacknowledged)).toBe(publish?.failed);
      attempted += Number(retried.body.attempted);
      await new Promise((r) => setTimeout(r, 2000));
      retried = await retryPublish(runtime.apiUrl, captureId);
    }
    attempted += Number(retried.body.attempted);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({
      outcome: 'republished',
      publish: { status: 'published', published: flows, failed: 0 },
    });
    // Only unacknowledged flows were ever selected (a failed call stops the attempt, so overlap is bounded).
    expect(attempted).toBeGreaterThanOrEqual(flows - first);
    expect(retried.body.publish).not.toHaveProperty('unacknowledged');
    const after = await waitForCapture(runtime.apiUrl, captureId, ['SCORED'], 10_000);
    expect(after.publish).toEqual({ status: 'published', published: flows, failed: 0 });
    const again = await retryPublish(runtime.apiUrl, captureId);
    expect(again.body).toMatchObject({ outcome: 'nothing_to_publish', attempted: 0 });

    // Kafka holds each prediction once (the failed sends never reached the broker), OpenSearch one document each.
    const messages = (await readAll(kafka, topic)).filter((m) => m.key === captureId);
    const ids = messages.map(
      (m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction.prediction_id,
    );
    // Every prediction is on the topic; an id appears twice only if Kafka wrote a message whose acknowledgement
    // was lost (the documented at-least-once case), which OpenSearch collapses by `_id` below.
    expect(new Set(ids).size).toBe(flows);
    expect(ids.length - flows).toBeLessThanOrEqual(attempted - (flows - first));
    await client.indices.refresh({ index });
    const deadline = Date.now() + 120_000;
    let indexed = -1;
    while (Date.now() < deadline) {
      await client.indices.refresh({ index });
      const counted = await client.count({
        index,
        body: { query: { term: { 'ccf.capture.id': captureId } } },
      });
      indexed = counted.body.count;
      if (indexed >= flows) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(indexed).toBe(flows);
  }, 300_000);
});

describe.sequential('the republish sweep on the local runtime', () => {
  it('a capture and API predictions Kafka did not acknowledge are republished by the sweep once the broker answers, then left alone', async () => {
    const topic = uniqueName('sweep');
    await createTopic(admin, topic);
    const down = await unreachablePublisher(topic, 'sweep-down');
    const up = publisher(topic);
    let current: PredictionPublisher = down;
    const sweeps: { key: string; detail: string }[] = [];
    const { startLocalRuntime } = await import('../../../functions/local/runtime.js');
    const dataDir = await mkdtemp(join(tmpdir(), 'ccf-sweep-'));
    const runtime = await startLocalRuntime({
      port: 0,
      s3Port: 0,
      dynamoPort: 0,
      dataDir,
      dynamoInMemory: true,
      settings: {
        MODELS_DIR: join(repoDir, 'models'),
        KAFKA_BROKERS: brokers.join(','),
        REPUBLISH_SWEEP_S: '1',
      },
      overrides: { publisher: { publish: (predictions) => current.publish(predictions) } },
      onInvocation: (name, key, _outcome, detail) => {
        if (name === 'republish-sweep') sweeps.push({ key, detail });
      },
    });
    try {
      const { ticket, uploadStatus, uploadText } = await uploadWithPresignedPost(
        runtime.apiUrl,
        'sweep.pcap',
        manyFlowsCapture(300),
      );
      expect(uploadStatus, uploadText).toBe(204);
      const captureId = ticket.capture_id;
      const scored = await waitForCapture(runtime.apiUrl, captureId, ['SCORED', 'FAILED'], 120_000);
      expect(scored.status, JSON.stringify(scored.errors)).toBe('SCORED');
      const flows = scored.counts.predictions ?? -1;
      expect(scored.publish).toMatchObject({ status: 'failed', published: 0, failed: flows });
      // While the broker is down the sweep retries and records the same set again.
      const firstSweep = Date.now() + 10_000;
      while (Date.now() < firstSweep && !sweeps.some((s) => s.key === captureId)) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(sweeps.filter((s) => s.key === captureId).map((s) => s.detail)).toContain('failed');
      // POST /api/predict while the broker is down: answered (the predictions are stored), and the refused
      // predictions recorded with their pages, not kept in this process's memory.
      for (let i = 0; i < 3; i++) {
        const answer = await postJson(`${runtime.apiUrl}/api/predict`, {
          len: 60 + i,
          source_port: 80,
          dest_port: 443,
        });
        expect(answer.status, answer.text).toBe(200);
      }
      const refused = (await runtime.container.predictions.apiPredictionsAwaitingRepublish(100)).flatMap(
        (batch) => batch.predictions,
      );
      expect(refused.map((p) => p.input.len).sort()).toEqual([60, 61, 62]);

      current = up;
      const deadline = Date.now() + 60_000;
      let view = scored;
      while (Date.now() < deadline && view.publish?.status !== 'published') {
        await new Promise((r) => setTimeout(r, 500));
        view = await waitForCapture(runtime.apiUrl, captureId, ['SCORED'], 10_000);
      }
      expect(view.publish).toEqual({ status: 'published', published: flows, failed: 0 });
      const messages = (await readAll(kafka, topic)).filter((m) => m.key === captureId);
      expect(
        new Set(
          messages.map((m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction.prediction_id),
        ).size,
      ).toBe(flows);
      // The API predictions too, each under its own id, and their pages unlisted.
      const apiDeadline = Date.now() + 30_000;
      while (
        Date.now() < apiDeadline &&
        (await runtime.container.predictions.apiPredictionsAwaitingRepublish(100)).length > 0
      ) {
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(await runtime.container.predictions.apiPredictionsAwaitingRepublish(100)).toEqual([]);
      const onTopic = new Set(
        (await readAll(kafka, topic)).map(
          (m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction.prediction_id,
        ),
      );
      for (const prediction of refused) expect(onTopic.has(prediction.prediction_id)).toBe(true);
      // Published: no longer listed, so later sweeps leave it alone.
      const sweepsSoFar = sweeps.length;
      await new Promise((r) => setTimeout(r, 2500));
      expect(sweeps.slice(sweepsSoFar).filter((s) => s.key === captureId)).toEqual([]);
      expect(await runtime.container.captures.capturesAwaitingRepublish(10)).toEqual([]);
    } finally {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe.sequential('streaming against real Kafka and OpenSearch', () => {
  it('publishes predictions, consumes them MSK-shaped and indexes ECS documents; search finds them', async () => {
    const topic = uniqueName('predictions');
    const index = uniqueName('flows');
    await createTopic(admin, topic);
    const captureId = uniqueName('cap');
    const predictions = Array.from({ length: 60 }, (_, i) => flowPrediction(captureId, i + 1));
    const api = flowPrediction('api', 1, { prediction_id: uniqueName('api'), capture_id: 'api' });

    const started = Date.now();
    const result = await publisher(topic).publish([...predictions, api]);
    expect(result).toMatchObject({ status: 'published', published: 61, failed: 0, unacknowledged_ids: [] });

    const messages = await readAll(kafka, topic);
    expect(messages).toHaveLength(61);
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set([captureId, 'api']));
    // One capture → one key → one partition, in order.
    const captureMessages = messages.filter((m) => m.key === captureId);
    expect(new Set(captureMessages.map((m) => m.partition)).size).toBe(1);
    const decoded = captureMessages.map((m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)));
    expect(decoded.map((d) => d.prediction.prediction_id)).toEqual(predictions.map((p) => p.prediction_id));
    expect(decoded[0]).toMatchObject({ type: 'ccf.prediction', message_version: 2 });

    await bridge(topic, index, uniqueName('dlq'));
    expect(await waitForCount(client, index, 61)).toBe(61);
    process.stderr.write(`publish → indexed 61 documents in ${Date.now() - started} ms\n`);

    const doc = await client.get({ index, id: `${captureId}:3` });
    const source = doc.body._source as Record<string, unknown>;
    expect(source).toMatchObject({
      '@timestamp': '2017-07-07T18:08:13.763Z',
      event: {
        kind: 'alert',
        category: ['network'],
        type: ['connection'],
        start: '2017-07-07T18:08:13.763Z',
        end: '2017-07-07T18:08:14.998Z',
        duration: 1_234_567_000,
      },
      source: { ip: '10.0.0.3', port: 40003, bytes: 100, packets: 3 },
      destination: { ip: '192.168.1.10', port: 80, bytes: 200, packets: 2 },
      network: {
        transport: 'tcp',
        iana_number: '6',
        type: 'ipv4',
        bytes: 300,
        packets: 5,
        community_id: `1:${Buffer.from('flow-3').toString('base64')}`,
      },
      related: { ip: ['10.0.0.3', '192.168.1.10'] },
      ccf: {
        prediction_id: `${captureId}:3`,
        flow_id: '10.0.0.3-192.168.1.10-40003-443-6',
        prediction: { label: 'DoS Hulk', verdict: 'malicious', model: 'flow-classifier', probability: 0.93 },
        capture: { id: captureId },
        features: {
          flow_duration_us: 1_234_567,
          flow_bytes_per_s: 243,
          fwd_iat_mean_us: 1500.5,
          expiry_reason: 'fin',
        },
      },
    });

    const mapping = await client.indices.getMapping({ index });
    const properties = JSON.stringify(mapping.body);
    for (const fragment of [
      '"@timestamp":{"type":"date"}',
      '"ip":{"type":"ip"}',
      '"community_id":{"type":"keyword"}',
      '"port":{"type":"integer"}',
      // Features are stored in _source (checked above) but not indexed: no per-feature fields in the mapping.
      '"features":{"type":"object","enabled":false}',
    ]) {
      expect(properties).toContain(fragment);
    }
    expect(properties).not.toContain('flow_duration_us');

    const search = new OpenSearchFlowSearch(client, index);
    const malicious = await search.search(resolveFlowSearch({ q: `verdict:malicious capture:${captureId}` }));
    expect(malicious.total).toBe(20);
    expect(malicious.items.every((d) => d.ccf.prediction.verdict === 'malicious')).toBe(true);
    const byIp = await search.search(resolveFlowSearch({ q: 'ip:10.0.0.0/24 port:80', capture: captureId }));
    expect(byIp.total).toBe(30);
    const byLabel = await search.search(resolveFlowSearch({ q: 'label:"DoS Hulk" to:2017-07-07T18:08:20Z' }));
    expect(byLabel.items.every((d) => d['@timestamp'] <= '2017-07-07T18:08:20.000Z')).toBe(true);
    expect(byLabel.total).toBeGreaterThan(0);
    // Pagination walks every document once.
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await search.search(
        resolveFlowSearch({ capture: captureId, limit: '25', ...(cursor ? { cursor } : {}) }),
      );
      for (const d of page.items) seen.add(d.ccf.prediction_id);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.size).toBe(60);
    expect(() => resolveFlowSearch({ q: 'verdict:malicious OR 1=1' })).toThrow(/key:value/);
    expect(() => resolveFlowSearch({ q: 'script:boom' })).toThrow(/unknown key 'script'/);
  });

  it('concurrent calls share produce requests; each is answered with its own messages acknowledged, in order', async () => {
    const topic = uniqueName('predictions');
    await createTopic(admin, topic);
    // Requests of at most 7 messages: the 5 calls' 200 messages need ~29 of them, interleaved across calls.
    const p = publisher(topic, { chunkSize: 7 });
    const captures = [0, 1, 2, 3, 4].map(() => uniqueName('cap'));
    const calls = captures.map((captureId) =>
      Array.from({ length: 40 }, (_, i) => flowPrediction(captureId, i + 1)),
    );
    const results = await Promise.all(calls.map((predictions) => p.publish(predictions)));
    for (const result of results)
      expect(result).toMatchObject({ status: 'published', published: 40, failed: 0, unacknowledged_ids: [] });
    const messages = await readAll(kafka, topic);
    expect(messages).toHaveLength(200);
    for (const [i, captureId] of captures.entries()) {
      const ids = messages
        .filter((m) => m.key === captureId)
        .map((m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction.prediction_id);
      expect(ids).toEqual(calls[i]?.map((x) => x.prediction_id));
    }
  });

  it('publishes features CSV lines as v2 values, decoding to the inputs score-flows would have built', async () => {
    const topic = uniqueName('predictions');
    await createTopic(admin, topic);
    const captureId = uniqueName('cap');
    const columns = FEATURE_PART_HEADER.trim().split(',');
    const lineOf = (i: number) =>
      columns
        .map((c) =>
          c === 'Flow ID'
            ? `10.0.0.${i}-192.168.1.10-${40000 + i}-80-6`
            : c === 'Src IP'
              ? `10.0.0.${i}`
              : c === 'Dst IP'
                ? '192.168.1.10'
                : c === 'Timestamp'
                  ? '2017-07-07 18:08:13.763666'
                  : c === 'community_id'
                    ? '1:LQU9qZlK+B5F3KDmev6m5PMibrg='
                    : c === 'expiry_reason'
                      ? 'fin'
                      : String(i * 1.25),
        )
        .join(',');
    // The third line quotes a field (legal CSV): it is parsed into an input object instead of copied.
    const lines = [
      lineOf(1),
      lineOf(2),
      lineOf(3).replace('10.0.0.3-', '"10.0.0.3-').replace('-80-6,', '-80-6",'),
    ];
    const predictions = [1, 2, 3].map((i) => ({ ...flowPrediction(captureId, i), input: {} }));
    const result = await publisher(topic).publish(predictions, { columns, lines });
    expect(result).toMatchObject({ status: 'published', published: 3, failed: 0 });
    const messages = await readAll(kafka, topic);
    const wire = messages.map((m) => JSON.parse((m.value ?? Buffer.alloc(0)).toString()));
    expect(wire.map((w) => w.input_columns)).toEqual([
      CURRENT_FEATURES_COLUMNS,
      CURRENT_FEATURES_COLUMNS,
      CURRENT_FEATURES_COLUMNS,
    ]);
    const decoded = messages.map((m) => decodePredictionMessage(m.value ?? Buffer.alloc(0)).prediction);
    expect(decoded).toEqual(
      predictions.map((p, i) => ({ ...p, input: flowRecordFromCsv(columns, lines[i] as string, 0) })),
    );
    expect(decoded[2]?.input['Flow ID']).toBe('10.0.0.3-192.168.1.10-40003-80-6');
    expect(() => publisher(topic).publish(predictions, { columns, lines: lines.slice(1) })).toThrow(
      /2 CSV lines/,
    );
  });

  it('unreachable broker: capture flows come back as flow-index ranges, API predictions by id, nothing held in memory', async () => {
    const p = await unreachablePublisher(uniqueName('down'), 'down');
    const captureId = uniqueName('cap');
    const flows = [3, 4, 5, 9].map((i) => flowPrediction(captureId, i));
    const api = flowPrediction('api', 1, { prediction_id: 'api:page-1:7', capture_id: 'api' });
    const started = Date.now();
    const result = await p.publish([...flows, api]);
    expect(result).toMatchObject({
      status: 'failed',
      published: 0,
      failed: 5,
      unacknowledged: {
        ranges: [
          [3, 5],
          [9, 9],
        ],
        exact: true,
      },
    });
    expect(result.unacknowledgedApi).toEqual(['api:page-1:7']);
    // Within the fail-fast window the next call does not wait for the broker again.
    const again = Date.now();
    expect((await p.publish([flowPrediction(captureId, 10)])).unacknowledged).toEqual({
      ranges: [[10, 10]],
      exact: true,
    });
    expect(Date.now() - again).toBeLessThan(Math.max(1000, (again - started) / 2));
  });

  it('the index template is replaced when older than the code, and left alone when newer', async () => {
    const index = uniqueName('flows');
    const name = `${index}-template`;
    cleanups.push(() => client.indices.deleteIndexTemplate({ name }).catch(() => undefined));
    const installed = async () => {
      const response = await client.indices.getIndexTemplate({ name });
      return response.body.index_templates?.[0]?.index_template?.template;
    };
    // As installed before templates carried a version: refresh_interval pinned to 1s.
    const old = flowsIndexTemplate(`${index}*`);
    await client.indices.putIndexTemplate({
      name,
      body: {
        ...old,
        template: {
          ...old.template,
          settings: { ...old.template.settings, refresh_interval: '1s' },
          mappings: { ...old.template.mappings, _meta: { document_version: 1 } },
        },
      },
    });
    await new OpenSearchIndexer({ client, index, templateName: name }).ensureTemplate();
    const replaced = await installed();
    expect(replaced?.mappings?._meta).toMatchObject({ template_version: FLOWS_TEMPLATE_VERSION });
    expect(JSON.stringify(replaced?.settings ?? {})).not.toContain('refresh_interval');
    // A replica only where a second node can hold it: none on this single node, so a new index goes green.
    const created = `${index}-replicas`;
    cleanups.push(() => client.indices.delete({ index: created }).catch(() => undefined));
    await client.indices.create({ index: created });
    const settings = (await client.indices.getSettings({ index: created })).body[created]?.settings;
    expect(settings?.index).toMatchObject({ auto_expand_replicas: '0-1', number_of_replicas: '0' });
    const health = await client.cluster.health({ index: created, wait_for_status: 'green', timeout: '10s' });
    expect(health.body.status).toBe('green');

    const newer = flowsIndexTemplate(`${index}*`);
    await client.indices.putIndexTemplate({
      name,
      body: {
        ...newer,
        template: {
          ...newer.template,
          mappings: { ...newer.template.mappings, _meta: { template_version: 99 } },
        },
      },
    });
    await new OpenSearchIndexer({ client, index, templateName: name }).ensureTemplate();
    expect((await installed())?.mappings?._meta).toEqual({ template_version: 99 });
  });

  it('MSK redelivery of a batch does not duplicate documents', async () => {
    const index = uniqueName('flows');
    const { indexer, poison } = pipelineParts(index, uniqueName('dlq'));
    const captureId = uniqueName('cap');
    const event = mskEventOf(
      topicName(),
      Array.from({ length: 40 }, (_, i) => flowPrediction(captureId, i + 1)),
    );
    const first = await indexMskBatch(event, { indexer, poison });
    expect(first).toMatchObject({ indexed: 40, failed: 0, poison: 0, response: { batchItemFailures: [] } });
    const again = await indexMskBatch(event, { indexer, poison });
    expect(again.indexed).toBe(40);
    expect(await countDocuments(client, index)).toBe(40);
  });

  it('OpenSearch down: the batch is reported failed; after restart the redelivery indexes everything', async (context) => {
    if (!outagesPossible) context.skip(EXTERNAL_SERVICES);
    const index = uniqueName('flows');
    const { indexer, poison } = pipelineParts(index, uniqueName('dlq'));
    const captureId = uniqueName('cap');
    const topic = topicName();
    const event = mskEventOf(
      topic,
      Array.from({ length: 30 }, (_, i) => flowPrediction(captureId, i + 1)),
    );
    // Template installed while up, so the failure below is the bulk request itself.
    await indexer.ensureTemplate();
    await stopService('opensearch');
    try {
      const failed = await indexMskBatch(event, { indexer, poison });
      expect(failed.indexed).toBe(0);
      expect(failed.failed).toBe(30);
      const identifiers = failed.response.batchItemFailures.map((f) => f.itemIdentifier);
      expect(identifiers).toHaveLength(30);
      expect(identifiers[0]).toEqual({ partition: `${topic}-0`, offset: 0 });
      expect(new Set(identifiers.map((i) => i.partition))).toEqual(new Set([`${topic}-0`, `${topic}-1`]));
    } finally {
      await ensureServices({ kafka: false, opensearch: true });
    }
    const redelivered = await indexMskBatch(event, { indexer, poison });
    expect(redelivered).toMatchObject({ indexed: 30, failed: 0, response: { batchItemFailures: [] } });
    expect(await countDocuments(client, index)).toBe(30);
  }, 300_000);

  it('a poison message is reported, sent to the failure destination and does not block its partition', async () => {
    const topic = uniqueName('predictions');
    const deadLetters = uniqueName('dlq');
    const index = uniqueName('flows');
    await createTopic(admin, topic, 1);
    await createTopic(admin, deadLetters, 1);
    const captureId = uniqueName('cap');
    const good = [1, 2, 3, 4].map((i) => flowPrediction(captureId, i));
    const p = publisher(topic);
    await p.publish(good.slice(0, 2));
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({
      topic,
      acks: -1,
      messages: [
        { key: captureId, value: '{not json' },
        {
          key: captureId,
          value: JSON.stringify({ type: 'ccf.prediction', message_version: 99, prediction: {} }),
        },
      ],
    });
    await raw.disconnect();
    await p.publish(good.slice(2));

    const started = await bridge(topic, index, deadLetters);
    expect(await waitForCount(client, index, 4)).toBe(4);
    const dead = await readAll(kafka, deadLetters);
    expect(dead.map((d) => d.value?.toString())).toEqual([
      '{not json',
      JSON.stringify({ type: 'ccf.prediction', message_version: 99, prediction: {} }),
    ]);
    // Committed past the poison: the group's offset is the end of the partition.
    const deadline = Date.now() + 10_000;
    let committed = '';
    while (Date.now() < deadline) {
      const offsets = await admin.fetchOffsets({ groupId: started.groupId, topics: [topic] });
      committed = offsets[0]?.partitions[0]?.offset ?? '';
      if (committed === '6') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(committed).toBe('6');
    expect(started.stats().failedBatches).toBe(0);
  });

  it('the local runtime hook finds the running services, publishes and indexes', async () => {
    const streaming = await startLocalStreaming({}, () => undefined);
    cleanups.push(() => streaming.stop());
    expect(streaming.description).toMatch(/^streaming on: publishing to Kafka .* indexing into OpenSearch/);
    expect(streaming.kafkaBrokers).toEqual(brokers);
    expect(streaming.opensearchUrl).toBe(opensearchUrl);
    const captureId = uniqueName('hook');
    const published = await streaming.publisher.publish([
      flowPrediction(captureId, 1),
      flowPrediction(captureId, 2),
    ]);
    expect(published).toMatchObject({ status: 'published', published: 2, failed: 0 });
    const deadline = Date.now() + 60_000;
    let found = 0;
    while (found < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      await client.indices.refresh({ index: 'ccf-flows', ignore_unavailable: true }).catch(() => undefined);
      const response = await client
        .count({ index: 'ccf-flows', body: { query: { term: { 'ccf.capture.id': captureId } } } })
        .catch(() => undefined);
      found = response?.body.count ?? 0;
    }
    expect(found).toBe(2);
    for (const id of [`${captureId}:1`, `${captureId}:2`]) await client.delete({ index: 'ccf-flows', id });

    const off = await startLocalStreaming({ KAFKA_BROKERS: '' }, () => undefined);
    expect(off.bridge).toBeUndefined();
    expect(off.description).toMatch(/^streaming off/);
  }, 120_000);
});

/** One UDP packet per flow (distinct source ports), so the capture has `flows` flows. */
/**
 * The real publisher against a port nothing listens on: connection refused at once, as when the broker is
 * down (no retries; for a minute after a failure further calls fail at once). Disconnected after the test.
 */
async function unreachablePublisher(topic: string, clientId: string): Promise<KafkaPredictionPublisher> {
  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((done) => closed.close(() => done()));
  const down = new KafkaPredictionPublisher({
    kafka: createKafka(
      { brokers: [`127.0.0.1:${port}`], auth: 'plaintext', region: 'us-east-1', clientId },
      { retries: 0 },
    ),
    topic,
    retries: 0,
    failFastMs: 60_000,
  });
  cleanups.push(() => down.disconnect());
  return down;
}

function manyFlowsCapture(flows: number): Uint8Array {
  return buildPcap({
    packets: Array.from({ length: flows }, (_, i) => {
      const data = ethernetUdpFrame(60, i);
      data[34] = 0x80 | ((i >> 8) & 0x7f);
      data[35] = i & 0xff;
      return { tsUs: 1_700_000_000_000_000 + i * 1000, data };
    }),
  });
}

async function retryPublish(
  apiUrl: string,
  captureId: string,
): Promise<{ status: number; body: Record<string, unknown> & { publish?: PublishResult } }> {
  const response = await fetch(`${apiUrl}/api/captures/${captureId}/publish`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

let topicCounter = 0;
function topicName(): string {
  topicCounter++;
  return `network_predictions_t${topicCounter}`;
}

/** An MSK event as Lambda builds it: records split over two partitions, base64 values. */
function mskEventOf(topic: string, predictions: ReturnType<typeof flowPrediction>[]): MskEvent {
  return toMskEvent(
    predictions.map((prediction, i) => ({
      topic,
      partition: i % 2,
      offset: Math.floor(i / 2),
      timestamp: Date.now(),
      key: Buffer.from(prediction.capture_id),
      value: Buffer.from(
        JSON.stringify({
          type: 'ccf.prediction',
          message_version: 1,
          published_at: new Date().toISOString(),
          prediction,
        }),
      ),
    })),
    brokers,
  );
}
