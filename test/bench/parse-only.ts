/**
 * Parse-only throughput, run by the packets benchmark in its own process (compiled to JavaScript first, so
 * start-up is Node's, not tsx's): the container reader and the decoders, no CSV. Two modes:
 *
 * - `file <capture>`: `readCaptureFile` + `decodeFrame` per packet over the file (reads from disk or page
 *   cache into one reused buffer). This is the whole-process number.
 * - `memory <capture> <passes>`: the capture is read into memory first (not timed), then parsed `passes`
 *   times through `readCapture(buffer)`, the whole-buffer fast path; only the parsing is timed. This is the
 *   number the "10 M packets/s on one core" target is about: it has no file I/O in it.
 *
 * Prints one JSON line: {"mode", "packets", "ipPackets", "seconds", "cpuSeconds", "passCpuSeconds"}; times
 * exclude Node's start-up (and, in memory mode, loading the file). `passCpuSeconds` lists each pass.
 *
 * usage: node parse-only.js file <capture> | node parse-only.js memory <capture> <passes>
 */
import { readFileSync } from 'node:fs';
import { readCapture, readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../functions/capture/frame.js';

const [mode, path, passesArgument] = process.argv.slice(2);
if ((mode !== 'file' && mode !== 'memory') || path === undefined) {
  process.stderr.write('usage: parse-only.js file <capture> | parse-only.js memory <capture> <passes>\n');
  process.exit(1);
}
const packet = new DecodedPacket();
let packets = 0;
// Counting a decoded field keeps the decoding observable (nothing for the JIT to drop).
let ipPackets = 0;
function onFrame(frame: RawFrame): void {
  decodeFrame(frame, packet);
  packets++;
  if (packet.ipVersion !== 0) ipPackets++;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

const passCpuSeconds: number[] = [];
let seconds = 0;
let cpuSeconds = 0;
if (mode === 'file') {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const summary = await readCaptureFile(path, onFrame);
  cpuSeconds = cpuSecondsSince(cpuStarted);
  seconds = (performance.now() - started) / 1000;
  passCpuSeconds.push(cpuSeconds);
  if (summary.damage) process.stderr.write(`damaged: ${summary.damage.message}\n`);
} else {
  const passes = Math.max(1, Number(passesArgument ?? 10));
  const file = readFileSync(path);
  // A plain Uint8Array view (not the Buffer subclass), as the streaming path hands the parser.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  for (let pass = 0; pass < passes; pass++) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const summary = await readCapture(bytes, onFrame);
    const passCpu = cpuSecondsSince(cpuStarted);
    seconds += (performance.now() - started) / 1000;
    cpuSeconds += passCpu;
    passCpuSeconds.push(passCpu);
    if (summary.damage) process.stderr.write(`damaged: ${summary.damage.message}\n`);
  }
}
process.stdout.write(
  `${JSON.stringify({ mode, packets, ipPackets, seconds, cpuSeconds, passCpuSeconds })}\n`,
);
