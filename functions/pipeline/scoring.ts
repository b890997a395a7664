import type { Verdict } from '../records/prediction.js';

/**
 * What the pipeline needs from the models (`functions/inference`'s `Scorer` satisfies it structurally):
 * per-record label, probability, anomaly score and combined verdict.
 */
export interface RecordScore {
  label: string;
  probability: number;
  anomaly_score: number | null;
  verdict: Verdict;
  decided_by: string;
  model_version: string;
}

/** A flow record by CIC column names (whole `FlowRecord`s from captures, possibly partial from the API). */
export type ScorableRecord = Readonly<Record<string, string | number>>;

/** The original single-packet contract of POST /api/predict. */
export interface PacketInput {
  len: number;
  source_port: number;
  dest_port: number;
  protocol?: number;
  ttl?: number;
  tcp_flags?: number;
  tcp_window?: number;
}

export interface PredictionScorer {
  scoreFlows(records: readonly ScorableRecord[]): Promise<readonly RecordScore[]> | readonly RecordScore[];
  scorePacket(input: PacketInput): Promise<RecordScore> | RecordScore;
}
