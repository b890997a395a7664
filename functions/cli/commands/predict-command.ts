/**
 * `ccf predict '<json>'`: scores one record given as JSON and prints the verdict as JSON.
 *
 * - A packet record (it has `len`, `source_port` or `dest_port`): `{"len":60,"source_port":80,"dest_port":443}`,
 *   optionally with `protocol`, `ttl`, `tcp_flags`, `tcp_window` → the packet model's malicious probability.
 * - Anything else is a flow record keyed by the CIC column names (as in flows.csv) → the combined verdict.
 * - An array of flow records → one verdict per record.
 * `-` reads the JSON from stdin.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { defaultModelsDir, loadScorer, type ScorableRecord } from '../../inference/index.js';
import { ValidationError } from '../../platform/errors.js';

export interface PredictCommandOptions {
  modelsDir?: string;
}

const cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const recordSchema = z.record(z.string(), cell);
const inputSchema = z.union([recordSchema, z.array(recordSchema).min(1).max(100_000)]);

const PACKET_KEYS = ['len', 'source_port', 'dest_port'] as const;

export function isPacketRecord(record: ScorableRecord): boolean {
  return PACKET_KEYS.some((key) => key in record);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses the JSON argument; ValidationError with the reason when it is not a record or an array of records. */
export function parsePredictInput(text: string): ScorableRecord | ScorableRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`predict input is not JSON: ${(error as Error).message}`, { field: 'record' });
  }
  const parsed = inputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(
      `predict input must be a JSON object of column: number (or an array of them): ${issue?.message ?? ''} at ${
        issue?.path.join('.') || '(root)'
      }`,
      { field: issue?.path.join('.') || 'record' },
    );
  }
  return parsed.data;
}

export async function runPredict(json: string, options: PredictCommandOptions): Promise<string> {
  const input = parsePredictInput(json === '-' ? await readStdin() : json);
  const scorer = await loadScorer({ modelsDir: options.modelsDir ?? defaultModelsDir() });
  try {
    if (Array.isArray(input)) {
      const scores = await scorer.scoreFlows(input);
      return `${JSON.stringify(
        scores.map((score) => ({ kind: 'flow', ...score })),
        null,
        2,
      )}\n`;
    }
    if (isPacketRecord(input)) {
      const score = await scorer.scorePacket(input);
      return `${JSON.stringify({ kind: 'packet', ...score }, null, 2)}\n`;
    }
    const [score] = await scorer.scoreFlows([input]);
    return `${JSON.stringify({ kind: 'flow', ...score }, null, 2)}\n`;
  } finally {
    await scorer.close();
  }
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('score one flow or packet record given as JSON and print the verdict as JSON')
    .argument(
      '<json>',
      'the record as JSON (e.g. \'{"len":60,"source_port":80,"dest_port":443}\'), or - for stdin',
    )
    .option(
      '--models-dir <dir>',
      'folder with manifest.json and the .onnx models (default: the repository models/)',
    )
    .addHelpText(
      'after',
      `
A packet record has len, source_port, dest_port (optional: protocol, ttl, tcp_flags, tcp_window; -1 = absent).
A flow record is keyed by the CIC flow column names of flows.csv (e.g. "Dst Port", "Flow Duration", ...);
every model feature must be present ("Missing required columns: ..." otherwise). An array scores many flows.

Exit status: 0 scored; 1 bad JSON, missing columns or unusable models.`,
    )
    .action(async (json: string, options: PredictCommandOptions) => {
      process.stdout.write(await runPredict(json, options));
    });
}
