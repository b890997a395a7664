/**
 * `ccf flows <capture> [-o <flows.csv>|-o -]`: one CSV row per bidirectional flow (columns: FLOW_CSV_COLUMNS),
 * with the fixed-CICFlowMeter features (`--feature-set cic-fork`, the default) or the corrected ones.
 *
 * Streams end to end: the capture is read in chunks, each frame is decoded and fed to the FlowMeter, which
 * emits a flow as soon as it ends; rows go to the output in large chunks and reading pauses while the output
 * is full. A damaged capture still gets the flows of every readable packet, then the `PcapFormatError` is
 * raised for run-command to turn into exit status 2.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { type CaptureSummary, readCapture } from '../../capture/capture-reader.js';
import { decodeFrame } from '../../capture/decode/index.js';
import { DecodedPacket } from '../../capture/decoded-packet.js';
import type { RawFrame } from '../../capture/frame.js';
import { CsvRowBuffer } from '../../flows/csv-row-buffer.js';
import { FEATURE_SETS, type FeatureSet } from '../../flows/flow-columns.js';
import { FlowMeter, type FlowRunSummary } from '../../flows/flow-meter.js';
import {
  DEFAULT_ACTIVITY_TIMEOUT_S,
  DEFAULT_FLOW_TIMEOUT_S,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_OPEN_FLOWS,
} from '../../flows/flow-options.js';
import { ValidationError } from '../../platform/errors.js';
import { FLOW_CSV_HEADER } from '../../records/flow-csv.js';
import {
  addCaptureReaderOptions,
  openCaptureInput,
  pacedChunks,
  readerOptionsFor,
  TextOutput,
} from '../capture-input.js';
import { createProgress } from '../progress.js';
import { DamagedCaptureError } from '../run-command.js';

export interface FlowsCommandOptions {
  output: string;
  featureSet: FeatureSet;
  flowTimeoutS: number;
  activityTimeoutS: number;
  idleTimeoutS: number;
  maxOpenFlows: number;
  /** Commander's `--no-vlan`: false when given. */
  vlan: boolean;
  summary?: string;
  maxBlockBytes?: number;
  maxSnaplen?: number;
}

/** A positive number of seconds (fractions allowed). */
function parseSeconds(option: string): (value: string) => number {
  return (value: string) => {
    const seconds = Number(value);
    if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new ValidationError(`${option} must be a positive number of seconds (got '${value}')`, {
        field: option,
      });
    }
    return seconds;
  };
}

function parseCount(option: string): (value: string) => number {
  return (value: string) => {
    const count = Number(value);
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new ValidationError(`${option} must be a positive whole number (got '${value}')`, {
        field: option,
      });
    }
    return count;
  };
}

function parseFeatureSet(value: string): FeatureSet {
  const found = FEATURE_SETS.find((name) => name === value);
  if (found === undefined) {
    throw new ValidationError(`--feature-set must be one of ${FEATURE_SETS.join(', ')} (got '${value}')`, {
      field: '--feature-set',
    });
  }
  return found;
}

/** One line for stderr: what happened to every packet and why each flow ended. */
export function describeFlowRun(summary: FlowRunSummary): string {
  const reasons = Object.entries(summary.flowsByReason)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  const unassigned = Object.entries(summary.unassignedByReason)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  return (
    `${summary.flows} flows (${reasons || 'none'}) from ${summary.packetsInFlows} of ${summary.packets} packets` +
    (summary.unassignedPackets > 0 ? `; not in flows: ${unassigned}` : '') +
    (summary.outOfOrderPackets > 0 ? `; ${summary.outOfOrderPackets} packets out of time order` : '') +
    (summary.duplicatePackets > 0 ? `; ${summary.duplicatePackets} duplicate packets` : '') +
    `; feature set ${summary.featureSet}`
  );
}

