/**
 * The flow CSV schema: the fixed-CICFlowMeter header (CICIDS2017_improved, `data_header_reference.csv`
 * without `id`, `Label`, `Attempted Category`) in its exact order and spelling, then CCF-Catcher's own columns.
 * Models read features by these names, so they are spelled exactly as the dataset spells them
 * (including `Total Bwd packets`, `FWD Init Win Bytes`).
 */

export const CIC_FLOW_COLUMNS = [
  'Flow ID',
  'Src IP',
  'Src Port',
  'Dst IP',
  'Dst Port',
  'Protocol',
  'Timestamp',
  'Flow Duration',
  'Total Fwd Packet',
  'Total Bwd packets',
  'Total Length of Fwd Packet',
  'Total Length of Bwd Packet',
  'Fwd Packet Length Max',
  'Fwd Packet Length Min',
  'Fwd Packet Length Mean',
  'Fwd Packet Length Std',
  'Bwd Packet Length Max',
  'Bwd Packet Length Min',
  'Bwd Packet Length Mean',
  'Bwd Packet Length Std',
  'Flow Bytes/s',
  'Flow Packets/s',
  'Flow IAT Mean',
  'Flow IAT Std',
  'Flow IAT Max',
  'Flow IAT Min',
  'Fwd IAT Total',
  'Fwd IAT Mean',
  'Fwd IAT Std',
  'Fwd IAT Max',
  'Fwd IAT Min',
  'Bwd IAT Total',
  'Bwd IAT Mean',
  'Bwd IAT Std',
  'Bwd IAT Max',
  'Bwd IAT Min',
  'Fwd PSH Flags',
  'Bwd PSH Flags',
  'Fwd URG Flags',
  'Bwd URG Flags',
  'Fwd RST Flags',
  'Bwd RST Flags',
  'Fwd Header Length',
  'Bwd Header Length',
  'Fwd Packets/s',
  'Bwd Packets/s',
  'Packet Length Min',
  'Packet Length Max',
  'Packet Length Mean',
  'Packet Length Std',
  'Packet Length Variance',
  'FIN Flag Count',
  'SYN Flag Count',
  'RST Flag Count',
  'PSH Flag Count',
  'ACK Flag Count',
  'URG Flag Count',
  'CWR Flag Count',
  'ECE Flag Count',
  'Down/Up Ratio',
  'Average Packet Size',
  'Fwd Segment Size Avg',
  'Bwd Segment Size Avg',
  'Fwd Bytes/Bulk Avg',
  'Fwd Packet/Bulk Avg',
  'Fwd Bulk Rate Avg',
  'Bwd Bytes/Bulk Avg',
  'Bwd Packet/Bulk Avg',
  'Bwd Bulk Rate Avg',
  'Subflow Fwd Packets',
  'Subflow Fwd Bytes',
  'Subflow Bwd Packets',
  'Subflow Bwd Bytes',
  'FWD Init Win Bytes',
  'Bwd Init Win Bytes',
  'Fwd Act Data Pkts',
  'Fwd Seg Size Min',
  'Active Mean',
  'Active Std',
  'Active Max',
  'Active Min',
  'Idle Mean',
  'Idle Std',
  'Idle Max',
  'Idle Min',
  'ICMP Code',
  'ICMP Type',
  'Total TCP Flow Time',
] as const;

/** Columns CCF-Catcher adds after the CIC ones. */
export const CCF_FLOW_COLUMNS = [
  'community_id',
  'expiry_reason',
  'ip_version',
  'vlan_id',
  'first_packet_index',
  'last_packet_index',
  'out_of_order_packets',
] as const;

export const FLOW_CSV_COLUMNS = [...CIC_FLOW_COLUMNS, ...CCF_FLOW_COLUMNS] as const;

export type FlowColumn = (typeof FLOW_CSV_COLUMNS)[number];

/** The columns whose values are strings; every other column is a finite number. */
export const FLOW_STRING_COLUMNS = [
  'Flow ID',
  'Src IP',
  'Dst IP',
  'Timestamp',
  'community_id',
  'expiry_reason',
] as const satisfies readonly FlowColumn[];

type StringColumn = (typeof FLOW_STRING_COLUMNS)[number];

/** Why a flow was emitted. `fin`/`rst`: the TCP connection had ended (see docs/flow-features.md). */
export const EXPIRY_REASONS = [
  'fin',
  'rst',
  'active_timeout',
  'idle_timeout',
  'end_of_capture',
  'evicted',
  'icmp_change',
] as const;
export type ExpiryReason = (typeof EXPIRY_REASONS)[number];

/** The number columns of a flow record. */
export type FlowRecordNumbers = { [K in Exclude<FlowColumn, StringColumn>]: number };

/**
 * One flow, keyed by the CSV column names. Numbers are always finite (never NaN/Infinity);
 * see docs/flow-features.md for each column's definition in both feature sets.
 */
export type FlowRecord = FlowRecordNumbers & {
  [K in Exclude<StringColumn, 'expiry_reason'>]: string;
} & { expiry_reason: ExpiryReason };

export const FEATURE_SETS = ['cic-fork', 'corrected'] as const;
export type FeatureSet = (typeof FEATURE_SETS)[number];
