/**
 * The meter's JIT warm-up packets (functions/flows/warm-up-traffic.ts) are only useful if they take the rare
 * branches a real capture takes once in a while (each first time otherwise rebuilds the optimized per-packet
 * code). These tests pin that they still do: if a change to the meter or the packets stops a branch from
 * being taken, the matching count here drops to zero.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvRowBuffer } from '../../../functions/flows/csv-row-buffer.js';
import { EXPIRY_REASONS, type FlowRecord } from '../../../functions/flows/flow-columns.js';
import { FlowMeter, UNASSIGNED_REASONS } from '../../../functions/flows/flow-meter.js';
import { FlowTable, hashKey, KEY_WORDS } from '../../../functions/flows/flow-table.js';
import { forEachWarmUpPacket } from '../../../functions/flows/warm-up-traffic.js';
import { flowCsvRow } from '../../../functions/records/flow-csv.js';

describe('warm-up traffic', () => {
  for (const featureSet of ['cic-fork', 'corrected'] as const) {
    it(`takes every expiry reason, unassigned reason and packet kind (${featureSet})`, () => {
      const records: FlowRecord[] = [];
      const rows: string[] = [];
      // As the warm-up runs it: a table that starts with 2 slots and may hold 16 flows.
      const meter = new FlowMeter(
        { featureSet, maxOpenFlows: 16 },
        (record) => records.push(record),
        undefined,
        2,
      );
      const csvMeter = new FlowMeter(
        { featureSet, maxOpenFlows: 16 },
        () => {},
        new CsvRowBuffer((row) => rows.push(row), 1),
        2,
      );
      forEachWarmUpPacket((frame, packet) => {
        meter.add(frame, packet);
        csvMeter.add(frame, packet);
      });
      const summary = meter.finish();
      csvMeter.finish();
      expect(rows).toEqual(records.map(flowCsvRow));
      for (const reason of EXPIRY_REASONS) expect(summary.flowsByReason[reason], reason).toBeGreaterThan(0);
      for (const reason of UNASSIGNED_REASONS)
        expect(summary.unassignedByReason[reason], reason).toBeGreaterThan(0);
      expect(summary.duplicatePackets).toBeGreaterThan(0);
      expect(summary.outOfOrderPackets).toBeGreaterThan(0);
      expect(summary.peakOpenFlows).toBe(16);
      const kinds = new Set(
        records.map((r) => `${r.ip_version}/${r.Protocol}/${r.vlan_id >= 0 ? 'vlan' : '-'}`),
      );
      for (const kind of ['4/6/-', '4/17/-', '4/1/-', '6/6/-', '6/17/-', '6/58/-', '4/6/vlan', '4/17/vlan']) {
        expect(kinds, kind).toContain(kind);
      }
      expect(records.some((r) => r['Src IP'] === r['Dst IP'] && r.ip_version === 6)).toBe(true);
      expect(
        records.some((r) => r['Src IP'].startsWith('192.168.') !== r['Dst IP'].startsWith('192.168.')),
      ).toBe(true);
    });
  }
});

describe('FlowTable', () => {
  it('finds exactly the stored keys through inserts and removals, wrapped probe chains included', () => {
    // A 16-bucket table (at most 8 slots) under random IPv4 keys from a small space: long probe chains that
    // wrap around the array's end, and backward-shift deletion across the wrap.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 300 }),
        (operations) => {
          const table = new FlowTable(8, 8);
          const model = new Map<number, number>();
          const key = new Int32Array(KEY_WORDS);
          const setKey = (id: number): number => {
            key.fill(0);
            key[0] = 17 | (4 << 8);
            key[3] = id;
            key[7] = id * 7;
            return hashKey(key);
          };
          for (const [insert, id] of operations) {
            const hash = setKey(id);
            const slot = table.find(key, hash);
            expect(slot).toBe(model.get(id) ?? -1);
            if (insert && slot < 0 && !table.full) model.set(id, table.insert(key, hash));
            else if (!insert && slot >= 0) {
              table.remove(slot);
              model.delete(id);
            }
          }
          for (let id = 0; id <= 40; id++) expect(table.find(key, setKey(id))).toBe(model.get(id) ?? -1);
          expect(table.size).toBe(model.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
