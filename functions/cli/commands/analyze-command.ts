/**
 * `ccf analyze <capture> -o <dir>`: one pass over the capture feeds both tables and the models:
 *   <dir>/packets.csv      one row per packet (PACKET_CSV_COLUMNS)
 *   <dir>/flows.csv        one row per flow (FLOW_CSV_COLUMNS, feature set cic-fork)
 *   <dir>/predictions.csv  one verdict per flow, same order as flows.csv (PREDICTION_CSV_COLUMNS)
 * then prints a summary: flows by verdict and by label, and the most suspicious flows.
 *
 * Every flow gets its capture's context columns (functions/flows/flow-context.ts) before scoring.
 * Streaming: flows are scored in batches as they expire, and the capture is read only as fast as the three
 * outputs drain, so memory stays flat whatever the capture size. A damaged capture still gets every readable
 * packet and flow, then exits with status 2 (run-command).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type CaptureSummary, readCapture } from '../../capture/capture-reader.js';
import { decodeFrame } from '../../capture/decode/index.js';
import { DecodedPacket } from '../../capture/decoded-packet.js';
import type { RawFrame } from '../../capture/frame.js';
import { loadProtocolNames } from '../../capture/protocol-names.js';
import { FlowMeter, type FlowRecord } from '../../flows/index.js';
import { defaultModelsDir, type FlowScore, loadScorer, type Scorer } from '../../inference/index.js';
import { type PcapFormatError, ValidationError } from '../../platform/errors.js';
import { FLOW_CSV_HEADER, flowCsvRow } from '../../records/flow-csv.js';
import { csvEscape, PacketCsvWriter } from '../../records/packet-csv.js';
import {
  addCaptureReaderOptions,
  fileError,
  openCaptureInput,
  readerOptionsFor,
  TextOutput,
} from '../capture-input.js';
import { createProgress } from '../progress.js';
import { DamagedCaptureError } from '../run-command.js';

export const PREDICTION_CSV_COLUMNS = [
  'flow_index',
  'flow_id',
  'community_id',
  'timestamp',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'label',
  'probability',
  'anomaly_score',
  'verdict',
  'decided_by',
  'model_version',
] as const;

export interface AnalyzeCommandOptions {
  output: string;
  modelsDir?: string;
  protocolDir?: string;
  top: number;
  maxBlockBytes?: number;
  maxSnaplen?: number;
}

/** Flows scored per ONNX call (also the most flows held in memory while waiting to be scored). */
const SCORE_BATCH = 4096;
const CHUNK_CHARS = 256 * 1024;

export interface SuspiciousFlow {
  index: number;
  record: FlowRecord;
  score: FlowScore;
}

export interface AnalyzeSummary {
  capture: string;
  packets: number;
  flows: number;
  modelVersion: string;
  byVerdict: Record<string, number>;
  byLabel: Record<string, number>;
  top: SuspiciousFlow[];
  outputs: { packets: string; flows: string; predictions: string };
  /** Set when the capture is damaged part-way (everything readable was written and scored). */
  damage: PcapFormatError | undefined;
}

/** Ordering of "most suspicious": malicious first, then classifier probability, then anomaly score. */
function suspicion(score: FlowScore): [number, number, number] {
  return [score.verdict === 'malicious' ? 1 : 0, score.probability, score.anomaly_score];
}

function moreSuspicious(a: FlowScore, b: FlowScore): boolean {
  const x = suspicion(a);
  const y = suspicion(b);
  for (let i = 0; i < 3; i++) {
    if ((x[i] as number) !== (y[i] as number)) return (x[i] as number) > (y[i] as number);
  }
  return false;
}

/** `csvEscape` without a regular expression per field: almost every text here needs no quotes. */
function csvCell(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // '"' 34, ',' 44, '\r' 13, '\n' 10
    if (c === 34 || c === 44 || c === 13 || c === 10) return csvEscape(text);
  }
  return text;
}

export function predictionCsvRow(index: number, record: FlowRecord, score: FlowScore): string {
  // One template literal (no per-row array and join): this runs once per flow.
  return `${index},${csvCell(record['Flow ID'])},${csvCell(record.community_id)},${csvCell(record.Timestamp)},${csvCell(
    record['Src IP'],
  )},${record['Src Port']},${csvCell(record['Dst IP'])},${record['Dst Port']},${record.Protocol},${csvCell(
    score.label,
  )},${score.probability},${score.anomaly_score},${score.verdict},${csvCell(score.decided_by)},${csvCell(
    score.model_version,
  )}\n`;
}

