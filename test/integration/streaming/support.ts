import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@opensearch-project/opensearch';
import { type Admin, type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../../../functions/records/prediction.js';
import { ensureServices, ServicesSetupError } from '../../../scripts/services/services.js';

/** Starts (or reuses) the real Kafka and OpenSearch; a missing Java or Maven fails with the setup message. */
/**
 * `outagesPossible`: both services were started by these scripts, so the outage tests may stop and restart them.
 * Services another checkout started (or an operator's) are external: stopping them is not ours to do.
 */
export async function servicesForTests(): Promise<{
  brokers: string[];
  opensearchUrl: string;
  outagesPossible: boolean;
}> {
  try {
    const state = await ensureServices({
      settings: { log: (line) => process.stderr.write(`services: ${line}\n`) },
    });
    if (!state.kafka || !state.opensearch) throw new Error('services did not start');
    return {
      brokers: state.kafka.brokers,
      opensearchUrl: state.opensearch.url,
      outagesPossible: !state.kafka.external && !state.opensearch.external,
    };
  } catch (error) {
    if (error instanceof ServicesSetupError) {
      throw new Error(`The streaming tests need real Kafka and OpenSearch: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(brokers: string[]): Kafka {
  return new KafkaClient({
    clientId: 'ccf-streaming-tests',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

export async function createTopic(admin: Admin, topic: string, partitions = 3): Promise<void> {
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
}

/** A flow prediction shaped like score-flows makes them (a subset of the CIC columns is enough for mapping). */
export function flowPrediction(
  captureId: string,
  index: number,
  overrides: Partial<Prediction> = {},
): Prediction {
  const malicious = index % 3 === 0;
  return {
    schema_version: PREDICTION_SCHEMA_VERSION,
    prediction_id: `${captureId}:${index}`,
    capture_id: captureId,
    kind: 'flow',
    scored_at: '2026-11-28T12:00:00.000Z',
    label: malicious ? 'DoS Hulk' : 'BENIGN',
    probability: malicious ? 0.93 : 0.04,
    anomaly_score: malicious ? 0.7 : null,
    verdict: malicious ? 'malicious' : 'benign',
    decided_by: 'flow-classifier',
    model_version: '1.0.0',
    input: {
      'Flow ID': `10.0.0.${index % 250}-192.168.1.10-${40000 + index}-443-6`,
      'Src IP': `10.0.0.${index % 250}`,
      'Src Port': 40000 + index,
      'Dst IP': '192.168.1.10',
      'Dst Port': index % 2 === 0 ? 443 : 80,
      Protocol: 6,
      Timestamp: `2017-07-07 18:08:${String(10 + (index % 40)).padStart(2, '0')}.763666`,
      'Flow Duration': 1_234_567,
      'Total Fwd Packet': 3,
      'Total Bwd packets': 2,
      'Total Length of Fwd Packet': 100,
      'Total Length of Bwd Packet': 200,
      'Flow Bytes/s': 243.0,
      'Fwd IAT Mean': 1500.5,
      community_id: `1:${Buffer.from(`flow-${index}`).toString('base64')}`,
      ip_version: 4,
      expiry_reason: 'fin',
    },
    ...overrides,
  };
}

export async function countDocuments(client: Client, index: string): Promise<number> {
  await client.indices.refresh({ index, ignore_unavailable: true });
  const response = await client.count({ index, ignore_unavailable: true });
  return response.body.count;
}

export async function waitForCount(
  client: Client,
  index: string,
  expected: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  while (Date.now() < deadline) {
    count = await countDocuments(client, index).catch(() => -1);
    if (count >= expected) {
      // Settle: a brief wait shows that no extra documents follow.
      await sleep(500);
      return countDocuments(client, index);
    }
    await sleep(300);
  }
  return count;
}

/** Every message currently on a topic (reads from the beginning with a throwaway group until the end offsets). */
export async function readAll(
  kafka: Kafka,
  topic: string,
): Promise<{ key: string | null; value: Buffer | null; partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  // Right after a broker restart (the outage tests) leadership may still be moving: retry briefly.
  let ends: Awaited<ReturnType<Admin['fetchTopicOffsets']>> = [];
  for (let attempt = 0; ; attempt++) {
    try {
      ends = await admin.fetchTopicOffsets(topic);
      break;
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(500);
    }
  }
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
  );
  const out: { key: string | null; value: Buffer | null; partition: number; offset: string }[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          out.push({
            key: message.key?.toString() ?? null,
            value: message.value,
            partition,
            offset: message.offset,
          });
          const high = remaining.get(partition);
          if (high !== undefined && Number(message.offset) + 1 >= high) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}
