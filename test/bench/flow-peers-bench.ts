/**
 * FLOW-PEERS section: flow-feature extraction end to end (capture file → flow CSV) by CCF-Catcher's flow engine
 * against NFStream (statistical features, one meter) and the PyPI cicflowmeter, on the same large capture as
 * the packets section, in the same run. (test/bench/flows-bench.ts, owned by the flow engine, measures the
 * meter alone on synthetic traffic.)
 *
 * Our engine runs as `ccf flows` when the CLI has that command, else through its library API
 * (test/bench/flows-only.ts); with neither, its row is reported as unavailable, never made up.
 * Rates are per packet of the input (every tool reads all of it; cicflowmeter runs on a leading slice).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type BenchContext, benchCapture, ccfBin, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { type Measurement, measure } from './support/measure.js';
import { CICFLOWMETER, ensurePeer, NFSTREAM } from './support/python-peers.js';
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

function lastJsonLine(text: string): unknown {
  return JSON.parse(text.trim().split('\n').pop() ?? '');
}

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
  if (ccfHasFlows(context)) {
    context.log('measuring ccf flows → file');
    return {
      run: await measure(process.execPath, [ccfBin(context), 'flows', capturePath, '-o', out]),
      name: 'ccf flows → CSV file',
      command: `node dist/functions/cli/main.js flows ${capturePath} -o ${out}`,
    };
  }
  if (existsSync(join(context.repoDir, 'functions', 'flows', 'index.ts'))) {
    context.log('measuring the flow engine (library API) → file');
    return {
      run: await measure(
        process.execPath,
        ['--import', 'tsx', join('test', 'bench', 'flows-only.ts'), capturePath, out],
        { cwd: context.repoDir },
      ),
      name: 'ccf flow engine, extractFlows → CSV file',
      command: `node --import tsx test/bench/flows-only.ts ${capturePath} ${out}`,
    };
  }
  return 'engine not available: no `ccf flows` command and no functions/flows/ in the tree';
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

  let nfstreamRow: BenchRow | undefined;
  const nfstream = ensurePeer(context.outputDir, NFSTREAM, context.log);
  if (nfstream.ok) {
    context.log('measuring NFStream');
    const run = await measure(nfstream.python, [
      join(context.repoDir, 'test', 'bench', 'peers', 'nfstream_flows.py'),
      capture.path,
    ]);
    if (run.exitCode !== 0) {
      unavailable.push({
        name: 'NFStream',
        reason: `runner failed (exit ${run.exitCode}): ${run.stderr.slice(-300)}`,
      });
    } else {
      const result = PeerOutput.parse(lastJsonLine(run.stdout));
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
  } else {
    unavailable.push({ name: 'NFStream', reason: nfstream.reason });
  }

  let cicRow: BenchRow | undefined;
  const cic = ensurePeer(context.outputDir, CICFLOWMETER, context.log);
  if (cic.ok) {
    // cicflowmeter 0.5.0 crashed (ValueError: min() iterable argument is empty, in get_min_forward_header_bytes)
    // on the first 20,000 packets of this capture; the first 10,000 run through.
    const slicePackets = context.quick ? 5_000 : 10_000;
    const slicePath = join(context.outputDir, `slice-${slicePackets}.pcap`);
    const slice = await slicePcap(capture.path, slicePath, slicePackets);
    const cicOut = join(context.outputDir, 'cicflowmeter.csv');
    context.log(`measuring cicflowmeter on ${slice.packets} packets`);
    const run = await measure(cic.python, [
      join(context.repoDir, 'test', 'bench', 'peers', 'cicflowmeter_flows.py'),
      slicePath,
      cicOut,
    ]);
    rmSync(cicOut, { force: true });
    if (run.exitCode !== 0) {
      unavailable.push({
        name: 'cicflowmeter',
        reason: `runner failed (exit ${run.exitCode}): ${run.stderr.slice(-300)}`,
      });
    } else {
      const result = PeerOutput.parse(lastJsonLine(run.stdout));
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
  } else {
    unavailable.push({ name: 'cicflowmeter', reason: cic.reason });
  }

  const ratios: Ratio[] = [];
  if (ccfRow) {
    ratios.push({
      label: 'ccf flows packets/s ÷ 1.5 M',
      value: ccfRow.packetsPerSecond / 1_500_000,
      target: '≥ 1',
      met: ccfRow.packetsPerSecond >= 1_500_000,
    });
    if (nfstreamRow) {
      ratios.push({
        label: 'ccf flows vs NFStream (packets/s)',
        value: ccfRow.packetsPerSecond / nfstreamRow.packetsPerSecond,
        target: '≥ 1',
        met: ccfRow.packetsPerSecond >= nfstreamRow.packetsPerSecond,
      });
    }
    if (cicRow) {
      ratios.push({
        label: 'ccf flows vs cicflowmeter (packets/s, cicflowmeter on a slice)',
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
