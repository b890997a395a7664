/**
 * The meter's FlowRecord objects (MeterFlowRecord): number columns read from a row of their own. Pins that a
 * record keeps its values while later flows are emitted, that every column reads by name
 * with its type, and the plain-object forms (toJSON, plainFlowRecord) that spread and Object.keys need.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { communityIdV1 } from '../../../functions/flows/community-id.js';
import {
  FLOW_CSV_COLUMNS,
  FLOW_STRING_COLUMNS,
  type FlowRecord,
} from '../../../functions/flows/flow-columns.js';
import { FlowContext, TimestampParser } from '../../../functions/flows/flow-context.js';
import {
  FLOW_NUMBER_COLUMNS,
  MeterFlowRecord,
  plainFlowRecord,
} from '../../../functions/flows/flow-record.js';
import { flowCsvRow, flowCsvRowGeneric } from '../../../functions/records/flow-csv.js';
import { CLIENT, runMeter, SERVER, T0, type TimedPacket, tcpPacket, udpPacket } from './flow-test-kit.js';

/** `count` one-packet UDP flows (distinct source ports), 1 ms apart, expired by the idle timeout as they go. */
function manyFlows(count: number): TimedPacket[] {
  return Array.from({ length: count }, (_, i) =>
    udpPacket(i * 1000, true, 10 + (i % 300), { srcPort: 1024 + i }),
  );
}

describe('MeterFlowRecord', () => {
  it('keeps its values while later flows are emitted', () => {
    const count = 263;
    // Flows expire one by one as the capture goes on, so each record is handed out before the next rows are
    // written. runMeter compares, at the end, every record's CSV line with the line the CSV path wrote when the
    // flow was emitted: a row overwritten later would differ.
    const run = runMeter(manyFlows(count), { idleTimeoutS: 0.0015 });
    expect(run.emittedBeforeFinish).toBeGreaterThan(256);
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

  it('makes its text columns on first read, from its own key, in any order and after later flows', () => {
    // Three flows in three different seconds; the first record's text is read last, after the others filled the
    // shared timestamp cache with other seconds.
    const run = runMeter([
      udpPacket(0, true, 10, { srcPort: 1111 }),
      udpPacket(1_500_000, false, 10, { srcPort: 2222 }),
      udpPacket(3_250_000, true, 10, { srcPort: 3333 }),
    ]);
    const [first, second, third] = run.records as [FlowRecord, FlowRecord, FlowRecord];
    expect([third.Timestamp, second.Timestamp]).toEqual([
      timestampText(T0 + 3_250_000),
      timestampText(T0 + 1_500_000),
    ]);
    expect(first.Timestamp).toBe(timestampText(T0));
    // The second flow started from the server side: Src is the server, and the Flow ID starts with it.
    expect([second['Src IP'], second['Dst IP'], second['Flow ID']]).toEqual([
      SERVER,
      CLIENT,
      `${SERVER}-${CLIENT}-2222-5353-17`,
    ]);
    expect(first['Flow ID']).toBe(`${CLIENT}-${SERVER}-1111-53-17`);
    expect(first.community_id).toBe(
      communityIdV1({
        sourceAddress: Uint8Array.of(10, 0, 0, 1),
        destinationAddress: Uint8Array.of(10, 0, 0, 2),
        ipProtocol: 17,
        sourcePort: 1111,
        destinationPort: 53,
      }),
    );
  });

  it('gives an IPv6 flow its address texts and Community ID', () => {
    const v6 = { src: '2001:db8::1', dst: '2001:db8::abcd:2' };
    const [record] = runMeter([tcpPacket(0, true, 'S', 0, v6)]).records as [FlowRecord];
    expect([record['Src IP'], record['Dst IP'], record['Flow ID']]).toEqual([
      '2001:db8::1',
      '2001:db8::abcd:2',
      '2001:db8::1-2001:db8::abcd:2-40000-80-6',
    ]);
    const address = (last: number[]): Uint8Array =>
      Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(8).fill(0), ...last);
    expect(record.community_id).toBe(
      communityIdV1({
        sourceAddress: address([0, 0, 0, 1]),
        destinationAddress: address([0xab, 0xcd, 0, 2]),
        ipProtocol: 6,
        sourcePort: 40000,
        destinationPort: 80,
      }),
    );
  });

  it('keeps a text column a consumer sets, in reads, CSV and JSON', () => {
    const [record] = runMeter([udpPacket(0, true)]).records as [FlowRecord];
    record['Src IP'] = '192.0.2.7';
    record.community_id = '1:replaced';
    expect(record['Src IP']).toBe('192.0.2.7');
    expect(flowCsvRow(record)).toContain(',192.0.2.7,');
    expect(JSON.parse(JSON.stringify(record))).toMatchObject({
      'Src IP': '192.0.2.7',
      community_id: '1:replaced',
    });
  });

  it('gives its start as a number that its Timestamp text parses back to (from 1970, exact µs)', () => {
    const parser = new TimestampParser();
    fc.assert(
      fc.property(fc.maxSafeNat(), (us) => {
        const [record] = runMeter([udpPacket(us - T0, true)]).records as [MeterFlowRecord];
        expect(record.startUs).toBe(us);
        expect(parser.parseUs(record.Timestamp)).toBe(us);
      }),
      { numRuns: 100 },
    );
    const [record] = runMeter([udpPacket(0, true)]).records as [MeterFlowRecord];
    record.Timestamp = '2020-01-01 00:00:00.000001';
    expect(record.startUs).toBeNaN();
  });

  it('gives the flow context the same features as its plain copy (numeric start, not the text)', () => {
    const packets = [0, 0.4, 1.1, 2.5, 2.6, 9].map((t, i) =>
      udpPacket(t * 1e6, i % 2 === 0, 10 + i, { srcPort: 2000 + (i % 3) }),
    );
    const records = runMeter(packets, { idleTimeoutS: 0.2 }).records;
    const fromRecords = new FlowContext();
    const fromCopies = new FlowContext();
    for (const record of records) {
      expect(fromRecords.next(record)).toEqual(fromCopies.next(plainFlowRecord(record)));
    }
  });
});

/** `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) of a time in µs, through Date (fine for the years tests use). */
function timestampText(us: number): string {
  const date = new Date(Math.floor(us / 1000));
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}.${String(us % 1_000_000).padStart(6, '0')}`;
}
