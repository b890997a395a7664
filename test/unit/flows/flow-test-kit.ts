/**
 * Helpers for the flow golden tests: build real Ethernet frames with the shared frame builder, decode them
 * with the real decoder, feed the meter, and collect the records. Expected values are computed in each test
 * from the definitions (docs/flow-features.md) with the plain reference statistics below.
 */
import { decodeFrame } from '../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../functions/capture/decoded-packet.js';
import { CsvRowBuffer } from '../../../functions/flows/csv-row-buffer.js';
import type { FlowRecord } from '../../../functions/flows/flow-columns.js';
import { FlowMeter, type FlowRunSummary } from '../../../functions/flows/flow-meter.js';
import type { FlowMeterOptions } from '../../../functions/flows/flow-options.js';
import { flowCsvRow } from '../../../functions/records/flow-csv.js';
import { type PacketSpec, packet, toRawFrame } from '../../support/frame-builder.js';

/** A realistic epoch start (2017-07-07 18:08:57.763666 UTC, a dataset timestamp), in µs. */
export const T0 = 1_499_450_937_763_666;

export interface TimedPacket {
  /** Microseconds after T0. */
  at: number;
  spec: PacketSpec;
  /** Raw frame bytes instead of `spec` (for non-IP frames). */
  bytes?: Uint8Array;
}

export interface MeterRun {
  records: FlowRecord[];
  summary: FlowRunSummary;
  /** How many records had been emitted before `finish()` (streaming). */
  emittedBeforeFinish: number;
}

/**
 * Runs the packets through two meters: one emitting FlowRecords, one emitting CSV lines straight from its
 * state (the `ccf flows` fast path). Every golden test thereby also pins the CSV path: each line must equal
 * `flowCsvRow` of the matching record, or the run throws.
 */
export function runMeter(packets: readonly TimedPacket[], options: FlowMeterOptions = {}): MeterRun {
  const records: FlowRecord[] = [];
  const rows: string[] = [];
  const meter = new FlowMeter(options, (record) => records.push(record));
  const csvMeter = new FlowMeter(
    options,
    () => {
      throw new Error('a meter with a CSV output must not build records');
    },
    // A 1-byte chunk: every row is handed on by itself.
    new CsvRowBuffer((row) => rows.push(row), 1),
  );
  const decoded = new DecodedPacket();
  packets.forEach((p, i) => {
    const frame = toRawFrame(p.bytes ?? packet(p.spec), { index: i + 1, tsUs: T0 + p.at });
    decodeFrame(frame, decoded);
    meter.add(frame, decoded);
    csvMeter.add(frame, decoded);
  });
  const emittedBeforeFinish = records.length;
  const summary = meter.finish();
  csvMeter.finish();
  const expectedRows = records.map(flowCsvRow);
  if (rows.length !== expectedRows.length || rows.some((row, i) => row !== expectedRows[i])) {
    throw new Error(
      `CSV fast path differs from flowCsvRow(record):\n${rows.join('')}\nexpected:\n${expectedRows.join('')}`,
    );
  }
  return { records, summary, emittedBeforeFinish };
}

export function only(run: MeterRun): FlowRecord {
  if (run.records.length !== 1) throw new Error(`expected one flow, got ${run.records.length}`);
  return run.records[0]!;
}

export const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
export const mean = (values: readonly number[]): number =>
  values.length === 0 ? 0 : sum(values) / values.length;
/** Sample variance (n−1), 0 for fewer than two values: Commons Math SummaryStatistics. */
export function variance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return sum(values.map((v) => (v - m) ** 2)) / (values.length - 1);
}
export const std = (values: readonly number[]): number => Math.sqrt(variance(values));
export const gaps = (times: readonly number[]): number[] => times.slice(1).map((t, i) => t - times[i]!);

/** Checks a statistics family (Mean/Std/Max/Min columns with a common prefix) against reference values. */
export function expectStats(
  record: FlowRecord,
  columns: { mean: keyof FlowRecord; std: keyof FlowRecord; max: keyof FlowRecord; min: keyof FlowRecord },
  values: readonly number[],
  check: (actual: unknown, expected: number, label: string) => void,
): void {
  check(record[columns.mean], mean(values), String(columns.mean));
  check(record[columns.std], std(values), String(columns.std));
  check(record[columns.max], values.length === 0 ? 0 : Math.max(...values), String(columns.max));
  check(record[columns.min], values.length === 0 ? 0 : Math.min(...values), String(columns.min));
}

export const CLIENT = '10.0.0.1';
export const SERVER = '10.0.0.2';

/** A TCP packet client→server (`up`) or server→client. */
export function tcpPacket(
  at: number,
  up: boolean,
  flags: string,
  payload = 0,
  extra: Partial<PacketSpec> = {},
): TimedPacket {
  return {
    at,
    spec: {
      src: up ? CLIENT : SERVER,
      dst: up ? SERVER : CLIENT,
      protocol: 'tcp',
      srcPort: up ? 40000 : 80,
      dstPort: up ? 80 : 40000,
      flags,
      payload,
      ...extra,
    },
  };
}

export function udpPacket(
  at: number,
  up: boolean,
  payload = 10,
  extra: Partial<PacketSpec> = {},
): TimedPacket {
  return {
    at,
    spec: {
      src: up ? CLIENT : SERVER,
      dst: up ? SERVER : CLIENT,
      protocol: 'udp',
      srcPort: up ? 5353 : 53,
      dstPort: up ? 53 : 5353,
      payload,
      ...extra,
    },
  };
}
