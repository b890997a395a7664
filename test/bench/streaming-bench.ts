/**
 * Streaming section: predictions published per second to the local Kafka (idempotent producer, acks=all) and
 * documents indexed per second into the local OpenSearch through the same path as AWS (Kafka → MSK-shaped batch
 * → index-flows → bulk); then the ~100 MB harness capture end to end on the local runtime: upload → SCORED and
 * upload → last document indexed in the same run (target: the second ≤ 1.3 × the first).
 * Starts (or reuses) the services with scripts/services.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { uploadCapture } from '../../functions/cli/commands/upload-command.js';
import { extractFlows, plainFlowRecord } from '../../functions/flows/index.js';
import { createIndexFlowsHandler } from '../../functions/handlers/index-flows.js';
import { LOCAL_BATCH_RECORDS, startKafkaBridge } from '../../functions/local/kafka-bridge.js';
import { KafkaDeadLetterSink } from '../../functions/platform/kafka-dead-letter.js';
import { KafkaPredictionPublisher } from '../../functions/platform/kafka-publisher.js';
import { createOpenSearchClient, OpenSearchIndexer } from '../../functions/platform/opensearch-indexer.js';
import type { PredictionPublisher } from '../../functions/platform/ports.js';
import type { CsvInputs } from '../../functions/platform/prediction-pages.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../../functions/records/prediction.js';
import { ensureServices } from '../../scripts/services/services.js';
import { type BenchContext, endToEndCapture, startBenchRuntime } from './support/context.js';
import { type BenchRow, machineInfo, type SectionResult } from './support/results.js';

/**
 * Real flow records (every column of the flow CSV) from the repository's sample capture, so that the documents
 * indexed by the rows before the end-to-end run are the size and shape of a capture's (~3 KB, ~95 features),
 * not a handful of fields. Indexing them also warms OpenSearch's JIT before the end-to-end run, as a
 * long-running service is (a freshly started one spends several times more CPU on its first ~100,000 documents).
 */
async function sampleFlowInputs(repoDir: string): Promise<Record<string, string | number>[]> {
  const inputs: Record<string, string | number>[] = [];
  for await (const record of extractFlows(join(repoDir, 'samples', 'lab-mix.pcap'))) {
    inputs.push({ ...plainFlowRecord(record) });
  }
  if (inputs.length === 0) throw new Error('samples/lab-mix.pcap gave no flows');
  return inputs;
}

