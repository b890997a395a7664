/**
 * The models end to end: `ccf analyze` over the repository's own lab capture (samples/lab-mix.pcap) writes
 * the three tables in one pass with one verdict per flow, and `ccf predict` scores the seed's packet contract
 * and a flow row taken from that capture.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnalyzeSummary,
  formatAnalyzeSummary,
  PREDICTION_CSV_COLUMNS,
  runAnalyze,
} from '../../functions/cli/commands/analyze-command.js';
import { parsePredictInput, runPredict } from '../../functions/cli/commands/predict-command.js';
import { FlowContext } from '../../functions/flows/flow-context.js';
import { FLOW_CSV_COLUMNS } from '../../functions/flows/index.js';
import { loadScorer, type Scorer } from '../../functions/inference/index.js';
import { FeatureSchemaError, NotFoundError, ValidationError } from '../../functions/platform/errors.js';
import { PACKET_CSV_COLUMNS } from '../../functions/records/packet-csv.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sample = join(repoRoot, 'samples', 'lab-mix.pcap');
const modelsDir = join(repoRoot, 'models');

function csvLines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

describe.skipIf(!existsSync(sample))('ccf analyze on samples/lab-mix.pcap', () => {
  let out: string;
  let scorer: Scorer;
  let summary: AnalyzeSummary;
  let flows: string[];
  let predictions: string[];
  let packets: string[];

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'ccf-analyze-'));
    scorer = await loadScorer({ modelsDir });
    summary = await runAnalyze(sample, { output: join(out, 'result'), top: 5 }, scorer);
    [packets, flows, predictions] = (await Promise.all(
      ['packets.csv', 'flows.csv', 'predictions.csv'].map(async (name) =>
        csvLines(await readFile(join(out, 'result', name), 'utf8')),
      ),
    )) as [string[], string[], string[]];
  });

  afterAll(async () => {
    await scorer?.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('writes one packet row per frame and one prediction per flow, in flows.csv order', () => {
    expect(summary.packets).toBeGreaterThan(10_000);
    expect(packets[0]).toBe(PACKET_CSV_COLUMNS.join(','));
    expect(packets).toHaveLength(summary.packets + 1);
    expect(flows[0]?.split(',')).toHaveLength(FLOW_CSV_COLUMNS.length);
    expect(flows).toHaveLength(summary.flows + 1);
    expect(predictions[0]).toBe(PREDICTION_CSV_COLUMNS.join(','));
    expect(predictions).toHaveLength(summary.flows + 1);
    // Row i of predictions.csv is flow i of flows.csv: same Flow ID.
    for (const i of [1, Math.floor(summary.flows / 2), summary.flows]) {
      const prediction = (predictions[i] as string).split(',');
      expect(prediction[0]).toBe(String(i - 1));
      expect(prediction[1]).toBe((flows[i] as string).split(',')[0]);
    }
  });

  it('gives every flow a verdict from the models, and counts them in the summary', () => {
    const columns = PREDICTION_CSV_COLUMNS;
    const at = (name: (typeof columns)[number]) => columns.indexOf(name);
    let malicious = 0;
    for (const line of predictions.slice(1)) {
      const cells = line.split(',');
      expect(['benign', 'malicious']).toContain(cells[at('verdict')]);
      const p = Number(cells[at('probability')]);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(Number.isFinite(Number(cells[at('anomaly_score')]))).toBe(true);
      expect(cells[at('model_version')]).toBe(scorer.modelVersion);
      if (cells[at('verdict')] === 'malicious') malicious++;
    }
    expect(summary.byVerdict.malicious).toBe(malicious);
    expect((summary.byVerdict.malicious ?? 0) + (summary.byVerdict.benign ?? 0)).toBe(summary.flows);
    expect(Object.values(summary.byLabel).reduce((a, b) => a + b, 0)).toBe(summary.flows);
    // The lab capture holds scans and floods: some flows must be called malicious.
    expect(malicious).toBeGreaterThan(0);
    expect(summary.top).toHaveLength(5);
    expect(summary.top[0]?.score.verdict).toBe('malicious');
    const text = formatAnalyzeSummary(summary);
    expect(text).toContain('flows by verdict:');
    expect(text).toContain('most suspicious flows:');
  });

  it('predict scores a flow record exactly as analyze did (flows.csv row + its capture context)', async () => {
    const header = (flows[0] as string).split(',');
    const at = (name: string) => header.indexOf(name);
    // Analyze scored each flow with the context of the flows before it in flows.csv order: replay that order.
    const context = new FlowContext();
    const target = 25;
    let record: Record<string, string | number> = {};
    for (let i = 1; i <= target; i++) {
      const row = (flows[i] as string).split(',');
      const cells: Record<string, string> = Object.fromEntries(header.map((name, j) => [name, row[j] ?? '']));
      const features = context.next({
        'Src IP': cells['Src IP'] ?? '',
        'Dst IP': cells['Dst IP'] ?? '',
        'Dst Port': Number(row[at('Dst Port')]),
        Protocol: Number(row[at('Protocol')]),
        Timestamp: cells.Timestamp ?? '',
        'Total Bwd packets': Number(row[at('Total Bwd packets')]),
        'Total Length of Fwd Packet': Number(row[at('Total Length of Fwd Packet')]),
        'Total Fwd Packet': Number(row[at('Total Fwd Packet')]),
        'Flow Duration': Number(row[at('Flow Duration')]),
      });
      record = { ...cells, ...features };
    }
    const prediction = (predictions[target] as string).split(',');
    const printed = JSON.parse(await runPredict(JSON.stringify(record), { modelsDir }));
    expect(printed.kind).toBe('flow');
    expect(printed.verdict).toBe(prediction[PREDICTION_CSV_COLUMNS.indexOf('verdict')]);
    expect(printed.label).toBe(prediction[PREDICTION_CSV_COLUMNS.indexOf('label')]);
    expect(printed.probability).toBe(Number(prediction[PREDICTION_CSV_COLUMNS.indexOf('probability')]));
    expect(printed.anomaly_score).toBe(Number(prediction[PREDICTION_CSV_COLUMNS.indexOf('anomaly_score')]));
    // The same flow without its capture is a lone flow: no context, so the anomaly detector has no evidence.
    const lone = Object.fromEntries(Object.entries(record).filter(([k]) => !k.startsWith('ctx_')));
    expect(JSON.parse(await runPredict(JSON.stringify(lone), { modelsDir })).anomaly_score).toBe(0);
  });
});

describe('ccf predict', () => {
  it("keeps the seed's packet contract: {len, source_port, dest_port} → a probability", async () => {
    const printed = JSON.parse(
      await runPredict('{"len":60,"source_port":80,"dest_port":443}', { modelsDir }),
    );
    expect(printed.kind).toBe('packet');
    expect(printed.probability).toBeGreaterThanOrEqual(0);
    expect(printed.probability).toBeLessThanOrEqual(1);
    expect(printed.decided_by).toBe('packet-classifier');
  });

  it('refuses bad JSON and incomplete records with typed errors', async () => {
    expect(() => parsePredictInput('{nope')).toThrow(ValidationError);
    expect(() => parsePredictInput('[1,2]')).toThrow(ValidationError);
    await expect(runPredict('{"Dst Port": 80}', { modelsDir })).rejects.toThrow(FeatureSchemaError);
    await expect(runPredict('{"Dst Port": 80}', { modelsDir })).rejects.toThrow(
      /^Missing required columns: Protocol, /,
    );
  });

  it('analyze reports a missing capture as NotFoundError', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ccf-analyze-missing-'));
    try {
      await expect(runAnalyze(join(out, 'none.pcap'), { output: out, top: 1 })).rejects.toThrow(
        NotFoundError,
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
