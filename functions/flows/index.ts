/** Flow engine: public API. */
export { type CommunityIdInput, communityIdV1 } from './community-id.js';
export { CsvRowBuffer } from './csv-row-buffer.js';
export {
  type CaptureSource,
  type ExtractFlowsOptions,
  extractFlows,
  type FlowExtractionSummary,
} from './extract-flows.js';
export {
  CCF_FLOW_COLUMNS,
  CIC_FLOW_COLUMNS,
  EXPIRY_REASONS,
  type ExpiryReason,
  FEATURE_SETS,
  type FeatureSet,
  FLOW_CSV_COLUMNS,
  type FlowColumn,
  type FlowRecord,
} from './flow-columns.js';
export {
  FlowMeter,
  type FlowRunSummary,
  type FlowSink,
  UNASSIGNED_REASONS,
  type UnassignedReason,
} from './flow-meter.js';
export {
  DEFAULT_ACTIVITY_TIMEOUT_S,
  DEFAULT_FLOW_TIMEOUT_S,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_OPEN_FLOWS,
  type FlowMeterOptions,
  flowMeterOptionsSchema,
  resolveFlowMeterOptions,
} from './flow-options.js';
export { MeterFlowRecord, plainFlowRecord } from './flow-record.js';
