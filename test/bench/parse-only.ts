/**
 * Parse-only throughput, run by the packets benchmark in its own process: the container reader and the
 * decoders over a capture file, no CSV. Prints one JSON line: {"packets", "ipPackets", "seconds", "cpuSeconds"}
 * (both exclude Node's start-up).
 *
 * usage: node --import tsx test/bench/parse-only.ts <capture>
 */
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../functions/capture/frame.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: parse-only.ts <capture>\n');
  process.exit(1);
}
const packet = new DecodedPacket();
let packets = 0;
// Counting a decoded field keeps the decoding observable (nothing for the JIT to drop).
let ipPackets = 0;
const started = performance.now();
const cpuStarted = process.cpuUsage();
const summary = await readCaptureFile(path, (frame: RawFrame) => {
  decodeFrame(frame, packet);
  packets++;
  if (packet.ipVersion !== 0) ipPackets++;
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStarted);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
if (summary.damage) {
  process.stderr.write(`damaged: ${summary.damage.message}\n`);
}
process.stdout.write(`${JSON.stringify({ packets, ipPackets, seconds, cpuSeconds })}\n`);
