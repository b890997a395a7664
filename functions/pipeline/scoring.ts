import type { FlowContextFeatures, FlowContextInput } from '../flows/flow-context.js';
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

/** Context features of a capture's flows, fed in emission order (functions/flows/flow-context.ts). */
export interface FlowContextSource {
  next(flow: FlowContextInput): FlowContextFeatures;
}

/** Model input columns of flows with context (`functions/inference` FeatureLayout, structurally). */
export interface FlowRowLayout {
  readonly features: readonly string[];
  readonly required: ReadonlySet<string>;
  readonly absentValue: number;
  readonly model: string;
}

export interface PredictionScorer {
  scoreFlows(records: readonly ScorableRecord[]): Promise<readonly RecordScore[]> | readonly RecordScore[];
  /**
   * Optional lower-level entry (with `flowLayout`): `count` model rows of flows carrying their context, in
   * `flowLayout.features` order, numbers already finite and clamped to ±FLOAT32_MAX. score-flows uses it to
   * read features text straight into rows instead of building an object per flow.
   */
  scoreFeatureRows?(rows: Float32Array, count: number): Promise<readonly RecordScore[]>;
  readonly flowLayout?: FlowRowLayout;
  scorePacket(input: PacketInput): Promise<RecordScore> | RecordScore;
  /**
   * A fresh context accumulator for one capture, when the models use context features: records carrying the
   * context columns are scored with them (as `ccf analyze` does), records without them as lone flows.
   */
  newFlowContext?(): FlowContextSource;
}

/** A scorer that can also score many packets in one model run (the `functions/inference` Scorer can). */
export interface BatchPacketScorer extends PredictionScorer {
  scorePackets(inputs: readonly ScorableRecord[]): Promise<readonly RecordScore[]>;
}

/**
 * Coalesces concurrent single-packet calls (one per POST /api/predict) into one `scorePackets` run per
 * event-loop turn: one ONNX run costs about the same for 1 or 50 rows, and the model serialises its runs.
 * Each caller gets its own row's score (or the shared run's error).
 */
export function coalescePacketScoring(scorer: BatchPacketScorer): PredictionScorer {
  let queue: {
    input: PacketInput;
    resolve: (score: RecordScore) => void;
    reject: (error: unknown) => void;
  }[] = [];
  const run = () => {
    const batch = queue;
    queue = [];
    scorer.scorePackets(batch.map((entry) => ({ ...entry.input }))).then(
      (scores) => {
        batch.forEach((entry, i) => {
          const score = scores[i];
          if (score) entry.resolve(score);
          else entry.reject(new Error('packet model returned fewer scores than packets'));
        });
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  };
  const newFlowContext = scorer.newFlowContext?.bind(scorer);
  const scoreFeatureRows = scorer.scoreFeatureRows?.bind(scorer);
  return {
    scoreFlows: (records) => scorer.scoreFlows(records),
    ...(newFlowContext ? { newFlowContext } : {}),
    ...(scoreFeatureRows && scorer.flowLayout ? { scoreFeatureRows, flowLayout: scorer.flowLayout } : {}),
    scorePacket: (input) =>
      new Promise<RecordScore>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (queue.length === 1) setImmediate(run);
      }),
  };
}
