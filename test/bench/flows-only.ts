/**
 * "Packets into flows" for the flow benchmarks, in its own process (compiled to JavaScript first, so start-up is
 * Node's, not tsx's): the capture reader, the decoders and the FlowMeter over a capture file, with every flow
 * emitted as a FlowRecord object (the library's form, what `extractFlows` yields) and no CSV. The records are
 * counted and one field is summed so that building them stays observable.
 *
 * Prints one JSON line: {"packets", "packetsInFlows", "flows", "seconds", "cpuSeconds"} (times exclude Node's
 * start-up).
 *
 * With `--text`, each record's five text columns (Flow ID, Src IP, Dst IP, Timestamp, community_id: made on
 * first read) are read too and their lengths summed: the cost of a consumer that needs them.
 *
 * With `--passes N`, the whole capture is metered N times in this one process, each pass by a fresh FlowMeter,
 * and `passCpuSeconds` / `passSeconds` list each pass's CPU and wall time (the top-level fields are the first pass's): the second pass
 * runs with the process loaded, the hot code already compiled and the file in the page cache, so it measures the
 * engine's steady rate, without the one-time costs the first pass carries.
 *
 * usage: node flows-only.js <capture> [--text] [--passes N]
 */
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../functions/capture/frame.js';
import type { FlowRecord } from '../../functions/flows/flow-columns.js';
import { FlowMeter } from '../../functions/flows/flow-meter.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: flows-only.js <capture> [--text] [--passes N]\n');
  process.exit(1);
}
const readText = process.argv.includes('--text');
const passesAt = process.argv.indexOf('--passes');
const passes = passesAt >= 0 ? Number(process.argv[passesAt + 1]) : 1;
if (!Number.isInteger(passes) || passes < 1) {
  process.stderr.write('flows-only: --passes takes a whole number of at least 1\n');
  process.exit(1);
}

interface PassResult {
  packets: number;
  packetsInFlows: number;
  flows: number;
  textLength: number;
  seconds: number;
  cpuSeconds: number;
}

/** One pass: the whole capture read, decoded and metered into FlowRecords by a fresh FlowMeter. */
async function runPass(): Promise<PassResult> {
  let flows = 0;
  let packetsInRecords = 0;
  let textLength = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  // Made inside the measured time: the first meter of a process runs the meter's JIT warm-up.
  const meter = new FlowMeter({}, (record: FlowRecord) => {
    flows++;
    packetsInRecords += record['Total Fwd Packet'] + record['Total Bwd packets'];
    if (readText) {
      textLength +=
        record['Flow ID'].length +
        record['Src IP'].length +
        record['Dst IP'].length +
        record.Timestamp.length +
        record.community_id.length;
    }
  });
  const packet = new DecodedPacket();
  const capture = await readCaptureFile(path as string, (frame: RawFrame) => {
    decodeFrame(frame, packet);
    meter.add(frame, packet);
  });
  const summary = meter.finish();
  const cpu = process.cpuUsage(cpuStarted);
  const seconds = (performance.now() - started) / 1000;
  if (capture.damage) process.stderr.write(`damaged: ${capture.damage.message}\n`);
  if (packetsInRecords !== summary.packetsInFlows) {
    process.stderr.write(
      `records hold ${packetsInRecords} packets, the meter counted ${summary.packetsInFlows}\n`,
    );
    process.exit(1);
  }
  return {
    packets: capture.packets,
    packetsInFlows: summary.packetsInFlows,
    flows,
    textLength,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

const results: PassResult[] = [];
for (let pass = 0; pass < passes; pass++) results.push(await runPass());
const first = results[0] as PassResult;
process.stdout.write(
  `${JSON.stringify({
    ...first,
    passCpuSeconds: results.map((r) => r.cpuSeconds),
    passSeconds: results.map((r) => r.seconds),
  })}\n`,
);