class TopFlows {
  readonly flows: SuspiciousFlow[] = [];
  constructor(private readonly size: number) {}

  offer(index: number, record: FlowRecord, score: FlowScore): void {
    if (this.size <= 0) return;
    const last = this.flows[this.flows.length - 1];
    if (this.flows.length >= this.size && last && !moreSuspicious(score, last.score)) return;
    let at = this.flows.length;
    while (at > 0 && moreSuspicious(score, (this.flows[at - 1] as SuspiciousFlow).score)) at--;
    this.flows.splice(at, 0, { index, record, score });
    if (this.flows.length > this.size) this.flows.pop();
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw fileError(error, dir, 'output');
  }
}

/** Reads `capturePath` once and writes the three CSVs into `options.output`; returns the summary. */
export async function runAnalyze(
  capturePath: string,
  options: AnalyzeCommandOptions,
  scorer?: Scorer,
): Promise<AnalyzeSummary> {
  if (!options.output)
    throw new ValidationError('analyze needs an output directory (-o <dir>)', { field: 'output' });
  const names = loadProtocolNames(
    options.protocolDir === undefined ? {} : { directory: options.protocolDir },
  );
  const ownScorer = scorer === undefined;
  const models = scorer ?? (await loadScorer({ modelsDir: options.modelsDir ?? defaultModelsDir() }));
  try {
    const input = await openCaptureInput(capturePath);
    await prepareDirectory(options.output);
    const paths = {
      packets: join(options.output, 'packets.csv'),
      flows: join(options.output, 'flows.csv'),
      predictions: join(options.output, 'predictions.csv'),
    };
    const packetsOut = TextOutput.to(paths.packets);
    const flowsOut = TextOutput.to(paths.flows);
    const predictionsOut = TextOutput.to(paths.predictions);
    flowsOut.write(FLOW_CSV_HEADER);
    predictionsOut.write(`${PREDICTION_CSV_COLUMNS.join(',')}\n`);

    const byVerdict: Record<string, number> = { malicious: 0, benign: 0 };
    const byLabel: Record<string, number> = {};
    const top = new TopFlows(options.top);
    let flowIndex = 0;
    let pending: FlowRecord[] = [];
    // Context features (flows around each flow in this capture: same source, same target port, ...) are added
    // to each record in emission order, the order training computed them in; then the batch is scored.
    const context = models.newFlowContext();
    const meter = new FlowMeter({}, (record) => {
      pending.push(context.annotate(record));
    });

    const scorePending = async (): Promise<void> => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      const scores = await models.scoreFlows(batch);
      let flowText = '';
      let predictionText = '';
      for (let i = 0; i < batch.length; i++) {
        const record = batch[i] as FlowRecord;
        const score = scores[i] as FlowScore;
        flowText += flowCsvRow(record);
        predictionText += predictionCsvRow(flowIndex, record, score);
        byVerdict[score.verdict] = (byVerdict[score.verdict] ?? 0) + 1;
        byLabel[score.label] = (byLabel[score.label] ?? 0) + 1;
        top.offer(flowIndex, record, score);
        flowIndex++;
        if (flowText.length >= CHUNK_CHARS) {
          flowsOut.write(flowText);
          predictionsOut.write(predictionText);
          flowText = '';
          predictionText = '';
        }
      }
      flowsOut.write(flowText);
      predictionsOut.write(predictionText);
    };

    const progress = createProgress({ totalBytes: input.sizeBytes, terminalBusy: false });
    // Rows handed on as bytes (as `ccf packets` does), lent when the output writes them at once: no string
    // decoded from the bytes only to be encoded back.
    const packetWriter = new PacketCsvWriter(names, (chunk) => packetsOut.write(chunk), {
      onBytes: (chunk) => packetsOut.writeBytes(chunk),
      lendBytes: packetsOut.writesAtOnce,
    });
    const packet = new DecodedPacket();
    async function* paced(): AsyncGenerator<Uint8Array> {
      for await (const chunk of input.chunks) {
        if (!(chunk instanceof Uint8Array)) {
          throw new ValidationError('the capture stream must yield bytes', { field: 'capture' });
        }
        progress.advance(chunk.length);
        yield chunk;
        if (pending.length >= SCORE_BATCH) await scorePending();
        await Promise.all([packetsOut.room(), flowsOut.room(), predictionsOut.room()]);
      }
    }
    let summary: CaptureSummary;
    try {
      summary = await readCapture(
        paced(),
        (frame: RawFrame) => {
          decodeFrame(frame, packet);
          packetWriter.writePacket(frame, packet);
          meter.add(frame, packet);
        },
        readerOptionsFor(input, options),
      );
      meter.finish();
      await scorePending();
      packetWriter.end();
      await Promise.all([packetsOut.close(), flowsOut.close(), predictionsOut.close()]);
    } finally {
      progress.stop();
      await input.close();
    }
    return {
      capture: input.name,
      packets: packetWriter.rows,
      flows: flowIndex,
      modelVersion: models.modelVersion,
      byVerdict,
      byLabel,
      top: top.flows,
      outputs: paths,
      damage: summary.damage,
    };
  } finally {
    if (ownScorer) await models.close();
  }
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The printed summary (plain text, one block per question). */
export function formatAnalyzeSummary(s: AnalyzeSummary): string {
  const lines: string[] = [];
  lines.push(`${s.capture}: ${s.packets} packets, ${s.flows} flows (models ${s.modelVersion})`);
  lines.push(`wrote ${s.outputs.packets}, ${s.outputs.flows}, ${s.outputs.predictions}`);
  lines.push('');
  lines.push('flows by verdict:');
  for (const [verdict, n] of Object.entries(s.byVerdict)) lines.push(`  ${pad(verdict, 12)} ${n}`);
  lines.push('flows by label:');
  for (const [label, n] of Object.entries(s.byLabel).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  )) {
    lines.push(`  ${pad(label, 12)} ${n}`);
  }
  if (s.top.length > 0) {
    lines.push('most suspicious flows:');
    lines.push(
      `  ${pad('#', 7)} ${pad('verdict', 10)} ${pad('label', 12)} ${pad('p_mal', 7)} ${pad('anomaly', 8)} flow`,
    );
    for (const { index, record, score } of s.top) {
      lines.push(
        `  ${pad(String(index), 7)} ${pad(score.verdict, 10)} ${pad(score.label, 12)} ${pad(
          score.probability.toFixed(3),
          7,
        )} ${pad(score.anomaly_score.toFixed(3), 8)} ${record['Src IP']}:${record['Src Port']} -> ${record['Dst IP']}:${
          record['Dst Port']
        } proto ${record.Protocol}`,
      );
    }
  }
  if (s.damage) lines.push(`capture damaged: ${s.damage.message}`);
  return `${lines.join('\n')}\n`;
}

