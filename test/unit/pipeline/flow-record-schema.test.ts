import { describe, expect, it } from 'vitest';
import { FLOW_CSV_COLUMNS } from '../../../functions/flows/flow-columns.js';
import { csvFields, flowRecordFromCsv } from '../../../functions/pipeline/flow-record-schema.js';
import { ValidationError } from '../../../functions/platform/errors.js';

describe('features CSV reader', () => {
  it('splits plain and RFC 4180 quoted fields', () => {
    expect(csvFields('a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(csvFields('"x,y",2,"say ""hi""",')).toEqual(['x,y', '2', 'say "hi"', '']);
    expect(csvFields('"",1')).toEqual(['', '1']);
    expect(() => csvFields('"open,1')).toThrow(ValidationError);
  });

  it('gives back the exact numbers, text columns as text, and names a bad column and line', () => {
    const columns = ['Flow ID', 'Flow Duration', 'Flow Bytes/s', 'expiry_reason'];
    const value = 0.1 + 0.2;
    const record = flowRecordFromCsv(columns, `"1.2.3.4-5.6.7.8-1-2-6",42,${value},idle_timeout`, 7);
    expect(record).toEqual({
      'Flow ID': '1.2.3.4-5.6.7.8-1-2-6',
      'Flow Duration': 42,
      'Flow Bytes/s': value,
      expiry_reason: 'idle_timeout',
    });
    for (const bad of ['x,NaN,1,fin', 'x,,1,fin', 'x,1,Infinity,fin', 'x,1,1,sometimes']) {
      let caught: unknown;
      try {
        flowRecordFromCsv(columns, bad, 9);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect(caught instanceof ValidationError ? caught.details.line : undefined).toBe(9);
    }
    expect(() => flowRecordFromCsv(columns, 'x,1,1', 3)).toThrow(/expected 4 fields, got 3/);
  });

  it('reads every flow CSV column', () => {
    const line = FLOW_CSV_COLUMNS.map((column) =>
      column === 'expiry_reason'
        ? 'fin'
        : ['Flow ID', 'Src IP', 'Dst IP', 'Timestamp', 'community_id'].includes(column)
          ? 't'
          : '1',
    ).join(',');
    expect(Object.keys(flowRecordFromCsv(FLOW_CSV_COLUMNS, line, 2))).toEqual([...FLOW_CSV_COLUMNS]);
  });
});
