import type { InferenceSession } from 'onnxruntime-node';
import { FLOW_CONTEXT_COLUMNS, FlowContext } from '../flows/flow-context.js';
import { ModelError } from '../platform/errors.js';
import type { Verdict } from '../records/prediction.js';
import { type CombinationPolicy, combineVerdict, type FlowVerdict } from './combine-verdict.js';
import {
  compileRowWriter,
  type FeatureLayout,
  type RowWriter,
  type ScorableRecord,
} from './feature-vector.js';
import {
  loadManifest,
  type ModelEntry,
  type ModelManifest,
  readModelFile,
  requireModel,
} from './manifest.js';

export const FLOW_CLASSIFIER = 'flow-classifier';
export const FLOW_ANOMALY = 'flow-anomaly';
/** Scores flows that come without their capture (no context columns): POST /api/predict, `ccf predict`. */
export const FLOW_CLASSIFIER_LONE = 'flow-classifier-lone';
/** The context column whose presence (a number ≥ 0) says a record was scored with its capture. */
const CONTEXT_MARKER = 'ctx_pair_flows';

/** Whether `record` carries its capture's context (else it is a lone flow). */
export function hasFlowContext(record: ScorableRecord): boolean {
  const value = record[CONTEXT_MARKER];
  if (typeof value === 'number') return value >= 0;
  if (typeof value === 'string') return value.trim() !== '' && Number(value) >= 0;
  return false;
}
export const PACKET_CLASSIFIER = 'packet-classifier';

/** Rows per ONNX call: bounds the input buffer (83 features × 4 bytes × 8192 ≈ 2.7 MB). */
export const DEFAULT_BATCH_SIZE = 8192;

export interface LoadScorerOptions {
  /** Folder holding manifest.json and the .onnx files. */
  modelsDir: string;
  /** onnxruntime intra-op threads per session (default 1: the CLI and Lambdas score on one core). */
  intraOpThreads?: number;
  batchSize?: number;
}

/** The original single-packet contract plus the optional header fields the packet model also reads. */
export interface PacketRecord {
  len: number;
  source_port: number;
  dest_port: number;
  protocol?: number;
  ttl?: number;
  tcp_flags?: number;
  tcp_window?: number;
}

export interface PacketScore {
  label: 'benign' | 'malicious';
  probability: number;
  anomaly_score: null;
  verdict: Verdict;
  decided_by: string;
  model_version: string;
}

export type FlowScore = FlowVerdict;

export interface Scorer {
  readonly manifest: ModelManifest;
  /** The bundle version stamped on every verdict (`<bundle>+<digest of the model files>`). */
  readonly modelVersion: string;
  /** Features each flow record must carry (union of the flow models' inputs), in classifier order. */
  readonly flowFeatures: readonly string[];
  /**
   * Combined verdict per flow record, in order. Throws FeatureSchemaError naming missing columns. Records that
   * carry the context columns (see `newFlowContext`) are scored with them; records without them are scored as
   * lone flows (context absent), as POST /api/predict does.
   */
  scoreFlows(records: readonly ScorableRecord[]): Promise<FlowScore[]>;
  /** The classifier's input layout: the column order, required names and absent value of `scoreFeatureRows`' rows. */
  readonly flowLayout: FeatureLayout;
  /**
   * Lower-level `scoreFlows` for flows that carry their capture's context: `rows` holds `count` model rows in
   * `flowLayout.features` order, already under the numeric policy of `fillRows` (finite, clamped to
   * ±FLOAT32_MAX; float32 rounding is the array's own). Spares a per-flow object when the caller reads
   * features from text (score-flows reads ~90k flows per capture). Same verdicts as `scoreFlows` on the
   * equivalent records; a row whose context marker is absent (< 0) is refused, as it would need the lone model.
   */
  scoreFeatureRows(rows: Float32Array, count: number): Promise<FlowScore[]>;
  /**
   * A fresh context accumulator for ONE capture, configured as in training (manifest `flow_context`). Feed it every
   * flow of the capture in the flow engine's emission order — `context.annotate(record)` adds the context columns
   * in place — and score the annotated records with `scoreFlows` (in batches, as they come).
   */
  newFlowContext(): FlowContext;
  /** Malicious probability of a single packet from its header fields. */
  scorePacket(record: PacketRecord | ScorableRecord): Promise<PacketScore>;
  /** Packet probabilities in batch (same order). */
  scorePackets(records: readonly ScorableRecord[]): Promise<PacketScore[]>;
  /** Releases the onnxruntime sessions. */
  close(): Promise<void>;
}

