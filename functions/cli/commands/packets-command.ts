/**
 * `ccf packets <capture> [-o <file.csv>|-o -]`: one CSV row per packet (columns: PACKET_CSV_COLUMNS).
 *
 * Streams end to end: the capture is read in chunks, rows are handed to the output in large chunks, and
 * reading pauses while the output is full. A damaged capture still gets every readable row, then the
 * `PcapFormatError` is raised for run-command to turn into exit status 2.
 */
import type { Command } from 'commander';
import { type CaptureSummary, readCapture } from '../../capture/capture-reader.js';
import { decodeFrame } from '../../capture/decode/index.js';
import { DecodedPacket } from '../../capture/decoded-packet.js';
import type { RawFrame } from '../../capture/frame.js';
import { loadProtocolNames } from '../../capture/protocol-names.js';
import { PacketCsvWriter } from '../../records/packet-csv.js';
import {
  addCaptureReaderOptions,
  openCaptureInput,
  pacedChunks,
  readerOptionsFor,
  TextOutput,
} from '../capture-input.js';
import { createProgress } from '../progress.js';
import { DamagedCaptureError } from '../run-command.js';

export interface PacketsCommandOptions {
  output: string;
  protocolDir?: string;
  maxBlockBytes?: number;
  maxSnaplen?: number;
}

/**
 * Rows are gathered into chunks of about this many bytes before they go to the output. The chunks go as
 * bytes (no string per chunk); when they were strings, small pieces kept them short-lived: with 1 MiB pieces
 * the same run spent over half its time in the garbage collector and took 2-3× the CPU.
 */
const CSV_CHUNK_CHARS = 256 * 1024;

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function describeCapture(summary: CaptureSummary): string {
  return `${summary.format}${summary.gzip ? ', gzip' : ''}`;
}

/** Writes the CSV of `capturePath` to `options.output`; throws the capture's damage after writing every row. */
export async function runPackets(capturePath: string, options: PacketsCommandOptions): Promise<void> {
  const startedMs = performance.now();
  // Protocol maps first: a bad map is a usage error before any output exists.
  const names = loadProtocolNames(
    options.protocolDir === undefined ? {} : { directory: options.protocolDir },
  );
  const input = await openCaptureInput(capturePath);
  const output = TextOutput.to(options.output);
  const progress = createProgress({
    totalBytes: input.sizeBytes,
    terminalBusy: output.isStdout && process.stdout.isTTY === true,
  });
  const writer = new PacketCsvWriter(names, (chunk) => output.write(chunk), {
    chunkChars: CSV_CHUNK_CHARS,
    onBytes: (chunk) => output.writeBytes(chunk),
    lendBytes: output.writesAtOnce,
  });
  const packet = new DecodedPacket();
  let summary: CaptureSummary;
  try {
    summary = await readCapture(
      pacedChunks(input.chunks, output, (bytes) => progress.advance(bytes)),
      (frame: RawFrame) => {
        decodeFrame(frame, packet);
        writer.writePacket(frame, packet);
      },
      readerOptionsFor(input, options),
    );
    writer.end();
    await output.close();
  } finally {
    progress.stop();
    await input.close();
  }
  for (const warning of summary.warnings.slice(0, 20)) {
    process.stderr.write(`ccf: warning: ${warning}\n`);
  }
  if (summary.warnings.length > 20) {
    process.stderr.write(`ccf: warning: ... and ${summary.warnings.length - 20} more warnings\n`);
  }
  if (!output.isStdout) {
    process.stderr.write(
      `ccf: ${writer.rows} packets from ${input.name} (${describeCapture(summary)}) written to ${output.name} in ${seconds(
        performance.now() - startedMs,
      )} s${summary.damage ? ' (capture damaged, see below)' : ''}\n`,
    );
  }
  if (summary.damage) {
    throw new DamagedCaptureError(input.name, summary.damage);
  }
}

export function registerPacketsCommand(program: Command): void {
  const command = program
    .command('packets')
    .description('write one CSV row per packet of a pcap/pcapng capture (gzip allowed)')
    .argument('<capture>', 'capture file (.pcap, .pcapng, optionally .gz), or - for stdin')
    .option('-o, --output <file.csv>', 'CSV output file, or - for stdout', '-');
  addCaptureReaderOptions(command, { protocolDir: true })
    .addHelpText(
      'after',
      `
Columns: index, ts_us, frame_len, cap_len, link_type, eth_*, vlan_ids, ip_*, ports, service, tcp_*, payload_len,
icmp_*, tunnel, then extras (see docs/cli.md). Empty cells where a packet has no such field.

Exit status: 0 done; 1 usage error, missing file or not a capture; 2 damaged capture (every readable packet was
written, stderr says what is wrong and at which byte offset).`,
    )
    .action(async (capture: string, options: PacketsCommandOptions) => {
      await runPackets(capture, options);
    });
}
