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
 * usage: node flows-only.js <capture> [--text]
 */
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../functions/capture/frame.js';
import type { FlowRecord } from '../../functions/flows/flow-columns.js';
import { FlowMeter } from '../../functions/flows/flow-meter.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: flows-only.js <capture>\n');
  process.exit(1);
}
const readText = process.argv[3] === '--text';
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
const capture = await readCaptureFile(path, (frame: RawFrame) => {
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
process.stdout.write(
  `${JSON.stringify({
    packets: capture.packets,
    packetsInFlows: summary.packetsInFlows,
    flows,
    textLength,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  })}\n`,
);
