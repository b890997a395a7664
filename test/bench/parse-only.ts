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
 * The machine is shared: how fast a fixed piece of work runs changes by up to ~2× from one moment to the
 * next (other jobs on the other core and on the host share the caches and the memory bus), and CPU time does
 * not hide that. So after every pass the script also times two fixed control workloads, no allocation:
 * - `controlCpuSeconds`: integer work over a 256 KiB buffer that stays in the core's L2 cache (core speed);
 * - `walkCpuSeconds`: the bare walk over the same in-memory capture's record headers, each record's length
 *   giving the next record's offset (memory latency: the chain of dependent loads the reader itself must
 *   follow through a buffer far larger than the caches; no frame, no decoding);
 * - `streamCpuSeconds`: one byte read from every 64-byte cache line of that buffer, in order (the rate this
 *   core can pull the buffer in from memory at all; a parse that pulls in every line cannot be faster).
 * When a pass was slow because the machine was, the control passes next to it were slow too.
 *
 * Prints one JSON line: {"mode", "packets", "ipPackets", "seconds", "cpuSeconds", "userSeconds",
 * "systemSeconds", "passCpuSeconds", "controlCpuSeconds", "walkCpuSeconds", "streamCpuSeconds"}; times exclude Node's start-up (and, in memory
 * mode, loading the file and the control workload). `passCpuSeconds` lists each pass.
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

const CONTROL_BYTES = 256 * 1024;
const CONTROL_ROUNDS = 40;
const controlBuffer = new Uint8Array(CONTROL_BYTES).map((_, i) => (i * 131) & 0xff);
let controlSink = 0;
/** The fixed control workload (about 10 ms on this machine's cores when they run at full speed). */
function controlWork(): number {
  let sum = 0;
  for (let round = 0; round < CONTROL_ROUNDS; round++) {
    for (let i = 0; i < CONTROL_BYTES; i += 2)
      sum = (sum * 31 + controlBuffer[i]! + (controlBuffer[i + 1]! << 8)) | 0;
  }
  return sum;
}

/**
 * Walks classic-pcap record headers (16 bytes; caplen at +8) from the file header to the end; counts records.
 * Only for the control measurement: the reader proper validates everything this skips.
 */
function walkRecords(bytes: Uint8Array, littleEndian: boolean): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = 24;
  let records = 0;
  while (bytes.length - position >= 16) {
    position += 16 + view.getUint32(position + 8, littleEndian);
    records++;
  }
  return records;
}

/** Reads one byte of every 64-byte line of `bytes`, in order. */
function streamLines(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 64) sum = (sum + bytes[i]!) | 0;
  return sum;
}

const passCpuSeconds: number[] = [];
const controlCpuSeconds: number[] = [];
const walkCpuSeconds: number[] = [];
const streamCpuSeconds: number[] = [];
let seconds = 0;
let cpuSeconds = 0;
let userSeconds = 0;
let systemSeconds = 0;
if (mode === 'file') {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const summary = await readCaptureFile(path, onFrame);
  const used = process.cpuUsage(cpuStarted);
  userSeconds = used.user / 1e6;
  systemSeconds = used.system / 1e6;
  cpuSeconds = userSeconds + systemSeconds;
  seconds = (performance.now() - started) / 1000;
  passCpuSeconds.push(cpuSeconds);
  if (summary.damage) process.stderr.write(`damaged: ${summary.damage.message}\n`);
} else {
  const passes = Math.max(1, Number(passesArgument ?? 30));
  const file = readFileSync(path);
  // A plain Uint8Array view (not the Buffer subclass), as the streaming path hands the parser.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  // The record-walk control only knows classic pcap (the bench capture); other formats get none.
  const magic = bytes.length >= 24 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : 0;
  const pcapLittleEndian = magic === 0xa1b2c3d4 ? true : magic === 0xd4c3b2a1 ? false : undefined;
  for (let pass = 0; pass < passes; pass++) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const summary = await readCapture(bytes, onFrame);
    const used = process.cpuUsage(cpuStarted);
    seconds += (performance.now() - started) / 1000;
    userSeconds += used.user / 1e6;
    systemSeconds += used.system / 1e6;
    const passCpu = (used.user + used.system) / 1e6;
    cpuSeconds += passCpu;
    passCpuSeconds.push(passCpu);
    if (summary.damage) process.stderr.write(`damaged: ${summary.damage.message}\n`);
    const controlStarted = process.cpuUsage();
    controlSink ^= controlWork();
    controlCpuSeconds.push(cpuSecondsSince(controlStarted));
    if (pcapLittleEndian !== undefined) {
      const walkStarted = process.cpuUsage();
      controlSink ^= walkRecords(bytes, pcapLittleEndian);
      walkCpuSeconds.push(cpuSecondsSince(walkStarted));
    }
    const streamStarted = process.cpuUsage();
    controlSink ^= streamLines(bytes);
    streamCpuSeconds.push(cpuSecondsSince(streamStarted));
  }
}
process.stdout.write(
  `${JSON.stringify({
    mode,
    packets,
    ipPackets,
    seconds,
    cpuSeconds,
    userSeconds,
    systemSeconds,
    passCpuSeconds,
    controlCpuSeconds,
    walkCpuSeconds,
    streamCpuSeconds,
    // Printed so the control workload's result is used (nothing for the JIT to drop).
    controlSink,
  })}\n`,
);
