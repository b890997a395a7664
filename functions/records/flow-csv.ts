/**
 * Flow CSV: the header is FLOW_CSV_COLUMNS; a row is the record's values in that order. Numbers are written
 * in JavaScript's shortest round-trip form (`0`, `0.5`, `40816.32653061225`), which every CSV reader parses to
 * the same double; the dataset's Java text differs only in spelling (`0.0`). Values are never NaN/Infinity.
 */
import type { Writable } from 'node:stream';
import { FLOW_CSV_COLUMNS, type FlowRecord } from '../flows/flow-columns.js';

export { FLOW_CSV_COLUMNS, type FlowRecord } from '../flows/flow-columns.js';

/** RFC 4180 quoting, only when needed (our own strings never need it; this guards the contract). */
function csvText(value: string): string {
  if (value.includes(',') || value.includes('"') || value.includes('\n') || value.includes('\r')) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

export const FLOW_CSV_HEADER = `${FLOW_CSV_COLUMNS.map(csvText).join(',')}\n`;

/** One CSV line (with the trailing newline) for a flow record. */
export function flowCsvRow(record: FlowRecord): string {
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
