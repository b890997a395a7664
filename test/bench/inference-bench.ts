/**
 * INFERENCE section: scoring throughput (records per CPU second, batched) of each model and of the combined
 * flow verdict, and single-record latency (p50/p99) in-process, on one onnxruntime thread per session.
 *
 * Input: flow records built from the synthetic rows of test/fixtures/model-golden.json (class medians), each
 * copy with its numbers jittered so the trees take different paths; packet records likewise. The records are
 * plain objects keyed by the CIC column names, as the flow engine emits them, so building the input tensors
 * by name is part of what is measured.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { z } from 'zod';
import {
  FLOW_ANOMALY,
  FLOW_CLASSIFIER,
  fillRows,
  loadScorer,
  PACKET_CLASSIFIER,
  readModelFile,
  requireModel,
  type ScorableRecord,
} from '../../functions/inference/index.js';
import type { BenchContext } from './support/context.js';
import { type BenchRow, machineInfo, type Ratio, rowFrom, type SectionResult } from './support/results.js';

const TARGET_FLOWS_PER_S = 200_000;
const TARGET_P99_MS = 2;

const goldenSchema = z.object({
  synthetic_flows: z.array(z.object({ record: z.record(z.string(), z.union([z.number(), z.string()])) })),
});

/** A deterministic pseudo-random sequence (mulberry32), so every run scores the same records. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function flowRecords(repoDir: string, count: number): ScorableRecord[] {
  const golden = goldenSchema.parse(
    JSON.parse(readFileSync(join(repoDir, 'test', 'fixtures', 'model-golden.json'), 'utf8')),
  );
  const bases = golden.synthetic_flows.map((row) =>
    Object.fromEntries(Object.entries(row.record).map(([k, v]) => [k, typeof v === 'number' ? v : 0])),
  );
  const next = random(20170707);
  const out: ScorableRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base = bases[i % bases.length] as Record<string, number>;
    const record: Record<string, number> = {};
    for (const [k, v] of Object.entries(base)) record[k] = v * (0.5 + next());
    out.push(record);
  }
  return out;
}

function packetRecords(count: number): ScorableRecord[] {
  const next = random(42);
  const out: ScorableRecord[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      len: 54 + Math.floor(next() * 1460),
      protocol: next() < 0.7 ? 6 : 17,
      source_port: Math.floor(next() * 65536),
      dest_port: [80, 443, 53, 22, 123][Math.floor(next() * 5)] as number,
      ttl: [64, 128, 255, 57][Math.floor(next() * 4)] as number,
      tcp_flags: [2, 16, 18, 24][Math.floor(next() * 4)] as number,
      tcp_window: Math.floor(next() * 65535),
    });
  }
  return out;
}

interface Timed {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

async function timed(task: () => Promise<void>): Promise<Timed> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await task();
  const wallSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    wallSeconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakRssBytes: process.memoryUsage().rss,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[at] as number;
}

export async function runInferenceBench(context: BenchContext): Promise<SectionResult> {
  const modelsDir = join(context.repoDir, 'models');
  const flowCount = context.quick ? 20_000 : 200_000;
  const latencyRuns = context.quick ? 300 : 3000;
  const batch = 8192;
  const scorer = await loadScorer({ modelsDir, batchSize: batch });
  const flows = flowRecords(context.repoDir, flowCount);
  const packets = packetRecords(flowCount);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const ratios: Ratio[] = [];
  const row = (name: string, command: string, records: number, width: number, t: Timed): BenchRow =>
    rowFrom({
      name,
      command,
      input: 'full',
      packets: records,
      bytes: records * width * 4,
      flows: records,
      wallSeconds: t.wallSeconds,
      cpuSeconds: t.cpuSeconds,
      exitCode: 0,
      peakRssBytes: t.peakRssBytes,
    });
  try {
    // Warm-up: first runs allocate the sessions' arenas.
    await scorer.scoreFlows(flows.slice(0, batch));
    await scorer.scorePackets(packets.slice(0, batch));

    // Each model alone, through the same feature-row builder as the scorer.
    const manifest = scorer.manifest;
    for (const [name, output] of [
      [FLOW_CLASSIFIER, 'probabilities'],
      [FLOW_ANOMALY, 'anomaly_score'],
      [PACKET_CLASSIFIER, 'probabilities'],
    ] as const) {
      const entry = requireModel(manifest, name);
      const { InferenceSession } = await import('onnxruntime-node');
      const session = await InferenceSession.create(await readModelFile(modelsDir, entry), {
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      const layout = {
        features: entry.input.features,
        required: new Set(entry.required_features),
        absentValue: entry.absent_value ?? 0,
        model: name,
      };
      const width = layout.features.length;
      const buffer = new Float32Array(batch * width);
      const records = name === PACKET_CLASSIFIER ? packets : flows;
      const t = await timed(async () => {
        for (let from = 0; from < records.length; from += batch) {
          const to = Math.min(records.length, from + batch);
          fillRows(records, from, to, layout, buffer);
          const n = to - from;
          await session.run({ input: new Tensor('float32', buffer.subarray(0, n * width), [n, width]) }, [
            output,
          ]);
        }
      });
      rows.push(
        row(
          `${name} (batched ${batch})`,
          `session.run ${name}.onnx, ${width} features`,
          records.length,
          width,
          t,
        ),
      );
      await session.release();
    }

    const combined = await timed(async () => {
      await scorer.scoreFlows(flows);
    });
    const width = scorer.flowFeatures.length;
    const combinedRow = row(
      `combined verdict (batched ${batch})`,
      'scorer.scoreFlows(records)',
      flows.length,
      width,
      combined,
    );
    rows.push(combinedRow);
    const packetsT = await timed(async () => {
      await scorer.scorePackets(packets);
    });
    rows.push(
      row(`packet verdict (batched ${batch})`, 'scorer.scorePackets(records)', packets.length, 7, packetsT),
    );

    // Single-record latency, in-process, one awaited call at a time.
    const latency = async (call: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> => {
      const samples: number[] = [];
      for (let i = 0; i < latencyRuns; i++) {
        const started = performance.now();
        await call(i);
        samples.push(performance.now() - started);
      }
      samples.sort((a, b) => a - b);
      return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
    };
    const flowLatency = await latency((i) => scorer.scoreFlows([flows[i % flows.length] as ScorableRecord]));
    const packetLatency = await latency((i) =>
      scorer.scorePacket(packets[i % packets.length] as ScorableRecord),
    );
    notes.push(
      `single flow record, combined verdict (2 models): p50 ${flowLatency.p50.toFixed(3)} ms, p99 ${flowLatency.p99.toFixed(3)} ms over ${latencyRuns} calls`,
      `single packet record: p50 ${packetLatency.p50.toFixed(3)} ms, p99 ${packetLatency.p99.toFixed(3)} ms over ${latencyRuns} calls`,
      'Columns "packets" and "flows" both count scored records; MB/s counts float32 input bytes. Rates are per CPU second of this process (onnxruntime: 1 intra-op thread per session).',
      `Records: ${flowCount} synthetic flows (golden class medians ×U(0.5,1.5) per value) and ${flowCount} synthetic packets; deterministic seeds.`,
    );
    const flowsPerCpuSecond = combinedRow.flowsPerSecond ?? 0;
    ratios.push(
      {
        label: `combined flows/s per CPU second ÷ ${TARGET_FLOWS_PER_S.toLocaleString('en-US')} target`,
        value: flowsPerCpuSecond / TARGET_FLOWS_PER_S,
        target: '≥ 1',
        met: flowsPerCpuSecond >= TARGET_FLOWS_PER_S,
      },
      {
        label: `${TARGET_P99_MS} ms target ÷ single-flow p99 latency`,
        value: TARGET_P99_MS / flowLatency.p99,
        target: '≥ 1',
        met: flowLatency.p99 < TARGET_P99_MS,
      },
    );
  } finally {
    await scorer.close();
  }
  return {
    section: 'inference',
    generatedAt: new Date().toISOString(),
    quick: context.quick,
    machine: machineInfo(),
    capture: {
      path: 'test/fixtures/model-golden.json (synthetic records)',
      bytes: 0,
      packets: flowCount,
      description: `in-process scoring with onnxruntime-node, models ${scorer.modelVersion}`,
    },
    rows,
    unavailable: [],
    ratios,
    notes,
  };
}