function prediction(
  captureId: string,
  index: number,
  inputs: readonly Record<string, string | number>[],
): Prediction {
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
    input: inputs[index % inputs.length] ?? {},
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
  const inputs = await sampleFlowInputs(context.repoDir);
  const predictions = Array.from({ length: total }, (_, i) =>
    prediction(captureIds[i % captureIds.length] ?? 'bench', i + 1, inputs),
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
  const indexer = new OpenSearchIndexer({
    client,
    index,
    templateName: `${index}-template`,
    // As the local runtime's bridge configures it (one bulk per batch).
    bulkSize: LOCAL_BATCH_RECORDS,
  });
  await indexer.ensureTemplate();
  const deadLetters = new KafkaDeadLetterSink(kafka, `${topic}.dlq`);
  const opensearchCpuBeforeIndexing = processCpuSeconds(state.opensearch.pid);
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
  const opensearchIndexingCpu =
    (processCpuSeconds(state.opensearch.pid) ?? Number.NaN) - (opensearchCpuBeforeIndexing ?? Number.NaN);
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

  const e2e = await endToEnd(context, kafka, brokers, state.opensearch.url, {
    kafka: state.kafka.pid,
    opensearch: state.opensearch.pid,
  });

  return {
    section: 'streaming',
    generatedAt: new Date().toISOString(),
    quick: context.quick,
    machine: machineInfo(),
    capture: {
      ...e2e.capture,
      description: `${e2e.capture.description}; the first two rows use ${total} predictions carrying the ${inputs.length} flow records of samples/lab-mix.pcap in turn ("packets" = predictions/documents there)`,
    },
    rows: [publishRow, indexRow, ...e2e.rows],
    unavailable: [],
    ratios: [
      // Plain rates, not ratios: shown in the "measured" column with their unit.
      {
        label: 'predictions published per second (wall)',
        value: Math.round(total / publishWall),
        unit: 'predictions/s',
      },
      {
        label: 'documents indexed per second (wall, consume + map + bulk)',
        value: Math.round(count / indexWall),
        unit: 'documents/s',
      },
      {
        label: 'documents indexed / predictions published',
        value: count / total,
        target: '= 1 (each prediction indexed exactly once)',
        met: count === total,
      },
      ...e2e.ratios,
    ],
    notes: [
      'Local single-node Kafka 3.9.1 (KRaft, 512 MB heap) and OpenSearch 2.19.4 (512 MB heap), both on this machine, started by scripts/services.',
      `Indexing rate includes consuming from Kafka, decoding and validating each message, ECS mapping and one OpenSearch bulk request per batch of up to ${LOCAL_BATCH_RECORDS} documents, as the local runtime does; OpenSearch spent ${Math.round((opensearchIndexingCpu * 1e6) / Math.max(count, 1))} µs of CPU per document on it (${opensearchIndexingCpu.toFixed(1)} s). These documents also warm OpenSearch's JIT before the end-to-end run, as a long-running service is.`,
      ...e2e.notes,
    ],
  };
}

interface EndToEnd {
  rows: BenchRow[];
  ratios: SectionResult['ratios'];
  notes: string[];
  capture: SectionResult['capture'];
}

/**
 * The harness capture through the local runtime with streaming on, as `npm start` runs it: score-flows publishes
 * to Kafka, the bridge hands MSK-shaped batches to index-flows. SCORED and the last indexed document are timed
 * from the same upload start.
 */
/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere or when gone. */
function processCpuSeconds(pid: number | null): number | undefined {
  if (pid === null) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

function loadAverage(): string {
  return loadavg()
    .map((n) => n.toFixed(1))
    .join(', ');
}

/**
 * The same capture with streaming off (no publisher: predictions are stored only), as the pipeline bench runs it,
 * in this run and on this machine's current load: the baseline for "SCORED with streaming on".
 */
async function scoredWithoutStreaming(
  context: BenchContext,
  capturePath: string,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const runtime = await startBenchRuntime(context, 'streaming-off-local');
  try {
    context.log(`streaming off: uploading to ${runtime.apiUrl}`);
    const started = performance.now();
    const cpu = process.cpuUsage();
    const result = await uploadCapture(capturePath, {
      api: runtime.apiUrl,
      wait: true,
      timeoutS: 3600,
      log: context.log,
    });
    if (!('status' in result)) throw new Error('upload did not wait for SCORED');
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSeconds(cpu) };
  } finally {
    await runtime.close();
  }
}

async function endToEnd(
  context: BenchContext,
  kafka: Kafka,
  brokers: string[],
  opensearchUrl: string,
  pids: { kafka: number | null; opensearch: number | null },
): Promise<EndToEnd> {
  const large = await endToEndCapture(context, 'streaming-slice.pcap', 100_000);
  const { path: capturePath, packets, bytes } = large;
  const loadBefore = loadAverage();
  const off = await scoredWithoutStreaming(context, capturePath);

  const suffix = randomUUID().slice(0, 8);
  const topic = `bench-e2e-${suffix}`;
  const index = `bench-e2e-flows-${suffix}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  const client = createOpenSearchClient({ url: opensearchUrl });
  const indexer = new OpenSearchIndexer({
    client,
    index,
    templateName: `${index}-template`,
    // As the local runtime's bridge configures it (one bulk per batch).
    bulkSize: LOCAL_BATCH_RECORDS,
  });
  await indexer.ensureTemplate();
  const deadLetters = new KafkaDeadLetterSink(kafka, `${topic}.dlq`);
  const kafkaPublisher = new KafkaPredictionPublisher({ kafka, topic });
  let publishMs = 0;
  let firstPublishAt = 0;
  let published = 0;
  const timedPublisher: PredictionPublisher & Pick<KafkaPredictionPublisher, 'readsCsvInputs'> = {
    readsCsvInputs: kafkaPublisher.readsCsvInputs,
    async publish(predictions, csv?: CsvInputs) {
      const at = performance.now();
      if (firstPublishAt === 0) firstPublishAt = at;
      const result = await kafkaPublisher.publish(predictions, csv);
      publishMs += performance.now() - at;
      published += result.published;
      return result;
    },
  };
  const bridge = await startKafkaBridge({
    kafka,
    brokers,
    topic,
    groupId: `bench-e2e-${suffix}`,
    handler: createIndexFlowsHandler({ indexer, poison: deadLetters }),
  });
  const runtime = await startBenchRuntime(context, 'streaming-local', { publisher: timedPublisher });
  try {
    context.log(`streaming e2e: uploading ${(bytes / 1e6).toFixed(0)} MB to ${runtime.apiUrl}`);
    const kafkaCpuBefore = processCpuSeconds(pids.kafka);
    const opensearchCpuBefore = processCpuSeconds(pids.opensearch);
    const started = performance.now();
    const cpu = process.cpuUsage();
    const result = await uploadCapture(capturePath, {
      api: runtime.apiUrl,
      wait: true,
      timeoutS: 3600,
      log: context.log,
    });
    const scoredSeconds = (performance.now() - started) / 1000;
    if (!('status' in result)) throw new Error('upload did not wait for SCORED');
    const flows = result.counts.predictions ?? 0;
    const indexedAtScored = bridge.stats().committed;
    const deadline = Date.now() + 1_800_000;
    while (bridge.stats().committed < flows && Date.now() < deadline) await sleep(25);
    const lastIndexedAt = performance.now();
    const endToEndSeconds = (lastIndexedAt - started) / 1000;
    const cpuSecondsUsed = cpuSeconds(cpu);
    const kafkaCpu = (processCpuSeconds(pids.kafka) ?? Number.NaN) - (kafkaCpuBefore ?? Number.NaN);
    const opensearchCpu =
      (processCpuSeconds(pids.opensearch) ?? Number.NaN) - (opensearchCpuBefore ?? Number.NaN);
    const perFlowUs = (seconds: number) => `${Math.round((seconds * 1e6) / Math.max(flows, 1))} µs`;
    await client.indices.refresh({ index });
    const count = (await client.count({ index })).body.count;
    const publishSeconds = publishMs / 1000;
    const indexingSeconds = (lastIndexedAt - firstPublishAt) / 1000;
    const ratio = endToEndSeconds / scoredSeconds;
    const e2eRow = (name: string, command: string, seconds: number): BenchRow => ({
      ...row(name, command, packets, bytes, seconds, cpuSecondsUsed),
      flows,
      flowsPerSecond: Math.round(flows / seconds),
    });
    return {
      capture: {
        path: capturePath,
        bytes,
        packets,
        description: `${large.sourceFiles} corpus files repeated (harness mix)${context.quick ? `, first ${packets} packets` : ''}; ${flows} flows`,
      },
      rows: [
        {
          ...row(
            'e2e upload → SCORED, streaming off',
            'ccf upload (local runtime, no publisher)',
            packets,
            bytes,
            off.seconds,
            off.cpuSeconds,
          ),
          flows,
          flowsPerSecond: Math.round(flows / off.seconds),
        },
        e2eRow('e2e upload → SCORED', 'ccf upload (local runtime, streaming on)', scoredSeconds),
        e2eRow(
          'e2e upload → last document indexed',
          'ccf upload → Kafka → bridge → index-flows',
          endToEndSeconds,
        ),
      ],
      ratios: [
        {
          label: 'upload → SCORED with streaming on / off (same run)',
          value: Math.round((scoredSeconds / off.seconds) * 100) / 100,
          target: '≤ 1.5',
          met: scoredSeconds / off.seconds <= 1.5,
        },
        {
          label: 'end-to-end (upload → last document indexed) / upload → SCORED',
          value: Math.round(ratio * 100) / 100,
          target: '≤ 1.3',
          met: ratio <= 1.3,
        },
        {
          label: 'e2e: predictions published per second (time inside publish calls)',
          value: Math.round(published / Math.max(publishSeconds, 1e-9)),
          unit: 'predictions/s',
        },
        {
          label: 'e2e: documents indexed per second (first publish → last document indexed)',
          value: Math.round(count / Math.max(indexingSeconds, 1e-9)),
          unit: 'documents/s',
        },
        {
          label: 'e2e: documents indexed / predictions stored',
          value: count / Math.max(flows, 1),
          target: '= 1',
          met: count === flows,
        },
      ],
      notes: [
        `end to end: ${flows} flows; SCORED after ${scoredSeconds.toFixed(1)} s (parse ${((result.timings_ms.parse ?? 0) / 1000).toFixed(1)} s, score ${((result.timings_ms.score ?? 0) / 1000).toFixed(1)} s), last document indexed after ${endToEndSeconds.toFixed(1)} s; ${indexedAtScored} documents were indexed when SCORED was seen; publish calls took ${publishSeconds.toFixed(1)} s in all.`,
        `CPU from upload to the last document indexed, per flow: this Node process (all threads: handlers, publisher, bridge, index-flows) ${perFlowUs(cpuSecondsUsed)} (${cpuSecondsUsed.toFixed(1)} s), Kafka ${perFlowUs(kafkaCpu)} (${kafkaCpu.toFixed(1)} s), OpenSearch ${perFlowUs(opensearchCpu)} (${opensearchCpu.toFixed(1)} s); streaming off: ${off.cpuSeconds.toFixed(1)} s of this process to SCORED (s3rver and dynalite run in their own processes either way).`,
        `Streaming off in the same run, just before: SCORED after ${off.seconds.toFixed(1)} s. Load average before the off run: ${loadBefore}; after the last document: ${loadAverage()} (2 cores, shared with other sessions' work).`,
        'End to end runs everything in one Node process as `npm start` does (s3rver, handlers, Kafka bridge; dynalite in its own process), next to Kafka and OpenSearch on the same 2 cores.',
      ],
    };
  } finally {
    await runtime.close();
    await bridge.stop();
    await kafkaPublisher.disconnect();
    await deadLetters.disconnect();
    await client.indices.delete({ index }).catch(() => undefined);
    await client.indices.deleteIndexTemplate({ name: `${index}-template` }).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}
