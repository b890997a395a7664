/**
 * FLOW-PEERS section: flow-feature extraction end to end (capture file → flow CSV) by CCF-Catcher's flow engine
 * against NFStream (statistical features, one meter) and the PyPI cicflowmeter, on the same large capture as
 * the packets section, in the same run. (test/bench/flows-bench.ts, owned by the flow engine, measures the
 * meter alone on synthetic traffic.)
 *
 * Our engine runs twice: as `ccf flows` (the compiled CLI, capture → CSV file), and as "packets into flows"
 * (test/bench/flows-only.ts, compiled: reader + decoders + meter emitting FlowRecord objects, no CSV), the
 * measure of the 1.5 M packets/s target. Without the command its row is reported as unavailable.
 * Rates are per packet of the input (every tool reads all of it; cicflowmeter runs on a leading slice).
 */

import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { compileBenchScript } from './packets-bench.js';
import { BenchSetupError } from './support/bench-errors.js';
import { type BenchContext, benchCapture, ccfBin, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { lastJsonLine, type Measurement, measure } from './support/measure.js';
import { CICFLOWMETER, measurePythonPeer, NFSTREAM } from './support/python-peers.js';
import {
  type BenchRow,
  machineInfo,
  type Ratio,
  rowFrom,
  type SectionResult,
  type UnavailableRow,
} from './support/results.js';

const PeerOutput = z.object({ packets: z.number(), flows: z.number(), seconds: z.number() });
const RSS_TARGET_MB = 512;

function countLines(path: string): number {
  return Number(spawnSync('wc', ['-l', path], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[0]);
}

/** True when the built CLI has a `flows` command. */
function ccfHasFlows(context: BenchContext): boolean {
  const help = spawnSync(process.execPath, [ccfBin(context), 'flows', '--help'], { encoding: 'utf8' });
  return help.status === 0;
}

interface EngineRun {
  run: Measurement;
  name: string;
  command: string;
}

async function runEngine(
  context: BenchContext,
  capturePath: string,
  out: string,
): Promise<EngineRun | string> {
  if (!ccfHasFlows(context)) return 'engine not available: the built CLI has no `ccf flows` command';
  context.log('measuring ccf flows → file');
  return {
    run: await measure(process.execPath, [ccfBin(context), 'flows', capturePath, '-o', out]),
    name: 'ccf flows → CSV file',
    command: `node dist/functions/cli/main.js flows ${capturePath} -o ${out}`,
  };
}

const FlowsOnlyOutput = z.object({
  packets: z.number(),
  packetsInFlows: z.number(),
  flows: z.number(),
  seconds: z.number(),
  cpuSeconds: z.number(),
});

/**
 * "Packets into flows": reader + decoders + FlowMeter emitting FlowRecord objects, no CSV (test/bench/
 * flows-only.ts, compiled to JavaScript), over the whole capture in its own process. Shared with the flows
 * section, whose 1.5 M packets/s target this is.
 */
export async function measurePacketsIntoFlows(
  context: BenchContext,
  capture: { path: string; packets: number; bytes: number },
  {
    readText = false,
    node,
  }: {
    readText?: boolean;
    /** Another Node binary to run it with (the Node 22 row), with its version for the row's name. */
    node?: { executable: string; version: string };
  } = {},
): Promise<BenchRow> {
  const script = compileBenchScript(context, 'flows-only.ts');
  const onNode = node === undefined ? '' : `, on Node ${node.version}`;
  context.log(
    `measuring packets into flows (FlowRecords, no CSV${readText ? ', text columns read' : ''}${onNode})`,
  );
  const args = [script, capture.path, ...(readText ? ['--text'] : [])];
  const run = await measure(node?.executable ?? process.execPath, args, { cwd: context.repoDir });
  if (run.exitCode !== 0) {
    throw new BenchSetupError(`flows-only failed (exit ${run.exitCode}): ${run.stderr.slice(-1000)}`);
  }
  const result = FlowsOnlyOutput.parse(lastJsonLine(run.stdout));
  if (result.packets !== capture.packets) {
    throw new BenchSetupError(`flows-only read ${result.packets} of ${capture.packets} packets`);
  }
  const relative = script.startsWith(`${context.repoDir}/`)
    ? script.slice(context.repoDir.length + 1)
    : script;
  return rowFrom({
    name: readText
      ? "ccf packets into flows, the records' 5 text columns read too"
      : node === undefined
        ? 'ccf packets into flows (reader + decoders + meter → FlowRecord objects, no CSV)'
        : `ccf packets into flows, as the first row, on Node ${node.version} (the Lambda runtime)`,
    command: `${node === undefined ? 'node' : node.executable} ${relative} ${capture.path}${readText ? ' --text' : ''}`,
    input: 'full',
    packets: capture.packets,
    bytes: capture.bytes,
    flows: result.flows,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    exitCode: run.exitCode,
    note: `compiled JS; ${result.packetsInFlows} packets in flows; excluding Node's start-up: ${Math.round(result.packets / result.cpuSeconds).toLocaleString('en-US')} packets per CPU second`,
  });
}

export async function runFlowPeersBench(context: BenchContext): Promise<SectionResult> {
  const notes: string[] = [];
  const unavailable: UnavailableRow[] = [];
  const rows: BenchRow[] = [];
  const capture = await benchCapture(context);
  notes.push(...ensureCliBuilt(context));
  const full = { packets: capture.packets, bytes: capture.bytes };

  let ccfRow: BenchRow | undefined;
  const out = join(context.outputDir, 'flows.csv');
  const engine = await runEngine(context, capture.path, out);
  if (typeof engine === 'string') {
    unavailable.push({ name: 'ccf flows', reason: engine });
  } else if (engine.run.exitCode !== 0) {
    unavailable.push({
      name: engine.name,
      reason: `exit ${engine.run.exitCode}: ${engine.run.stderr.slice(-300)}`,
    });
  } else {
    const flows = countLines(out) - 1;
    ccfRow = rowFrom({
      name: engine.name,
      command: engine.command,
      input: 'full',
      ...full,
      flows,
      wallSeconds: engine.run.wallSeconds,
      cpuSeconds: engine.run.cpuSeconds,
      peakRssBytes: engine.run.peakRssBytes,
      exitCode: engine.run.exitCode,
      note: 'reader + decoders + flow meter + CSV',
    });
    rows.push(ccfRow);
  }
  rmSync(out, { force: true });

  const recordsRow = await measurePacketsIntoFlows(context, { path: capture.path, ...full });
  rows.push(recordsRow);

  let nfstreamRow: BenchRow | undefined;
  const nfstream = await measurePythonPeer(
    context,
    NFSTREAM,
    'nfstream_flows.py',
    [capture.path],
    PeerOutput,
  );
  if ('unavailable' in nfstream) {
    unavailable.push({ name: 'NFStream', reason: nfstream.unavailable });
  } else {
    const { run, result } = nfstream;
    nfstreamRow = rowFrom({
      name: `NFStream ${NFSTREAM.requirement.split('==')[1]} (statistical_analysis, n_meters=1)`,
      command: `python test/bench/peers/nfstream_flows.py ${capture.path}`,
      input: 'full',
      ...full,
      flows: result.flows,
      wallSeconds: run.wallSeconds,
      cpuSeconds: run.cpuSeconds,
      peakRssBytes: run.peakRssBytes,
      exitCode: run.exitCode,
      note: `${result.packets} packets in flows; n_dissections=0, idle and active timeout 120 s; flows iterated, not written`,
    });
    rows.push(nfstreamRow);
  }

  let cicRow: BenchRow | undefined;
  // cicflowmeter 0.5.0 crashed (ValueError: min() iterable argument is empty, in get_min_forward_header_bytes) on
  // the first 20,000 packets of this capture; the first 10,000 run through.
  const slicePackets = context.quick ? 5_000 : 10_000;
  const slicePath = join(context.outputDir, `slice-${slicePackets}.pcap`);
  const slice = await slicePcap(capture.path, slicePath, slicePackets);
  const cicOut = join(context.outputDir, 'cicflowmeter.csv');
  const cic = await measurePythonPeer(
    context,
    CICFLOWMETER,
    'cicflowmeter_flows.py',
    [slicePath, cicOut],
    PeerOutput,
  );
  rmSync(cicOut, { force: true });
  if ('unavailable' in cic) {
    unavailable.push({ name: 'cicflowmeter', reason: cic.unavailable });
  } else {
    const { run, result } = cic;
    cicRow = rowFrom({
      name: `cicflowmeter ${CICFLOWMETER.requirement.split('==')[1]} (PyPI)`,
      command: `python test/bench/peers/cicflowmeter_flows.py ${slicePath} ${cicOut}`,
      input: 'slice',
      packets: slice.packets,
      bytes: slice.bytes,
      flows: result.flows,
      wallSeconds: run.wallSeconds,
      cpuSeconds: run.cpuSeconds,
      peakRssBytes: run.peakRssBytes,
      exitCode: run.exitCode,
      note: `first ${slice.packets} packets of the capture; ${result.packets} TCP/UDP packets metered`,
    });
    rows.push(cicRow);
  }

  const ratios: Ratio[] = [];
  // This section measures each tool once, for the ratios to the peers, which are tens of times apart. The
  // 1.5 M packets/s target needs the host's quiet moments (one run here can be 1.6× another): the flows
  // section judges it on the fastest of several alternated runs, so these two rows show the value only.
  const judgedInFlows = '— (one run: the target is judged in flows.md, fastest of 5 alternated runs)';
  ratios.push({
    label: 'ccf packets into flows (FlowRecords, no CSV) packets/s ÷ 1.5 M',
    value: recordsRow.packetsPerSecond / 1_500_000,
    target: judgedInFlows,
  });
  if (nfstreamRow) {
    ratios.push({
      label: 'ccf packets into flows (no CSV) vs NFStream (flows iterated, not written) (packets/s)',
      value: recordsRow.packetsPerSecond / nfstreamRow.packetsPerSecond,
      target: '≥ 1',
      met: recordsRow.packetsPerSecond >= nfstreamRow.packetsPerSecond,
    });
  }
  if (ccfRow) {
    ratios.push({
      label: 'ccf flows → CSV file packets/s ÷ 1.5 M (the CSV written too)',
      value: ccfRow.packetsPerSecond / 1_500_000,
      target: judgedInFlows,
    });
    if (nfstreamRow) {
      ratios.push({
        label: 'ccf flows → CSV file vs NFStream (packets/s)',
        value: ccfRow.packetsPerSecond / nfstreamRow.packetsPerSecond,
        target: '≥ 1',
        met: ccfRow.packetsPerSecond >= nfstreamRow.packetsPerSecond,
      });
    }
    if (cicRow) {
      ratios.push({
        label: 'ccf flows → CSV file vs cicflowmeter (packets/s, cicflowmeter on a slice)',
        value: ccfRow.packetsPerSecond / cicRow.packetsPerSecond,
        target: '≥ 300',
        met: ccfRow.packetsPerSecond >= 300 * cicRow.packetsPerSecond,
      });
    }
    ratios.push({
      label: `ccf flows peak RSS ÷ ${RSS_TARGET_MB} MB (${ccfRow.flows ?? 0} flows)`,
      value: ccfRow.peakRssMb / RSS_TARGET_MB,
      target: '< 1 (the target is stated for 5 M flows)',
      met: ccfRow.peakRssMb < RSS_TARGET_MB,
    });
  }
  notes.push(
    'Two CCF-Catcher rows: `ccf flows → CSV file` is the product end to end (the compiled CLI: its start-up, which loads every command’s modules, reading, decoding, metering, CSV bytes to the file); `packets into flows` is reader + decoders + flow meter emitting one FlowRecord object per flow (the library form, what extractFlows yields), no CSV, compiled JavaScript in its own process: the measure of the issue’s “1.5 million packets/s into flows on one core”.',
    'The mix averages about 4.3 packets per flow, so per-flow work dominates both rows: computing the flow’s 89 number columns into a record row or a CSV line, its text columns (Flow ID, addresses, timestamp), the Community ID (one SHA-1 block per flow), the flow-table insert and removal. The meter alone on long synthetic conversations (bench/results/flows.md) shows the per-packet rate.',
    'Rates are input packets (all packets of the capture or slice; every tool reads all of them) per CPU second (user + system, all threads and child processes, start-up included); wall-clock rates are shown too.',
    'Peak RSS is GNU time’s maximum resident set size of the process.',
    'The machine is shared (2 cores, other jobs running); compare the ratios measured in the same run.',
  );
  return {
    section: 'flow-peers',
    generatedAt: new Date().toISOString(),
    quick: context.quick,
    machine: machineInfo(),
    capture: {
      path: capture.path.replace(`${context.repoDir}/`, ''),
      bytes: capture.bytes,
      packets: capture.packets,
      description: 'the packets section’s capture (see bench/results/packets.md)',
    },
    rows,
    unavailable,
    ratios,
    notes,
  };
}