function positiveCount(option: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ValidationError(`${option} must be a whole number ≥ 0 (got '${value}')`, { field: option });
    }
    return n;
  };
}

export function registerAnalyzeCommand(program: Command): void {
  const command = program
    .command('analyze')
    .description(
      'read a capture once: packets.csv, flows.csv and predictions.csv (one verdict per flow) + summary',
    )
    .argument('<capture>', 'capture file (.pcap, .pcapng, optionally .gz), or - for stdin')
    .requiredOption('-o, --output <dir>', 'output directory (created if needed)')
    .option(
      '--models-dir <dir>',
      'folder with manifest.json and the .onnx models (default: the repository models/)',
    )
    .option('--top <n>', 'how many suspicious flows to list', positiveCount('--top'), 10);
  addCaptureReaderOptions(command, { protocolDir: true })
    .addHelpText(
      'after',
      `
predictions.csv columns: ${PREDICTION_CSV_COLUMNS.join(', ')}
(flow_index = row of flows.csv, 0-based; verdict benign|malicious; see models/MODEL_CARD.md for the policy).

Exit status: 0 done; 1 usage error, missing file, not a capture or unusable models; 2 damaged capture
(every readable packet and flow was written and scored).`,
    )
    .action(async (capture: string, options: AnalyzeCommandOptions) => {
      const summary = await runAnalyze(capture, options);
      process.stdout.write(formatAnalyzeSummary(summary));
      if (summary.damage !== undefined) throw new DamagedCaptureError(summary.capture, summary.damage);
    });
}
