import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { extractFlows, type FlowExtractionSummary } from '../../../functions/flows/extract-flows.js';
import { FLOW_CSV_COLUMNS, type FlowRecord } from '../../../functions/flows/flow-columns.js';
import { plainFlowRecord } from '../../../functions/flows/flow-record.js';
import { NotACaptureError, PcapFormatError } from '../../../functions/platform/errors.js';
import {
  FLOW_CSV_HEADER,
  flowCsvRow,
  flowCsvRowGeneric,
  writeFlowsCsv,
} from '../../../functions/records/flow-csv.js';
import { buildPcap, chunksOf } from '../../support/capture-files.js';
import { packet } from '../../support/frame-builder.js';
import { only, runMeter, T0, type TimedPacket, tcpPacket, udpPacket } from './flow-test-kit.js';

function capture(packets: readonly TimedPacket[]): Uint8Array {
  return buildPcap({ packets: packets.map((p) => ({ tsUs: T0 + p.at, data: packet(p.spec) })) });
}

/** Many short UDP flows, each one packet, spread over time so the idle timeout emits them while reading. */
function manyFlows(count: number): TimedPacket[] {
  return Array.from({ length: count }, (_, i) => {
    const p = udpPacket(i * 1_000_000, true, 20);
    return { ...p, spec: { ...p.spec, srcPort: 1000 + i } };
  });
}

async function collect(iterable: AsyncIterable<FlowRecord>): Promise<FlowRecord[]> {
  const records: FlowRecord[] = [];
  for await (const record of iterable) records.push(record);
  return records;
}

describe('extractFlows', () => {
  it('yields the flows of a capture in memory, then reports the summary', async () => {
    let summary: FlowExtractionSummary | undefined;
    const data = capture([
      tcpPacket(0, true, 'S'),
      tcpPacket(10, false, 'SA'),
      tcpPacket(20, true, 'A'),
      udpPacket(30, true),
    ]);
    const records = await collect(extractFlows(data, { onSummary: (s) => (summary = s) }));
    expect(records.map((r) => [r.Protocol, r['Total Fwd Packet'] + r['Total Bwd packets']]).sort()).toEqual([
      [17, 1],
      [6, 3],
    ]);
    expect(summary?.capture.packets).toBe(4);
    expect(summary?.flows.flows).toBe(2);
    expect(summary?.flows.featureSet).toBe('cic-fork');
  });

  it('streams: flows expired by the idle timeout arrive while the capture is still being read', async () => {
    const data = capture(manyFlows(3000));
    const chunkSize = 4096;
    const totalChunks = Math.ceil(data.length / chunkSize);
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunksOf(data, chunkSize)) {
        pulled++;
        yield chunk;
      }
    }
    let pulledAtFirstRecord = -1;
    const records: FlowRecord[] = [];
    for await (const record of extractFlows(counted(), { idleTimeoutS: 5 })) {
      if (pulledAtFirstRecord < 0) pulledAtFirstRecord = pulled;
      records.push(record);
    }
    expect(records).toHaveLength(3000);
    expect(records.filter((r) => r.expiry_reason === 'idle_timeout').length).toBeGreaterThan(2900);
    expect(pulledAtFirstRecord).toBeGreaterThan(0);
    expect(pulledAtFirstRecord).toBeLessThan(totalChunks / 2);
  });

  it('accepts the corrected feature set and a file path', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = join(mkdtempSync(join(tmpdir(), 'ccf-flows-')), 'x.pcap');
    writeFileSync(path, capture([udpPacket(0, true), udpPacket(10, false)]));
    let summary: FlowExtractionSummary | undefined;
    const records = await collect(
      extractFlows(path, { featureSet: 'corrected', onSummary: (s) => (summary = s) }),
    );
    expect(records).toHaveLength(1);
    expect(summary?.flows.featureSet).toBe('corrected');
    expect(summary?.capture.sourceName).toBe(path);
  });

  it('a capture damaged part-way yields every readable flow, then throws the damage', async () => {
    const whole = capture([udpPacket(0, true), udpPacket(10, false)]);
    const cut = whole.subarray(0, whole.length - 5);
    const records: FlowRecord[] = [];
    await expect(async () => {
      for await (const record of extractFlows(cut)) records.push(record);
    }).rejects.toThrow(PcapFormatError);
    expect(records).toHaveLength(1);
    expect(records[0]!['Total Fwd Packet']).toBe(1);
    expect(await collect(extractFlows(cut, { throwOnDamage: false }))).toHaveLength(1);
  });

  it('rejects data that is not a capture with the typed error', async () => {
    await expect(collect(extractFlows(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])))).rejects.toThrow(
      NotACaptureError,
    );
  });

  it('stops cleanly when the consumer breaks out early', async () => {
    let seen = 0;
    for await (const _ of extractFlows(chunksOf(capture(manyFlows(10_000)), 4096), { idleTimeoutS: 1 })) {
      seen++;
      if (seen === 10) break;
    }
    expect(seen).toBe(10);
  });
});

