/**
 * Pipeline section: the local runtime end to end on a ~100 MB capture (upload → SCORED) broken down by
 * stage, compared with `ccf analyze` on the same file, and an autocannon load test of POST /api/predict.
 * Targets (issue 5): the pipeline adds ≤ 50% to `ccf analyze`; /api/predict ≥ 2,000 req/s with p99 < 20 ms.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { uploadCapture } from '../../functions/cli/commands/upload-command.js';
import { type BenchContext, benchCapture, ccfBin, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { type BenchRow, machineInfo, type SectionResult } from './support/results.js';

const QUICK_PACKETS = 100_000;

function row(
  name: string,
  command: string,
  packets: number,
  bytes: number,
  flows: number,
  wallSeconds: number,
  note?: string,
): BenchRow {
  return {
    name,
    command,
    input: 'full',
    packets,
    bytes,
    flows,
    wallSeconds: Math.round(wallSeconds * 100) / 100,
    // In-process stages: CPU time is not separable per stage; wall time is the measure here.
    cpuSeconds: Math.round(wallSeconds * 100) / 100,
    packetsPerSecond: Math.round(packets / wallSeconds),
    megabytesPerSecond: Math.round((bytes / 1e6 / wallSeconds) * 10) / 10,
    flowsPerSecond: Math.round(flows / wallSeconds),
    wallPacketsPerSecond: Math.round(packets / wallSeconds),
    peakRssMb: Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10,
    exitCode: 0,
    ...(note ? { note } : {}),
  };
}

export async function runPipelineBench(context: BenchContext): Promise<SectionResult> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const { startLocalRuntime } = await import('../../functions/local/runtime.js');

  // ~100 MB capture: the harness's quick mix (≥ 100 MB); quick mode takes a leading slice of it.
  const large = await benchCapture({ ...context, quick: true });
  let capturePath = large.path;
  let packets = large.packets;
  if (context.quick) {
    capturePath = join(context.outputDir, 'pipeline-slice.pcap');
    packets = (await slicePcap(large.path, capturePath, QUICK_PACKETS)).packets;
  }
  const bytes = statSync(capturePath).size;
  const notes: string[] = [];

  // Baseline: ccf analyze on the same file (compiled CLI, as `npx ccf` runs it).
  notes.push(...ensureCliBuilt(context));
  const analyzeStarted = performance.now();
  const analyzeOut = join(context.outputDir, 'pipeline-analyze');
  rmSync(analyzeOut, { recursive: true, force: true });
  const analyze = spawnSync(process.execPath, [ccfBin(context), 'analyze', capturePath, '-o', analyzeOut], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const analyzeSeconds = (performance.now() - analyzeStarted) / 1000;
  if (analyze.status !== 0 && analyze.status !== 2)
    notes.push(`ccf analyze exited ${analyze.status}: ${analyze.stderr.slice(0, 300)}`);

  const dataDir = join(context.outputDir, 'pipeline-local');
  rmSync(dataDir, { recursive: true, force: true });
  const runtime = await startLocalRuntime({
    port: 0,
    s3Port: 0,
    dynamoPort: 0,
    dataDir,
    settings: { MODELS_DIR: join(context.repoDir, 'models') },
  });
  try {
    context.log(`pipeline: uploading ${(bytes / 1e6).toFixed(0)} MB to ${runtime.apiUrl}`);
    const started = performance.now();
    let uploadedAt = 0;
    const result = await uploadCapture(capturePath, {
      api: runtime.apiUrl,
      wait: true,
      timeoutS: 3600,
      log: (line) => {
        if (uploadedAt === 0 && line.endsWith('PENDING')) uploadedAt = performance.now();
        context.log(line);
      },
    });
    const totalSeconds = (performance.now() - started) / 1000;
    if (!('status' in result)) throw new Error('upload did not wait for SCORED');
    const flows = result.counts.flows ?? 0;
    const parseSeconds = (result.timings_ms.parse ?? 0) / 1000;
    const scoreSeconds = (result.timings_ms.score ?? 0) / 1000;
    const uploadSeconds = uploadedAt > 0 ? (uploadedAt - started) / 1000 : Number.NaN;
    const handoffSeconds = Math.max(0, totalSeconds - uploadSeconds - parseSeconds - scoreSeconds);
    const analyzeFlows = flows;

    // Load test: the seed's single-packet predict contract.
    const durationS = context.quick ? 3 : 10;
    const load = await autocannon({
      url: `${runtime.apiUrl}/api/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"len":60,"source_port":80,"dest_port":443}',
      connections: 32,
      duration: durationS,
    });
    const rps = Math.round(load.requests.average);
    const p50 = load.latency.p50;
    const p99 = load.latency.p99;
    notes.push(
      `POST /api/predict (autocannon, 32 connections, ${durationS} s): ${rps} req/s, p50 ${p50} ms, p99 ${p99} ms, ${load.non2xx} non-2xx, ${load.errors} errors`,
      `stages: upload (presigned POST into the policy gateway → s3rver) ${uploadSeconds.toFixed(2)} s, parse ${parseSeconds.toFixed(2)} s, score + DynamoDB writes ${scoreSeconds.toFixed(2)} s, hand-offs and polling ${handoffSeconds.toFixed(2)} s`,
      'All servers run on this machine: s3rver (filesystem) and dynalite (LevelDB, own process); DynamoDB writes dominate scoring locally.',
    );
    const ratio = totalSeconds / analyzeSeconds;
    return {
      section: 'pipeline',
      generatedAt: new Date().toISOString(),
      quick: context.quick,
      machine: machineInfo(),
      capture: {
        path: capturePath,
        bytes,
        packets,
        description: `${large.sourceFiles} corpus files repeated (harness mix)${context.quick ? `, first ${packets} packets` : ''}`,
      },
      rows: [
        row(
          'ccf analyze',
          `ccf analyze ${capturePath} -o <dir>`,
          packets,
          bytes,
          analyzeFlows,
          analyzeSeconds,
        ),
        row('pipeline upload → SCORED', 'ccf upload (local runtime)', packets, bytes, flows, totalSeconds),
        row('stage: upload', 'presigned POST', packets, bytes, flows, uploadSeconds),
        row('stage: parse', 'parse-capture', packets, bytes, flows, parseSeconds),
        row('stage: score', 'score-flows', packets, bytes, flows, scoreSeconds),
      ],
      unavailable: [],
      ratios: [
        {
          label: 'pipeline time / ccf analyze time',
          value: Math.round(ratio * 100) / 100,
          target: '≤ 1.5',
          met: ratio <= 1.5,
        },
        { label: 'POST /api/predict requests/s', value: rps, target: '≥ 2000', met: rps >= 2000 },
        { label: 'POST /api/predict p99 latency (ms)', value: p99, target: '< 20', met: p99 < 20 },
        { label: 'POST /api/predict p50 latency (ms)', value: p50 },
      ],
      notes,
    };
  } finally {
    await runtime.close();
  }
}