/** Writes the flow CSV of `capturePath` to `options.output`; throws the capture's damage after writing every flow. */
export async function runFlows(capturePath: string, options: FlowsCommandOptions): Promise<FlowRunSummary> {
  const startedMs = performance.now();
  const input = await openCaptureInput(capturePath);
  const output = TextOutput.to(options.output);
  const progress = createProgress({
    totalBytes: input.sizeBytes,
    terminalBusy: output.isStdout && process.stdout.isTTY === true,
  });
  // The header goes out with the first rows, or at the end of a capture without flows: the output file is
  // created on the first write, so a file that is not a capture leaves no output behind (as `ccf packets`).
  let headerWritten = false;
  const writeHeader = (): void => {
    if (headerWritten) return;
    headerWritten = true;
    output.write(FLOW_CSV_HEADER);
  };
  // Rows are written by the meter straight into a byte buffer (no FlowRecord objects, no per-value strings)
  // and handed to the output as bytes in ~256 KB chunks.
  const rows = CsvRowBuffer.toBytes(
    (chunk) => {
      writeHeader();
      output.writeBytes(chunk);
    },
    undefined,
    output.writesAtOnce,
  );
  const meter = new FlowMeter(
    {
      featureSet: options.featureSet,
      flowTimeoutS: options.flowTimeoutS,
      activityTimeoutS: options.activityTimeoutS,
      idleTimeoutS: options.idleTimeoutS,
      maxOpenFlows: options.maxOpenFlows,
      vlanAware: options.vlan,
    },
    () => {},
    rows,
  );
  const packet = new DecodedPacket();
  let capture: CaptureSummary;
  let flows: FlowRunSummary;
  try {
    capture = await readCapture(
      pacedChunks(input.chunks, output, (bytes) => progress.advance(bytes)),
      (frame: RawFrame) => {
        decodeFrame(frame, packet);
        meter.add(frame, packet);
      },
      readerOptionsFor(input, options),
    );
    flows = meter.finish();
    rows.flush();
    writeHeader();
    await output.close();
  } catch (error) {
    rows.flush();
    throw error;
  } finally {
    progress.stop();
    await input.close();
  }
  if (options.summary !== undefined) {
    const document = {
      capture: { ...capture, damage: capture.damage?.message },
      flows,
      options: { ...meter.options },
    };
    await writeFile(options.summary, `${JSON.stringify(document, null, 2)}\n`);
  }
  for (const warning of capture.warnings.slice(0, 20)) {
    process.stderr.write(`ccf: warning: ${warning}\n`);
  }
  if (flows.evictedFlows > 0) {
    process.stderr.write(
      `ccf: warning: ${flows.evictedFlows} flows were emitted early because more than ${options.maxOpenFlows} were open (--max-open-flows)\n`,
    );
  }
  if (!output.isStdout) {
    process.stderr.write(
      `ccf: ${describeFlowRun(flows)}; written to ${output.name} in ${((performance.now() - startedMs) / 1000).toFixed(2)} s` +
        `${capture.damage ? ' (capture damaged, see below)' : ''}\n`,
    );
  }
  if (capture.damage) {
    throw new DamagedCaptureError(input.name, capture.damage);
  }
  return flows;
}

export function registerFlowsCommand(program: Command): void {
  const command = program
    .command('flows')
    .description(
      'write one CSV row per bidirectional flow with CICFlowMeter features (fixed fork, CICIDS2017_improved)',
    )
    .argument('<capture>', 'capture file (.pcap, .pcapng, optionally .gz), or - for stdin')
    .option('-o, --output <flows.csv>', 'CSV output file, or - for stdout', '-')
    .option(
      '--feature-set <name>',
      `${FEATURE_SETS.join(' | ')}: the fork's values with its quirks, or corrected`,
      parseFeatureSet,
      'cic-fork',
    )
    .option(
      '--flow-timeout-s <seconds>',
      'split a flow this long after its first packet',
      parseSeconds('--flow-timeout-s'),
      DEFAULT_FLOW_TIMEOUT_S,
    )
    .option(
      '--activity-timeout-s <seconds>',
      'a gap longer than this ends an active period (Active/Idle features)',
      parseSeconds('--activity-timeout-s'),
      DEFAULT_ACTIVITY_TIMEOUT_S,
    )
    .option(
      '--idle-timeout-s <seconds>',
      'emit a flow without packets for this long',
      parseSeconds('--idle-timeout-s'),
      DEFAULT_IDLE_TIMEOUT_S,
    )
    .option(
      '--max-open-flows <count>',
      'most flows held open at once; beyond it the longest-idle are emitted as evicted',
      parseCount('--max-open-flows'),
      DEFAULT_MAX_OPEN_FLOWS,
    )
    .option('--no-vlan', 'ignore VLAN ids in the flow key (flows on different VLANs merge)')
    .option(
      '--summary <file.json>',
      'also write the run summary (flows by expiry reason, unassigned packets, ...) as JSON',
    );
  addCaptureReaderOptions(command, { protocolDir: false })
    .addHelpText(
      'after',
      `
Columns: the 88 columns of the fixed CICFlowMeter (Flow ID ... Total TCP Flow Time, as in CICIDS2017_improved),
then community_id, expiry_reason, ip_version, vlan_id, first_packet_index, last_packet_index, out_of_order_packets.
Definitions of every column in both feature sets: docs/flow-features.md.

Exit status: 0 done; 1 usage error, missing file or not a capture; 2 damaged capture (the flows of every readable
packet were written, stderr says what is wrong and at which byte offset).`,
    )
    .action(async (capture: string, options: FlowsCommandOptions) => {
      await runFlows(capture, options);
    });
}
