/**
 * Streaming section: predictions published per second to the local Kafka (idempotent producer, acks=all) and
 * documents indexed per second into the local OpenSearch through the same path as AWS (Kafka → MSK-shaped batch
 * → index-flows → bulk). Starts (or reuses) the services with scripts/services.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { createIndexFlowsHandler } from '../../functions/handlers/index-flows.js';
import { startKafkaBridge } from '../../functions/local/kafka-bridge.js';
import { KafkaDeadLetterSink } from '../../functions/platform/kafka-dead-letter.js';
import { KafkaPredictionPublisher } from '../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../functions/platform/opensearch-indexer.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../../functions/records/prediction.js';
import { ensureServices } from '../../scripts/services/services.js';
import type { BenchContext } from './support/context.js';
import { type BenchRow, machineInfo, type SectionResult } from './support/results.js';

function prediction(captureId: string, index: number): Prediction {
  const malicious = index % 5 === 0;
  return {
    schema_version: PREDICTION_SCHEMA_VERSION,
    prediction_id: `${captureId}:${index}`,
    capture_id: captureId,
    kind: 'flow',
    scored_at: new Date().toISOString(),
    label: malicious ? 'DoS Hulk' : 'BENIGN',
    probability: malicious ? 0.9 : 0.05,
    anomaly_score: null,
    verdict: malicious ? 'malicious' : 'benign',
    decided_by: 'flow-classifier',
    model_version: 'bench',
    input: {
      'Flow ID': `10.1.${index % 200}.${index % 250}-10.2.0.1-${1024 + (index % 60000)}-443-6`,
      'Src IP': `10.1.${index % 200}.${index % 250}`,
      'Src Port': 1024 + (index % 60000),
      'Dst IP': '10.2.0.1',
      'Dst Port': 443,
      Protocol: 6,
      Timestamp: '2017-07-07 18:08:57.763666',
      'Flow Duration': 1000 + index,
      'Total Fwd Packet': 10,
      'Total Bwd packets': 8,
      'Total Length of Fwd Packet': 1200,
      'Total Length of Bwd Packet': 5400,
      'Flow Bytes/s': 1234.5,
      'Fwd IAT Mean': 12.5,
      community_id: '1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=',
      ip_version: 4,
      expiry_reason: 'fin',
    },
  };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function row(
  name: string,
  command: string,
  count: number,
  bytes: number,
  wall: number,
  cpu: number,
): BenchRow {
  return {
    name,
    command,
    input: 'full',
    packets: count,
    bytes,
    wallSeconds: wall,
    cpuSeconds: cpu,
    packetsPerSecond: count / Math.max(cpu, 1e-9),
    megabytesPerSecond: bytes / 1e6 / Math.max(wall, 1e-9),
    wallPacketsPerSecond: count / Math.max(wall, 1e-9),
    peakRssMb: process.memoryUsage().rss / 1024 / 1024,
    exitCode: 0,
  };
}

export async function runStreamingBench(context: BenchContext): Promise<SectionResult> {
  const total = context.quick ? 5_000 : 50_000;
  const state = await ensureServices({ settings: { log: context.log } });
  if (!state.kafka || !state.opensearch) throw new Error('services did not start');
  const brokers = state.kafka.brokers;
  const kafka = new Kafka({ clientId: 'ccf-bench', brokers, logLevel: logLevel.NOTHING });
  const suffix = randomUUID().slice(0, 8);
  const topic = `bench-predictions-${suffix}`;
  const index = `bench-flows-${suffix}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    waitForLeaders: true,
  });

  const captureIds = [0, 1, 2, 3].map((i) => `bench-${suffix}-${i}`);
  const predictions = Array.from({ length: total }, (_, i) =>
    prediction(captureIds[i % captureIds.length] ?? 'bench', i + 1),
  );
  const bytes = predictions.reduce((sum, p) => sum + JSON.stringify(p).length, 0);
  const publisher = new KafkaPredictionPublisher({ kafka, topic, chunkSize: 500 });

  context.log(`publishing ${total} predictions to ${topic}`);
  let cpu = process.cpuUsage();
  let started = performance.now();
  // As score-flows does: one publish call per scored batch of 512.
  for (let i = 0; i < predictions.length; i += 512) {
    const result = await publisher.publish(predictions.slice(i, i + 512));
    if (result.failed > 0) throw new Error(`publish failed: ${result.message}`);
  }
  const publishWall = (performance.now() - started) / 1000;
  const publishRow = row(
    'kafka publish',
    'KafkaPredictionPublisher.publish (idempotent, acks=all)',
    total,
    bytes,
    publishWall,
    cpuSeconds(cpu),
  );

  context.log(`indexing ${total} documents into ${index} through the bridge`);
  const client = createOpenSearchClient({ url: state.opensearch.url });
  const indexer = new OpenSearchIndexer({ client, index, templateName: `${index}-template` });
  await indexer.ensureTemplate();
  const deadLetters = new KafkaDeadLetterSink(kafka, `${topic}.dlq`);
  cpu = process.cpuUsage();
  started = performance.now();
  const bridge = await startKafkaBridge({
    kafka,
    brokers,
    topic,
    groupId: `bench-${suffix}`,
    handler: createIndexFlowsHandler({ indexer, poison: deadLetters }),
  });
  const deadline = Date.now() + 600_000;
  while (bridge.stats().committed < total && Date.now() < deadline) await sleep(100);
  const indexWall = (performance.now() - started) / 1000;
  const indexCpu = cpuSeconds(cpu);
  await bridge.stop();
  await client.indices.refresh({ index });
  const count = (await client.count({ index })).body.count;
  const indexRow = row(
    'index-flows via bridge',
    'kafka-bridge → index-flows → OpenSearch _bulk',
    count,
    bytes,
    indexWall,
    indexCpu,
  );

  await publisher.disconnect();
  await deadLetters.disconnect();
  await client.indices.delete({ index });
  await client.indices.deleteIndexTemplate({ name: `${index}-template` });
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();

  return {
    section: 'streaming',
    generatedAt: new Date().toISOString(),
    quick: context.quick,
    machine: machineInfo(),
    capture: {
      path: '(synthetic predictions)',
      bytes,
      packets: total,
      description: `${total} flow predictions; "packets" columns count predictions/documents here`,
    },
    rows: [publishRow, indexRow],
    unavailable: [],
    ratios: [
      { label: 'predictions published per second (wall)', value: total / publishWall },
      { label: 'documents indexed per second (wall, consume + map + bulk)', value: count / indexWall },
      {
        label: 'documents indexed / predictions published',
        value: count / total,
        target: '= 1 (each prediction indexed exactly once)',
        met: count === total,
      },
    ],
    notes: [
      'Local single-node Kafka 3.9.1 (KRaft, 512 MB heap) and OpenSearch 2.19.4 (512 MB heap), both on this machine, started by scripts/services.',
      'Indexing rate includes consuming from Kafka, decoding and validating each message, ECS mapping and OpenSearch bulk requests of up to 500 documents.',
    ],
  };
}