interface LoadedModel {
  entry: ModelEntry;
  session: InferenceSession;
  /** onnxruntime's Tensor class, kept with the session because the runtime is loaded lazily. */
  Tensor: OnnxRuntime['Tensor'];
  layout: FeatureLayout;
  /** Input rows by feature name, compiled once for this model's layout. */
  write: RowWriter;
  output: string;
}

/**
 * Per-class thresholds of the manifest as an array in class order. Every class but benign needs one: a class the
 * classifier can predict without a threshold would be a silent "never flag" or "always flag".
 */
function classThresholdArray(
  model: string,
  classes: readonly string[],
  thresholds: Readonly<Record<string, number>>,
): number[] {
  const missing = classes.filter((c) => c !== 'benign' && thresholds[c] === undefined);
  if (missing.length > 0) {
    throw new ModelError(`Model ${model} has no threshold for classes: ${missing.join(', ')}`, {
      model,
      missing,
    });
  }
  return classes.map((c) => (c === 'benign' ? Number.POSITIVE_INFINITY : (thresholds[c] as number)));
}

function layoutOf(entry: ModelEntry): FeatureLayout {
  return {
    features: entry.input.features,
    required: new Set(entry.required_features),
    absentValue: entry.absent_value ?? 0,
    model: entry.name,
  };
}

async function openModel(
  modelsDir: string,
  entry: ModelEntry,
  output: string,
  threads: number,
): Promise<LoadedModel> {
  if (!(output in entry.outputs)) {
    throw new ModelError(`Model ${entry.name} has no output ${output}`, { model: entry.name });
  }
  const bytes = await readModelFile(modelsDir, entry);
  const ort = await loadOnnxRuntime();
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
  } catch (error) {
    throw new ModelError(
      `Model ${entry.name} could not be loaded by onnxruntime`,
      { model: entry.name },
      { cause: error },
    );
  }
  if (!session.inputNames.includes(entry.input.name) || !session.outputNames.includes(output)) {
    throw new ModelError(`Model ${entry.name}: graph inputs/outputs do not match the manifest`, {
      model: entry.name,
    });
  }
  const layout = layoutOf(entry);
  return { entry, session, layout, write: compileRowWriter(layout), output, Tensor: ort.Tensor };
}

type OnnxRuntime = typeof import('onnxruntime-node');
let onnxRuntime: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node is loaded on first use, not at import: every `ccf` command and every Lambda that merely
 * imports this module (without the layer that ships onnxruntime) must not pay for, or fail on, the native addon.
 */
function loadOnnxRuntime(): Promise<OnnxRuntime> {
  onnxRuntime ??= import('onnxruntime-node').catch((error: unknown) => {
    onnxRuntime = undefined;
    throw new ModelError(
      'onnxruntime-node could not be loaded (is the onnxruntime layer attached?)',
      {},
      { cause: error },
    );
  });
  return onnxRuntime;
}

async function runModel(model: LoadedModel, input: Float32Array, rows: number): Promise<Float32Array> {
  const width = model.layout.features.length;
  const tensor = new model.Tensor('float32', input.subarray(0, rows * width), [rows, width]);
  const result = await model.session.run({ [model.entry.input.name]: tensor }, [model.output]);
  const out = result[model.output];
  if (!out || !(out.data instanceof Float32Array)) {
    throw new ModelError(`Model ${model.entry.name} returned no float32 ${model.output}`, {
      model: model.entry.name,
    });
  }
  return out.data;
}