describe('flow CSV', () => {
  it('has the header of the dataset (without id/Label/Attempted Category) plus our columns', () => {
    expect(
      FLOW_CSV_HEADER.startsWith('Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,'),
    ).toBe(true);
    expect(
      FLOW_CSV_HEADER.trimEnd().endsWith(
        'ICMP Code,ICMP Type,Total TCP Flow Time,community_id,expiry_reason,ip_version,vlan_id,first_packet_index,last_packet_index,out_of_order_packets',
      ),
    ).toBe(true);
    expect(FLOW_CSV_COLUMNS).toHaveLength(88 + 7);
  });

  it('writes one row per flow with every column, values in column order', async () => {
    const data = capture([tcpPacket(0, true, 'S'), tcpPacket(10, false, 'RA')]);
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const rows = await writeFlowsCsv(extractFlows(data), out);
    const lines = chunks.join('').trimEnd().split('\n');
    expect(rows).toBe(1);
    expect(lines[0]).toBe(FLOW_CSV_HEADER.trimEnd());
    const cells = lines[1]!.split(',');
    expect(cells).toHaveLength(FLOW_CSV_COLUMNS.length);
    const record = Object.fromEntries(FLOW_CSV_COLUMNS.map((c, i) => [c, cells[i]]));
    expect(record).toMatchObject({
      'Src IP': '10.0.0.1',
      'Dst Port': '80',
      Protocol: '6',
      'Flow Duration': '10',
      expiry_reason: 'rst',
    });
  });

  it('the unrolled row writer equals the generic loop over FLOW_CSV_COLUMNS for every column', () => {
    const records = runMeter(
      [
        tcpPacket(0, true, 'S'),
        tcpPacket(10, false, 'SA'),
        tcpPacket(30, true, 'PA', 99),
        udpPacket(40, true),
      ],
      {
        featureSet: 'corrected',
      },
    ).records;
    for (const record of records) {
      expect(Object.keys(plainFlowRecord(record))).toEqual([...FLOW_CSV_COLUMNS]);
      expect(flowCsvRow(record)).toBe(flowCsvRowGeneric(record));
    }
    const odd = {
      ...plainFlowRecord(records[0]!),
      'Flow ID': 'a,"b"',
      'Src Port': 0.1 + 0.2,
      expiry_reason: 'evicted' as const,
    };
    expect(flowCsvRow(odd)).toBe(flowCsvRowGeneric(odd));
  });

  it('quotes a string cell only when it needs it', () => {
    const base = only(runMeter([udpPacket(0, true)]));
    const row = flowCsvRow({
      ...plainFlowRecord(base),
      'Flow ID': 'a,b',
      'Src IP': 'x"y',
      'Dst IP': 'z',
      Timestamp: 't',
      community_id: 'c',
      expiry_reason: 'fin',
    });
    expect(row.startsWith('"a,b","x""y",5353,z,')).toBe(true);
  });
});
