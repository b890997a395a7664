/**
 * The meter's FlowRecord objects (MeterFlowRecord): number columns read from shared row blocks. Pins that a
 * record keeps its values while later flows fill the same and newer blocks, that every column reads by name
 * with its type, and the plain-object forms (toJSON, plainFlowRecord) that spread and Object.keys need.
 */
import { describe, expect, it } from 'vitest';
import { FLOW_CSV_COLUMNS, FLOW_STRING_COLUMNS } from '../../../functions/flows/flow-columns.js';
import {
  FLOW_NUMBER_COLUMNS,
  MeterFlowRecord,
  plainFlowRecord,
  ROWS_PER_BLOCK,
} from '../../../functions/flows/flow-record.js';
import { flowCsvRow, flowCsvRowGeneric } from '../../../functions/records/flow-csv.js';
import { runMeter, type TimedPacket, udpPacket } from './flow-test-kit.js';

/** `count` one-packet UDP flows (distinct source ports), 1 ms apart, expired by the idle timeout as they go. */
function manyFlows(count: number): TimedPacket[] {
  return Array.from({ length: count }, (_, i) =>
    udpPacket(i * 1000, true, 10 + (i % 300), { srcPort: 1024 + i }),
  );
}

describe('MeterFlowRecord', () => {
  it('keeps its values while later flows fill its block and newer ones', () => {
    const count = ROWS_PER_BLOCK * 2 + 7;
    // Flows expire one by one as the capture goes on, so each record is handed out before the next rows are
    // written. runMeter compares, at the end, every record's CSV line with the line the CSV path wrote when the
    // flow was emitted: a row overwritten later would differ.
    const run = runMeter(manyFlows(count), { idleTimeoutS: 0.0015 });
    expect(run.emittedBeforeFinish).toBeGreaterThan(ROWS_PER_BLOCK * 2);
    for (const record of run.records) expect(record).toBeInstanceOf(MeterFlowRecord);
    expect(run.records.map((r) => r['Src Port'])).toEqual(Array.from({ length: count }, (_, i) => 1024 + i));
    expect(run.records.map((r) => r['Total Length of Fwd Packet'])).toEqual(
      Array.from({ length: count }, (_, i) => 10 + (i % 300)),
    );
  });

  it('reads every column by name with its type', () => {
    const [record] = runMeter([udpPacket(0, true), udpPacket(10, false, 20)]).records;
    const strings = new Set<string>(FLOW_STRING_COLUMNS);
    for (const column of FLOW_CSV_COLUMNS) {
      expect(typeof record![column], column).toBe(strings.has(column) ? 'string' : 'number');
    }
    expect(FLOW_NUMBER_COLUMNS).toHaveLength(FLOW_CSV_COLUMNS.length - FLOW_STRING_COLUMNS.length);
    expect(flowCsvRow(record!)).toBe(flowCsvRowGeneric(record!));
    expect([record!['Total Fwd Packet'], record!['Total Bwd packets'], record!['Flow Duration']]).toEqual([
      1, 1, 10,
    ]);
  });

  it('gives a plain object with every column in order, then the columns a consumer added', () => {
    const [record] = runMeter([udpPacket(0, true)]).records;
    Object.assign(record!, { ctx_example: 3 });
    const plain = plainFlowRecord(record!);
    expect(Object.keys(plain)).toEqual([...FLOW_CSV_COLUMNS, 'ctx_example']);
    for (const column of FLOW_CSV_COLUMNS) expect(plain[column], column).toBe(record![column]);
    expect(JSON.parse(JSON.stringify(record))).toEqual(plain);
    // A plain record passes through as a copy.
    const copy = plainFlowRecord(plain);
    expect(copy).toEqual(plain);
    expect(copy).not.toBe(plain);
  });

  it('writes a number column into its own row only', () => {
    const records = runMeter([udpPacket(0, true), udpPacket(5, true, 10, { srcPort: 999 })]).records;
    const [a, b] = records;
    const before = b!['Src Port'];
    a!['Flow Duration'] = 1234.5;
    expect(a!['Flow Duration']).toBe(1234.5);
    expect(b!['Flow Duration']).toBe(0);
    expect(b!['Src Port']).toBe(before);
  });
});