/**
 * Loads the manifest, checks every model file's sha256, and opens one InferenceSession per model, once.
 * Reuse the returned Scorer for the life of the process (CLI run, Lambda container).
 */
export async function loadScorer(options: LoadScorerOptions): Promise<Scorer> {
  const { modelsDir } = options;
  const threads = options.intraOpThreads ?? 1;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const manifest = await loadManifest(modelsDir);
  const contextSpec = manifest.flow_context;
  if (
    contextSpec &&
    (contextSpec.columns.length !== FLOW_CONTEXT_COLUMNS.length ||
      contextSpec.columns.some((c, i) => c !== FLOW_CONTEXT_COLUMNS[i]))
  ) {
    // The models were trained on context columns this code does not compute (or computes in another order).
    // The usual way to get here in a checkout: models/ updated by a pull, dist/ (what `npx ccf` runs) not rebuilt.
    throw new ModelError(
      `Model bundle flow_context columns differ from functions/flows/flow-context.ts: the models in ${modelsDir} ` +
        'were trained with other context columns. After updating the repository, run `npm install` (or ' +
        '`npm run build`) so the compiled code matches the models.',
      {
        model: FLOW_CLASSIFIER,
        expected: FLOW_CONTEXT_COLUMNS.join(','),
        actual: contextSpec.columns.join(','),
      },
    );
  }
  const classifierEntry = requireModel(manifest, FLOW_CLASSIFIER);
  const anomalyEntry = requireModel(manifest, FLOW_ANOMALY);
  const packetEntry = requireModel(manifest, PACKET_CLASSIFIER);
  const loneEntry = manifest.models.find((m) => m.name === FLOW_CLASSIFIER_LONE);
  const [classifier, anomaly, packet, lone] = await Promise.all([
    openModel(modelsDir, classifierEntry, 'probabilities', threads),
    openModel(modelsDir, anomalyEntry, 'anomaly_score', threads),
    openModel(modelsDir, packetEntry, 'probabilities', threads),
    loneEntry ? openModel(modelsDir, loneEntry, 'probabilities', threads) : undefined,
  ]);
  const classes = classifierEntry.classes;
  const packetClasses = packetEntry.classes;
  if (!classes?.includes('benign')) {
    throw new ModelError(`Model ${FLOW_CLASSIFIER} must list its classes including benign`, {
      model: FLOW_CLASSIFIER,
    });
  }
  if (!packetClasses || packetClasses.indexOf('malicious') < 0) {
    throw new ModelError(`Model ${PACKET_CLASSIFIER} must list a malicious class`, {
      model: PACKET_CLASSIFIER,
    });
  }
  const sameInputs =
    anomaly.layout.features.length === classifier.layout.features.length &&
    anomaly.layout.features.every((f, i) => f === classifier.layout.features[i]);
  const policy: CombinationPolicy = {
    classes,
    benignIndex: classes.indexOf('benign'),
    classThresholds: classThresholdArray(
      FLOW_CLASSIFIER,
      classes,
      manifest.combination_policy.classifier_thresholds,
    ),
    anomalyThreshold: manifest.combination_policy.anomaly_threshold,
    classifierName: FLOW_CLASSIFIER,
    anomalyName: FLOW_ANOMALY,
    modelVersion: manifest.model_version,
  };
  const loneThresholds = manifest.combination_policy.lone_classifier_thresholds;
  if (
    lone &&
    (loneThresholds === undefined ||
      lone.entry.classes?.length !== classes.length ||
      lone.entry.classes.some((c, i) => c !== classes[i]))
  ) {
    throw new ModelError(
      `Model ${FLOW_CLASSIFIER_LONE} needs the classifier's classes and combination_policy.lone_classifier_thresholds`,
      { model: FLOW_CLASSIFIER_LONE },
    );
  }
  // A lone flow has no context, so no anomaly evidence: only its classifier can flag it.
  const lonePolicy: CombinationPolicy = {
    ...policy,
    classThresholds: loneThresholds
      ? classThresholdArray(FLOW_CLASSIFIER_LONE, classes, loneThresholds)
      : policy.classThresholds,
    anomalyThreshold: Number.POSITIVE_INFINITY,
    classifierName: FLOW_CLASSIFIER_LONE,
  };
  const loneBuffer = lone ? new Float32Array(batchSize * lone.layout.features.length) : undefined;
  const packetThreshold = packetEntry.thresholds.malicious_probability;
  if (packetThreshold === undefined) {
    throw new ModelError(`Model ${PACKET_CLASSIFIER} has no malicious_probability threshold`, {
      model: PACKET_CLASSIFIER,
    });
  }
  const maliciousColumn = packetClasses.indexOf('malicious');
  const flowWidth = classifier.layout.features.length;
  const flowBuffer = new Float32Array(batchSize * flowWidth);
  const anomalyBuffer = sameInputs
    ? flowBuffer
    : new Float32Array(batchSize * anomaly.layout.features.length);
  const packetWidth = packet.layout.features.length;
  const packetBuffer = new Float32Array(batchSize * packetWidth);
  // The buffers are shared between calls: serialise batches so one call never overwrites another's input.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  };

  /** Records [from, to) that all carry context: classifier + anomaly detector. */
  async function scoreWithContext(
    records: readonly ScorableRecord[],
    from: number,
    to: number,
  ): Promise<FlowScore[]> {
    const rows = to - from;
    classifier.write(records, from, to, flowBuffer);
    if (!sameInputs) anomaly.write(records, from, to, anomalyBuffer);
    const [probabilities, scores] = await Promise.all([
      runModel(classifier, flowBuffer, rows),
      runModel(anomaly, anomalyBuffer, rows),
    ]);
    const out: FlowScore[] = new Array(rows);
    for (let i = 0; i < rows; i++) out[i] = combineVerdict(probabilities, i, scores[i] as number, policy);
    return out;
  }

  // The anomaly detector's columns within a classifier row (undefined when its inputs are not a subset).
  const anomalyColumns = sameInputs
    ? undefined
    : anomaly.layout.features.map((name) => classifier.layout.features.indexOf(name));
  const markerColumn = classifier.layout.features.indexOf(CONTEXT_MARKER);

  async function scoreRows(rows: Float32Array, count: number): Promise<FlowScore[]> {
    if (rows.length < count * flowWidth)
      throw new ModelError('Feature rows buffer is shorter than its row count', { model: FLOW_CLASSIFIER });
    if (markerColumn >= 0) {
      for (let r = 0; r < count; r++) {
        if (!((rows[r * flowWidth + markerColumn] as number) >= 0))
          throw new ModelError('A feature row lacks its flow context', { model: FLOW_CLASSIFIER, row: r });
      }
    }
    let anomalyInput = rows;
    if (anomalyColumns) {
      if (anomalyColumns.some((c) => c < 0))
        throw new ModelError(`Model ${FLOW_ANOMALY} reads columns the classifier does not`, {
          model: FLOW_ANOMALY,
        });
      // A fresh buffer per call: the shipped bundle never takes this branch (both models read the same columns).
      const width = anomalyColumns.length;
      anomalyInput = new Float32Array(count * width);
      for (let r = 0; r < count; r++)
        for (let j = 0; j < width; j++)
          anomalyInput[r * width + j] = rows[r * flowWidth + (anomalyColumns[j] as number)] as number;
    }
    const [probabilities, scores] = await Promise.all([
      runModel(classifier, rows, count),
      runModel(anomaly, anomalyInput, count),
    ]);
    const out: FlowScore[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = combineVerdict(probabilities, i, scores[i] as number, policy);
    return out;
  }

  /** Records [from, to) without context: the lone-flow classifier, anomaly score 0. */
  async function scoreLone(
    records: readonly ScorableRecord[],
    from: number,
    to: number,
  ): Promise<FlowScore[]> {
    const model = lone as LoadedModel;
    const buffer = loneBuffer as Float32Array;
    const rows = to - from;
    model.write(records, from, to, buffer);
    const probabilities = await runModel(model, buffer, rows);
    const out: FlowScore[] = new Array(rows);
    for (let i = 0; i < rows; i++) out[i] = combineVerdict(probabilities, i, 0, lonePolicy);
    return out;
  }

  async function scoreFlowBatch(
    records: readonly ScorableRecord[],
    from: number,
    to: number,
    out: FlowScore[],
  ) {
    if (!lone) {
      for (const score of await scoreWithContext(records, from, to)) out.push(score);
      return;
    }
    // A capture's flows all carry context and one POST carries none: split only when a batch mixes them.
    let lones = 0;
    for (let r = from; r < to; r++) if (!hasFlowContext(records[r] as ScorableRecord)) lones++;
    if (lones === 0 || lones === to - from) {
      const scores =
        lones === 0 ? await scoreWithContext(records, from, to) : await scoreLone(records, from, to);
      for (const score of scores) out.push(score);
      return;
    }
    const withContext: ScorableRecord[] = [];
    const without: ScorableRecord[] = [];
    const isContext: boolean[] = [];
    for (let r = from; r < to; r++) {
      const record = records[r] as ScorableRecord;
      const has = hasFlowContext(record);
      isContext.push(has);
      (has ? withContext : without).push(record);
    }
    const a = await scoreWithContext(withContext, 0, withContext.length);
    const b = await scoreLone(without, 0, without.length);
    let i = 0;
    let j = 0;
    for (const has of isContext) out.push((has ? a[i++] : b[j++]) as FlowScore);
  }

  async function scorePacketBatch(
    records: readonly ScorableRecord[],
    from: number,
    to: number,
    out: PacketScore[],
  ) {
    const rows = to - from;
    packet.write(records, from, to, packetBuffer);
    const probabilities = await runModel(packet, packetBuffer, rows);
    const width = packetClasses?.length ?? 2;
    for (let i = 0; i < rows; i++) {
      const p = probabilities[i * width + maliciousColumn] as number;
      const malicious = p >= (packetThreshold as number);
      out.push({
        label: malicious ? 'malicious' : 'benign',
        probability: p,
        anomaly_score: null,
        verdict: malicious ? 'malicious' : 'benign',
        decided_by: PACKET_CLASSIFIER,
        model_version: manifest.model_version,
      });
    }
  }

  const scorer: Scorer = {
    manifest,
    modelVersion: manifest.model_version,
    flowFeatures: classifier.layout.features,
    flowLayout: classifier.layout,
    scoreFeatureRows(rows, count) {
      return exclusive(() => (count === 0 ? Promise.resolve([]) : scoreRows(rows, count)));
    },
    scoreFlows(records) {
      return exclusive(async () => {
        const out: FlowScore[] = [];
        for (let from = 0; from < records.length; from += batchSize) {
          await scoreFlowBatch(records, from, Math.min(records.length, from + batchSize), out);
        }
        return out;
      });
    },
    newFlowContext() {
      return new FlowContext(contextSpec ? { windowS: contextSpec.window_s } : {});
    },
    async scorePacket(record) {
      const [score] = await scorer.scorePackets([record as ScorableRecord]);
      if (!score) throw new ModelError('packet model returned no score', { model: PACKET_CLASSIFIER });
      return score;
    },
    scorePackets(records) {
      return exclusive(async () => {
        const out: PacketScore[] = [];
        for (let from = 0; from < records.length; from += batchSize) {
          await scorePacketBatch(records, from, Math.min(records.length, from + batchSize), out);
        }
        return out;
      });
    },
    async close() {
      await Promise.all([
        classifier.session.release(),
        anomaly.session.release(),
        packet.session.release(),
        lone?.session.release(),
      ]);
    },
  };
  return scorer;
}
