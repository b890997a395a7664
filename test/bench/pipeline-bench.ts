/**
 * Pipeline section: the local runtime end to end on a ~100 MB capture (upload → SCORED) broken down by
 * stage, compared with `ccf analyze` on the same file, and an autocannon load test of POST /api/predict.
 * Targets (issue 5): the pipeline adds ≤ 50% to `ccf analyze`; /api/predict ≥ 2,000 req/s with p99 < 20 ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { uploadCapture } from '../../functions/cli/commands/upload-command.js';
import { type BenchContext, benchCapture, ccfBin, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { type BenchRow, machineInfo, type SectionResult } from './support/results.js';

const QUICK_PACKETS = 100_000;
/** autocannon's default; the main load. A second run with 32 connections is reported in the notes. */
const CONNECTIONS = 10;

const autocannonResultSchema = z.object({
  requests: z.object({ average: z.number(), total: z.number() }),
  latency: z.object({ p50: z.number(), p99: z.number() }),
  non2xx: z.number(),
  errors: z.number(),
});
type LoadResult = z.infer<typeof autocannonResultSchema> & { serverCpuMsPerRequest: number };

/**
 * autocannon in its own process (`-j`: JSON result on stdout), so the load generator does not share the
 * server's event loop; the server's CPU time over the run is measured here (load-independent figure).
 */
async function loadTest(url: string, connections: number, durationS: number): Promise<LoadResult> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const cpuBefore = process.cpuUsage();
  const child = spawn(
    process.execPath,
    [
      cli,
      '-j',
      '-c',
      String(connections),
      '-d',
      String(durationS),
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
      '-b',
      '{"len":60,"source_port":80,"dest_port":443}',
      url,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  const cpu = process.cpuUsage(cpuBefore);
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  const result = autocannonResultSchema.parse(JSON.parse(out));
  return {
    ...result,
    serverCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / Math.max(1, result.requests.total),
  };
}

function runAnalyze(context: BenchContext, capturePath: string): { seconds: number; note?: string } {
  const started = performance.now();
  const analyzeOut = join(context.outputDir, 'pipeline-analyze');
  rmSync(analyzeOut, { recursive: true, force: true });
  const analyze = spawnSync(process.execPath, [ccfBin(context), 'analyze', capturePath, '-o', analyzeOut], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  if (analyze.status !== 0 && analyze.status !== 2)
    return { seconds, note: `ccf analyze exited ${analyze.status}: ${analyze.stderr.slice(0, 300)}` };
  return { seconds };
}

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

  // Baseline: ccf analyze on the same file (compiled CLI, as `npx ccf` runs it), before and after the
  // pipeline run; the ratio uses the faster of the two (the machine may be shared).
  notes.push(...ensureCliBuilt(context));
  const analyzeBefore = runAnalyze(context, capturePath);
  if (analyzeBefore.note) notes.push(analyzeBefore.note);

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
    const cpuBefore = process.cpuUsage();
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
    const pipelineCpu = process.cpuUsage(cpuBefore);
    if (!('status' in result)) throw new Error('upload did not wait for SCORED');
    const flows = result.counts.flows ?? 0;
    const parseSeconds = (result.timings_ms.parse ?? 0) / 1000;
    const scoreSeconds = (result.timings_ms.score ?? 0) / 1000;
    const uploadSeconds = uploadedAt > 0 ? (uploadedAt - started) / 1000 : Number.NaN;
    const handoffSeconds = Math.max(0, totalSeconds - uploadSeconds - parseSeconds - scoreSeconds);
    const analyzeFlows = flows;

    // Load test: the seed's single-packet predict contract, autocannon in its own process.
    const durationS = context.quick ? 3 : 10;
    const url = `${runtime.apiUrl}/api/predict`;
    // Warm-up (models loaded, connections open) before measuring.
    await loadTest(url, CONNECTIONS, 2);
    const load = await loadTest(url, CONNECTIONS, durationS);
    const load32 = await loadTest(url, 32, durationS);
    const rps = Math.round(load.requests.average);
    const p50 = load.latency.p50;
    const p99 = load.latency.p99;
    const analyzeAfter = runAnalyze(context, capturePath);
    if (analyzeAfter.note) notes.push(analyzeAfter.note);
    const analyzeSeconds = Math.min(analyzeBefore.seconds, analyzeAfter.seconds);
    notes.push(
      `POST /api/predict (autocannon in its own process, ${CONNECTIONS} connections, ${durationS} s): ${rps} req/s, p50 ${p50} ms, p99 ${p99} ms, ${load.non2xx} non-2xx, ${load.errors} errors; server CPU ${load.serverCpuMsPerRequest.toFixed(3)} ms per request (the handlers' process: HTTP, middy, model, page writes; dynalite and autocannon are other processes)`,
      `POST /api/predict with 32 connections: ${Math.round(load32.requests.average)} req/s, p50 ${load32.latency.p50} ms, p99 ${load32.latency.p99} ms, ${load32.non2xx} non-2xx, ${load32.errors} errors; server CPU ${load32.serverCpuMsPerRequest.toFixed(3)} ms per request`,
      `stages: upload (presigned POST into the policy gateway → s3rver) ${uploadSeconds.toFixed(2)} s, parse ${parseSeconds.toFixed(2)} s, score + DynamoDB writes ${scoreSeconds.toFixed(2)} s, hand-offs and polling ${handoffSeconds.toFixed(2)} s`,
      `ccf analyze: ${analyzeBefore.seconds.toFixed(2)} s before the pipeline run, ${analyzeAfter.seconds.toFixed(2)} s after; the ratio uses the faster`,
      `CPU of the handlers' process from upload to SCORED: ${((pipelineCpu.user + pipelineCpu.system) / 1e6).toFixed(2)} s (s3rver and dynalite run in their own processes)`,
      `load average when the section ended: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(', ')} on ${cpus().length} cores (other work on the machine slows every row)`,
      'All servers run on this machine: s3rver (filesystem) and dynalite (LevelDB), each in its own process.',
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
        {
          label: 'POST /api/predict requests/s',
          value: rps,
          unit: 'req/s',
          target: '≥ 2000',
          met: rps >= 2000,
        },
        { label: 'POST /api/predict p99 latency', value: p99, unit: 'ms', target: '< 20', met: p99 < 20 },
        { label: 'POST /api/predict p50 latency', value: p50, unit: 'ms' },
      ],
      notes,
    };
  } finally {
    await runtime.close();
  }
}
