/**
 * Flow CSV: the header is FLOW_CSV_COLUMNS; a row is the record's values in that order. Numbers are written
 * in JavaScript's shortest round-trip form (`0`, `0.5`, `40816.32653061225`), which every CSV reader parses to
 * the same double; the dataset's Java text differs only in spelling (`0.0`). Values are never NaN/Infinity.
 */
import type { Writable } from 'node:stream';
import { FLOW_CSV_COLUMNS, type FlowRecord } from '../flows/flow-columns.js';

export { FLOW_CSV_COLUMNS, type FlowRecord } from '../flows/flow-columns.js';

/** RFC 4180 quoting, only when needed (our own strings never need it; this guards the contract). */
const NEEDS_QUOTES = /[",\r\n]/;

function csvText(value: string): string {
  if (NEEDS_QUOTES.test(value)) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

export const FLOW_CSV_HEADER = `${FLOW_CSV_COLUMNS.map(csvText).join(',')}\n`;

/**
 * One CSV line (with the trailing newline) for a flow record. Written out column by column (not a loop over
 * FLOW_CSV_COLUMNS) because fixed property reads are several times faster than keyed lookups, and this runs
 * once per flow; a unit test checks it against the generic form for every column.
 */
export function flowCsvRow(r: FlowRecord): string {
  return `${csvText(r['Flow ID'])},${csvText(r['Src IP'])},${r['Src Port']},${csvText(r['Dst IP'])},${r['Dst Port']},${r.Protocol},${csvText(r.Timestamp)},${r['Flow Duration']},${r['Total Fwd Packet']},${r['Total Bwd packets']},${r['Total Length of Fwd Packet']},${r['Total Length of Bwd Packet']},${r['Fwd Packet Length Max']},${r['Fwd Packet Length Min']},${r['Fwd Packet Length Mean']},${r['Fwd Packet Length Std']},${r['Bwd Packet Length Max']},${r['Bwd Packet Length Min']},${r['Bwd Packet Length Mean']},${r['Bwd Packet Length Std']},${r['Flow Bytes/s']},${r['Flow Packets/s']},${r['Flow IAT Mean']},${r['Flow IAT Std']},${r['Flow IAT Max']},${r['Flow IAT Min']},${r['Fwd IAT Total']},${r['Fwd IAT Mean']},${r['Fwd IAT Std']},${r['Fwd IAT Max']},${r['Fwd IAT Min']},${r['Bwd IAT Total']},${r['Bwd IAT Mean']},${r['Bwd IAT Std']},${r['Bwd IAT Max']},${r['Bwd IAT Min']},${r['Fwd PSH Flags']},${r['Bwd PSH Flags']},${r['Fwd URG Flags']},${r['Bwd URG Flags']},${r['Fwd RST Flags']},${r['Bwd RST Flags']},${r['Fwd Header Length']},${r['Bwd Header Length']},${r['Fwd Packets/s']},${r['Bwd Packets/s']},${r['Packet Length Min']},${r['Packet Length Max']},${r['Packet Length Mean']},${r['Packet Length Std']},${r['Packet Length Variance']},${r['FIN Flag Count']},${r['SYN Flag Count']},${r['RST Flag Count']},${r['PSH Flag Count']},${r['ACK Flag Count']},${r['URG Flag Count']},${r['CWR Flag Count']},${r['ECE Flag Count']},${r['Down/Up Ratio']},${r['Average Packet Size']},${r['Fwd Segment Size Avg']},${r['Bwd Segment Size Avg']},${r['Fwd Bytes/Bulk Avg']},${r['Fwd Packet/Bulk Avg']},${r['Fwd Bulk Rate Avg']},${r['Bwd Bytes/Bulk Avg']},${r['Bwd Packet/Bulk Avg']},${r['Bwd Bulk Rate Avg']},${r['Subflow Fwd Packets']},${r['Subflow Fwd Bytes']},${r['Subflow Bwd Packets']},${r['Subflow Bwd Bytes']},${r['FWD Init Win Bytes']},${r['Bwd Init Win Bytes']},${r['Fwd Act Data Pkts']},${r['Fwd Seg Size Min']},${r['Active Mean']},${r['Active Std']},${r['Active Max']},${r['Active Min']},${r['Idle Mean']},${r['Idle Std']},${r['Idle Max']},${r['Idle Min']},${r['ICMP Code']},${r['ICMP Type']},${r['Total TCP Flow Time']},${csvText(r.community_id)},${csvText(r.expiry_reason)},${r.ip_version},${r.vlan_id},${r.first_packet_index},${r.last_packet_index},${r.out_of_order_packets}\n`;
}

/** The generic form of `flowCsvRow` (a loop over FLOW_CSV_COLUMNS), kept as its reference. */
export function flowCsvRowGeneric(record: FlowRecord): string {
  let line = '';
  for (let i = 0; i < FLOW_CSV_COLUMNS.length; i++) {
    const value = record[FLOW_CSV_COLUMNS[i]!];
    const text = typeof value === 'number' ? String(value) : csvText(value);
    line += i === 0 ? text : `,${text}`;
  }
  return `${line}\n`;
}

/** Bytes of CSV text gathered before a write: large writes keep the per-row cost low. */
const WRITE_CHUNK_CHARS = 256 * 1024;

/**
 * Streams flow records to a writable as CSV (header first) with backpressure; resolves with the number of
 * rows written. The stream is not ended (the caller owns it).
 */
export async function writeFlowsCsv(records: AsyncIterable<FlowRecord>, out: Writable): Promise<number> {
  let rows = 0;
  let buffered = FLOW_CSV_HEADER;
  const push = async (): Promise<void> => {
    const ok = out.write(buffered);
    buffered = '';
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          out.off('error', onError);
          resolve();
        };
        const onError = (error: Error): void => {
          out.off('drain', onDrain);
          reject(error);
        };
        out.once('drain', onDrain);
        out.once('error', onError);
      });
    }
  };
  for await (const record of records) {
    buffered += flowCsvRow(record);
    rows++;
    if (buffered.length >= WRITE_CHUNK_CHARS) await push();
  }
  if (buffered.length > 0) await push();
  return rows;
}
