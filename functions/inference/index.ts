/** Models and inference: manifest, feature rows, onnxruntime scorer, verdict combiner. */
export {
  BENIGN_LABEL,
  type CombinationPolicy,
  combineVerdict,
  type FlowVerdict,
} from './combine-verdict.js';
export {
  compileRowWriter,
  type FeatureLayout,
  FLOAT32_MAX,
  featureRow,
  fillRows,
  missingFeatures,
  modelNumber,
  type RowWriter,
  type ScorableRecord,
  type ScorableValue,
} from './feature-vector.js';
export {
  type FlowContextSpec,
  flowContextSchema,
  loadManifest,
  MANIFEST_FILE,
  type ModelEntry,
  type ModelManifest,
  manifestSchema,
  readModelFile,
  requireModel,
} from './manifest.js';
export { defaultModelsDir } from './models-dir.js';
export {
  DEFAULT_BATCH_SIZE,
  FLOW_ANOMALY,
  FLOW_CLASSIFIER,
  FLOW_CLASSIFIER_LONE,
  type FlowScore,
  hasFlowContext,
  type LoadScorerOptions,
  loadScorer,
  PACKET_CLASSIFIER,
  type PacketRecord,
  type PacketScore,
  type Scorer,
} from './scorer.js';
