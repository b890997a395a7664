import { describe, expect, it } from 'vitest';
import { FLOW_CSV_COLUMNS } from '../../../functions/flows/flow-columns.js';
import { FLOW_CONTEXT_COLUMNS, FlowContext } from '../../../functions/flows/flow-context.js';
import { type FeaturePart, FeaturePartWriter } from '../../../functions/pipeline/feature-parts.js';
import { FLOW_CSV_HEADER } from '../../../functions/records/flow-csv.js';

/** A flow CSV row with every column filled: text columns by name, numbers from the flow's index. */
function row(i: number): Record<string, string | number> {
  const record: Record<string, string | number> = {};
  for (const column of FLOW_CSV_COLUMNS) record[column] = (i * 7 + column.length) % 1000;
  record['Flow ID'] = `10.0.0.${i % 5}-10.0.1.${i % 3}-${1000 + i}-${80 + (i % 4)}-6`;
  record['Src IP'] = `10.0.0.${i % 5}`;
  record['Dst IP'] = i % 2 === 0 ? `10.0.1.${i % 3}` : `2001:db8::${i % 3}`;
  record['Dst Port'] = 80 + (i % 4);
  record.Protocol = 6;
  record.Timestamp = `2026-01-01 00:00:${String(i % 60).padStart(2, '0')}.000000`;
  record['Flow Duration'] = i === 3 ? 1.5e12 : 1000 * i;
  record['Total Bwd packets'] = i % 3;
  record['Flow Bytes/s'] = 12.375 * i;
  record.community_id = '1:abc=';
  record.expiry_reason = 'fin';
  return record;
}

const line = (r: Record<string, string | number>) => FLOW_CSV_COLUMNS.map((c) => String(r[c])).join(',');

describe('FeaturePartWriter', () => {
  it('appends the context of every flow (computed in stream order) and cuts parts at the flow count', () => {
    const flows = Array.from({ length: 11 }, (_, i) => row(i));
    const parts: FeaturePart[] = [];
    const writer = new FeaturePartWriter(new FlowContext(), 4, (part) => parts.push(part));
    // Chunks as the meter hands them on: header first, then whole rows, chunk boundaries anywhere between rows.
    writer.write(Buffer.from(`${FLOW_CSV_HEADER}${line(flows[0] ?? {})}\n`));
    writer.write(Buffer.from(`${flows.slice(1, 6).map(line).join('\n')}\n`));
    writer.write(Buffer.from(`${flows.slice(6).map(line).join('\n')}\n`));
    writer.end();

    expect(parts.map((p) => [p.firstFlow, p.flows, p.last])).toEqual([
      [1, 4, false],
      [5, 4, false],
      [9, 3, true],
    ]);
    const expected = new FlowContext();
    const header = [...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS].join(',');
    const lines = parts.flatMap((p) => {
      const text = Buffer.from(p.bytes).toString('utf8').split('\n');
      expect(text[0]).toBe(header);
      expect(text[text.length - 1]).toBe('');
      return text.slice(1, -1);
    });
    expect(lines.length).toBe(flows.length);
    lines.forEach((text, i) => {
      const flow = flows[i] ?? {};
      const input = {
        'Src IP': String(flow['Src IP']),
        'Dst IP': String(flow['Dst IP']),
        'Dst Port': Number(flow['Dst Port']),
        Protocol: Number(flow.Protocol),
        Timestamp: String(flow.Timestamp),
        'Total Bwd packets': Number(flow['Total Bwd packets']),
        'Total Length of Fwd Packet': Number(flow['Total Length of Fwd Packet']),
        'Total Fwd Packet': Number(flow['Total Fwd Packet']),
        'Flow Duration': Number(flow['Flow Duration']),
      };
      const context = expected.next(input);
      expect(text).toBe(`${line(flow)},${FLOW_CONTEXT_COLUMNS.map((c) => String(context[c])).join(',')}`);
    });
  });

  it('ends a capture without flows (or with a multiple of the part size) with an empty last part', () => {
    const parts: FeaturePart[] = [];
    const writer = new FeaturePartWriter(new FlowContext(), 2, (part) => parts.push(part));
    writer.write(Buffer.from(`${FLOW_CSV_HEADER}${line(row(1))}\n${line(row(2))}\n`));
    writer.end();
    expect(parts.map((p) => [p.firstFlow, p.flows, p.last])).toEqual([
      [1, 2, false],
      [3, 0, true],
    ]);
    expect(
      Buffer.from(parts[1]?.bytes ?? [])
        .toString('utf8')
        .split('\n')
        .filter(Boolean).length,
    ).toBe(1);
  });
});
