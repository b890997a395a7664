import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaBridge } from '../../../functions/local/kafka-bridge.js';
import type { LocalRuntime } from '../../../functions/local/runtime.js';
import { KafkaDeadLetterSink } from '../../../functions/platform/kafka-dead-letter.js';
import { KafkaPredictionPublisher } from '../../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../../functions/platform/opensearch-indexer.js';
import { decodePredictionMessage } from '../../../functions/records/prediction-message.js';
import {
  allHistory,
  csvDataRows,
  realCapture,
  repoDir,
  uploadWithPresignedPost,
  waitForCapture,
} from '../pipeline/pipeline-harness.js';
import { createTopic, readAll, servicesForTests, testKafka, uniqueName, waitForCount } from './support.js';

/**
 * Upload → parse → score → Kafka → index-flows → OpenSearch on the local runtime: the counts agree across
 * DynamoDB (history and capture summary), the Kafka topic, OpenSearch and flows/{id}.csv.
 */
let runtime: LocalRuntime;
let dataDir: string;
let kafka: Kafka;
let client: Client;
let bridge: KafkaBridge;
let publisher: KafkaPredictionPublisher;
let deadLetters: KafkaDeadLetterSink;
const topic = uniqueName('predictions');
const index = uniqueName('flows');

beforeAll(async () => {
  // Quiet Powertools before any handler module is loaded (as the Lambda service sets its env).
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const { createIndexFlowsHandler } = await import('../../../functions/handlers/index-flows.js');
  const { startKafkaBridge } = await import('../../../functions/local/kafka-bridge.js');
  const { brokers, opensearchUrl } = await servicesForTests();
  kafka = testKafka(brokers);
  const admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic);
  await admin.disconnect();
  client = createOpenSearchClient({ url: opensearchUrl });
  publisher = new KafkaPredictionPublisher({ kafka: testKafka(brokers), topic });
  deadLetters = new KafkaDeadLetterSink(kafka, `${topic}.dlq`);
  bridge = await startKafkaBridge({
    kafka,
    brokers,
    topic,
    groupId: uniqueName('index-flows'),
    handler: createIndexFlowsHandler({
      indexer: new OpenSearchIndexer({ client, index, templateName: `${index}-template` }),
      poison: deadLetters,
    }),
  });
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
    },
    overrides: { publisher },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await publisher?.disconnect();
  await deadLetters?.disconnect();
  await runtime?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await client?.indices.delete({ index, ignore_unavailable: true }).catch(() => undefined);
  await client?.indices.deleteIndexTemplate({ name: `${index}-template` }).catch(() => undefined);
});

describe('capture → Kafka → OpenSearch', () => {
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
});
