import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../functions/flows/flow-columns.js';
import { FLOW_NUMBER_COLUMNS } from '../../../functions/flows/flow-record.js';
import {
  CLIENT,
  expectStats,
  gaps,
  mean,
  only,
  runMeter,
  SERVER,
  std,
  tcpPacket,
  udpPacket,
} from './flow-test-kit.js';

const S = 1_000_000;
const close = (actual: unknown, expected: number, label: string): void => {
  expect(actual as number, label).toBeCloseTo(expected, 6);
};

describe('flow timeout (from the flow start)', () => {
  it('splits a UDP conversation every 120 s and starts the next flow with the splitting packet', () => {
    const run = runMeter([0, 50, 100, 150, 200, 250].map((t, i) => udpPacket(t * S, i % 2 === 0)));
    expect(run.records).toHaveLength(2);
    const [a, b] = run.records as [FlowRecord, FlowRecord];
    expect([a.expiry_reason, a['Flow Duration'], a['Total Fwd Packet'], a['Total Bwd packets']]).toEqual([
      'active_timeout',
      100 * S,
      2,
      1,
    ]);
    // UDP: the new flow takes the splitting packet's direction (here server → client).
    expect([
      b.expiry_reason,
      b['Flow Duration'],
      b['Src IP'],
      b['Total Fwd Packet'],
      b['Total Bwd packets'],
    ]).toEqual(['end_of_capture', 100 * S, SERVER, 2, 1]);
    expect(a['Total TCP Flow Time']).toBe(0);
    expect(run.emittedBeforeFinish).toBe(1);
  });

  it('a TCP connection cut by the timeout keeps its direction and accumulates Total TCP Flow Time', () => {
    const run = runMeter([
      tcpPacket(0, true, 'A', 0, { window: 700 }),
      tcpPacket(60 * S, false, 'A'),
      tcpPacket(130 * S, false, 'A'), // > 120 s after the start: new flow, first packet backward
      tcpPacket(140 * S, true, 'A', 0, { window: 900 }),
    ]);
    const [a, b] = run.records as [FlowRecord, FlowRecord];
    expect([a.expiry_reason, a['Flow Duration'], a['Total TCP Flow Time']]).toEqual([
      'active_timeout',
      60 * S,
      60 * S,
    ]);
    expect([b['Src IP'], b['Dst IP'], b['Flow ID']]).toEqual([
      CLIENT,
      SERVER,
      `${CLIENT}-${SERVER}-40000-80-6`,
    ]);
    expect([b['Total Fwd Packet'], b['Total Bwd packets'], b['Flow Duration']]).toEqual([1, 1, 10 * S]);
    // previous flow 60 s + gap 70 s + this flow 10 s
    expect(b['Total TCP Flow Time']).toBe(140 * S);
    // Fork quirks when the first packet is backward: Fwd Seg Size Min and FWD Init Win Bytes stay 0.
    expect([b['Fwd Seg Size Min'], b['FWD Init Win Bytes']]).toEqual([0, 0]);
    const corrected = runMeter(
      [
        tcpPacket(0, true, 'A'),
        tcpPacket(60 * S, false, 'A'),
        tcpPacket(130 * S, false, 'A'),
        tcpPacket(140 * S, true, 'A', 0, { window: 900 }),
      ],
      { featureSet: 'corrected' },
    ).records[1]!;
    expect([corrected['Fwd Seg Size Min'], corrected['FWD Init Win Bytes']]).toEqual([20, 900]);
  });

  it('a one-packet flow, forward or backward, in both feature sets: every column by its definition', () => {
    const packets = [
      tcpPacket(0, true, 'PA', 300, { window: 700 }),
      tcpPacket(60 * S, false, 'A'),
      // > 120 s after the start: a new flow of one backward packet; after it idles out, one forward packet.
      tcpPacket(130 * S, false, 'PAU', 40, { window: 500 }),
      tcpPacket(260 * S, true, 'A', 7, { window: 900 }),
    ];
    for (const featureSet of ['cic-fork', 'corrected'] as const) {
      const [, backward, forward] = runMeter(packets, { featureSet }).records as FlowRecord[];
      const zeroExcept = (record: FlowRecord, values: Partial<Record<keyof FlowRecord, number>>): void => {
        for (const column of FLOW_NUMBER_COLUMNS) {
          expect(record[column], `${featureSet} ${column}`).toBe(values[column] ?? 0);
        }
      };
      const common = { 'Src Port': 40000, 'Dst Port': 80, Protocol: 6, ip_version: 4, vlan_id: -1 };
      zeroExcept(backward!, {
        ...common,
        'Total Bwd packets': 1,
        'Total Length of Bwd Packet': 40,
        'Bwd Packet Length Max': 40,
        'Bwd Packet Length Min': 40,
        'Bwd Packet Length Mean': 40,
        'Bwd PSH Flags': 1,
        'Bwd URG Flags': 1,
        'Bwd Header Length': 20,
        'Packet Length Min': 40,
        'Packet Length Max': 40,
        'Packet Length Mean': 40,
        'PSH Flag Count': 1,
        'ACK Flag Count': 1,
        'URG Flag Count': 1,
        'Average Packet Size': 40,
        'Bwd Segment Size Avg': 40,
        'Subflow Bwd Packets': 1,
        'Subflow Bwd Bytes': 40,
        'Bwd Init Win Bytes': 500,
        'ICMP Code': -1,
        'ICMP Type': -1,
        // previous flow 60 s + gap 70 s
        'Total TCP Flow Time': 130 * S,
        first_packet_index: 3,
        last_packet_index: 3,
      });
      zeroExcept(forward!, {
        ...common,
        'Total Fwd Packet': 1,
        'Total Length of Fwd Packet': 7,
        'Fwd Packet Length Max': 7,
        'Fwd Packet Length Min': 7,
        'Fwd Packet Length Mean': 7,
        'Fwd Header Length': 20,
        'Packet Length Min': 7,
        'Packet Length Max': 7,
        'Packet Length Mean': 7,
        'ACK Flag Count': 1,
        'Average Packet Size': 7,
        'Fwd Segment Size Avg': 7,
        'Subflow Fwd Packets': 1,
        'Subflow Fwd Bytes': 7,
        'FWD Init Win Bytes': 900,
        // Fork quirk: the first packet of a flow never counts as forward data.
        'Fwd Act Data Pkts': featureSet === 'cic-fork' ? 0 : 1,
        'Fwd Seg Size Min': 20,
        'ICMP Code': -1,
        'ICMP Type': -1,
        // The backward flow went idle for more than 120 s, so this one starts afresh.
        first_packet_index: 4,
        last_packet_index: 4,
      });
    }
  });

  it('is configurable (flowTimeoutS)', () => {
    const run = runMeter(
      [0, 5, 11].map((t) => udpPacket(t * S, true)),
      { flowTimeoutS: 10 },
    );
    expect(run.records.map((r) => r['Total Fwd Packet'])).toEqual([2, 1]);
  });
});

describe('idle timeout', () => {
  it("starts a new flow for a packet whose flow, the previous packet's, expired just before it", () => {
    // The meter remembers the previous packet's flow to skip the table lookup; the idle expiry run by this
    // packet frees that flow's slot first, so the packet must start a flow of its own.
    const run = runMeter([udpPacket(0, true), udpPacket(200 * S, true, 20)]);
    expect(
      run.records.map((r) => [r.expiry_reason, r['Total Fwd Packet'], r['Total Length of Fwd Packet']]),
    ).toEqual([
      ['idle_timeout', 1, 10],
      ['end_of_capture', 1, 20],
    ]);
  });

  it('emits a flow idle longer than idleTimeoutS when the clock passes it, before its next packet', () => {
    const run = runMeter([udpPacket(0, true), udpPacket(1 * S, false), udpPacket(20 * S, true)], {
      idleTimeoutS: 10,
    });
    expect(run.records.map((r) => [r.expiry_reason, r['Total Fwd Packet'] + r['Total Bwd packets']])).toEqual(
      [
        ['idle_timeout', 2],
        ['end_of_capture', 1],
      ],
    );
    expect(run.emittedBeforeFinish).toBe(1);
  });

  it('other flows advance the clock too (memory is freed without more packets of the idle flow)', () => {
    const other = (t: number) => ({
      ...udpPacket(t, true),
      spec: { ...udpPacket(t, true).spec, srcPort: 6000 },
    });
    const run = runMeter([udpPacket(0, true), other(5 * S), other(12 * S)], { idleTimeoutS: 10 });
    expect(run.emittedBeforeFinish).toBe(1);
    expect(run.records[0]!['Src Port']).toBe(5353);
    expect(run.records[0]!.expiry_reason).toBe('idle_timeout');
  });

  it('a FIN on the first packet does not enter the termination state (fork: only later packets do)', () => {
    const run = runMeter([tcpPacket(0, true, 'FA'), tcpPacket(10, false, 'FA'), tcpPacket(20, true, 'A')]);
    expect(only(run).expiry_reason).toBe('end_of_capture');
  });

  it('a terminated connection that idles out still reports fin', () => {
    const run = runMeter(
      [
        tcpPacket(0, true, 'S'),
        tcpPacket(5, true, 'FA'),
        tcpPacket(10, false, 'FA'),
        tcpPacket(20, true, 'A'),
        udpPacket(30 * S, true),
      ],
      { idleTimeoutS: 10 },
    );
    expect(run.records[0]!.expiry_reason).toBe('fin');
    expect(run.emittedBeforeFinish).toBe(1);
  });
});

describe('a freed slot', () => {
  it('starts its next flow with empty inter-arrival, Active/Idle and bulk statistics', () => {
    // A busy flow (bulks both ways, gaps past the 5 s activity timeout) ends by the idle timeout; the next new
    // flow takes its slot (the table hands out the last freed slot first). That flow's statistics must be what
    // it gets in a meter of its own: nothing of the busy flow may remain in the slot.
    const busy = [0, 0.1, 0.2, 0.3, 0.4, 7, 7.1, 7.2, 7.3, 7.4, 15].map((t, i) =>
      tcpPacket(t * S, i < 5 || i === 10, 'PA', 100 + i),
    );
    const next = [30, 30.2, 30.4, 30.6, 30.8, 37].map((t) =>
      udpPacket(t * S, true, 50, { srcPort: 7000, dstPort: 7001 }),
    );
    const options = { idleTimeoutS: 10 };
    const shared = runMeter([...busy, ...next], options).records;
    const alone = only(runMeter(next, options));
    expect(shared).toHaveLength(2);
    const reused = shared[1]!;
    expect(shared[0]!['Fwd Bulk Rate Avg']).toBeGreaterThan(0);
    expect(alone['Fwd Bulk Rate Avg']).toBeGreaterThan(0);
    const compared = FLOW_NUMBER_COLUMNS.filter(
      (c) => c !== 'first_packet_index' && c !== 'last_packet_index',
    );
    for (const column of compared) expect(reused[column], column).toBe(alone[column]);
  });
});

describe('Active / Idle with several gaps', () => {
  // Active 0–2 s, idle 8 s, active 10–13 s, idle 7 s, active 20–20.5 s.
  const times = [0, 1, 2, 10, 11, 13, 20, 20.5].map((t) => t * S);
  const packets = times.map((t, i) => udpPacket(t, i % 3 !== 2));

  it('cic-fork records each period ended by a gap > 5 s, but never the final one', () => {
    const r = only(runMeter(packets));
    expectStats(
      r,
      { mean: 'Active Mean', std: 'Active Std', max: 'Active Max', min: 'Active Min' },
      [2 * S, 3 * S],
      close,
    );
    expectStats(
      r,
      { mean: 'Idle Mean', std: 'Idle Std', max: 'Idle Max', min: 'Idle Min' },
      [8 * S, 7 * S],
      close,
    );
  });

  it('corrected also records the final active period', () => {
    const r = only(runMeter(packets, { featureSet: 'corrected' }));
    expectStats(
      r,
      { mean: 'Active Mean', std: 'Active Std', max: 'Active Max', min: 'Active Min' },
      [2 * S, 3 * S, 0.5 * S],
      close,
    );
    expectStats(
      r,
      { mean: 'Idle Mean', std: 'Idle Std', max: 'Idle Max', min: 'Idle Min' },
      [8 * S, 7 * S],
      close,
    );
  });

  it('uses activityTimeoutS', () => {
    const r = only(runMeter(packets, { activityTimeoutS: 7.5 }));
    // Only the 8 s gap exceeds 7.5 s.
    expect([r['Idle Mean'], r['Active Mean']]).toEqual([8 * S, 2 * S]);
  });
});

describe('subflows', () => {
  const payloads = [10, 20, 30, 40];
  const packets = [0, 0.5, 2, 2.2].map((t, i) => udpPacket(t * S, true, payloads[i]!));

  it('cic-fork: every packet counts as a subflow (integer division by the packet count)', () => {
    const r = only(runMeter(packets));
    expect([
      r['Subflow Fwd Packets'],
      r['Subflow Fwd Bytes'],
      r['Subflow Bwd Packets'],
      r['Subflow Bwd Bytes'],
    ]).toEqual([1, 25, 0, 0]);
  });

  it('corrected: a gap > 1 s starts a subflow (two here), real division', () => {
    const r = only(runMeter(packets, { featureSet: 'corrected' }));
    expect([
      r['Subflow Fwd Packets'],
      r['Subflow Fwd Bytes'],
      r['Subflow Bwd Packets'],
      r['Subflow Bwd Bytes'],
    ]).toEqual([2, 50, 0, 0]);
  });
});

describe('bulk in both directions', () => {
  // Client sends 5 × 100 B at 0.1 s intervals, then the server 4 × 200 B at 0.1 s intervals.
  const up = [0, 0.1, 0.2, 0.3, 0.4].map((t) => udpPacket(t * S, true, 100));
  const down = [1.0, 1.1, 1.2, 1.3].map((t) => udpPacket(t * S, false, 200));

  it('finds one bulk per direction (4th packet opens it, later ones extend it)', () => {
    const r = only(runMeter([...up, ...down]));
    expect([r['Fwd Bytes/Bulk Avg'], r['Fwd Packet/Bulk Avg']]).toEqual([500, 5]);
    expect(r['Fwd Bulk Rate Avg']).toBe(Math.trunc(500 / 0.4)); // 0.4 s from first to last bulk packet
    expect([r['Bwd Bytes/Bulk Avg'], r['Bwd Packet/Bulk Avg']]).toEqual([800, 4]);
    expect(r['Bwd Bulk Rate Avg']).toBe(Math.trunc(800 / 0.3)); // Java long: 2666
  });

  it('corrected divides for real', () => {
    const r = only(runMeter([...up, ...down], { featureSet: 'corrected' }));
    expect(r['Bwd Bulk Rate Avg']).toBeCloseTo(800 / 0.3, 6);
  });

  it('is broken by a gap > 1 s or by payload from the other side', () => {
    const gap = only(runMeter([0, 0.1, 1.5, 1.6, 1.7].map((t) => udpPacket(t * S, true, 100))));
    expect(gap['Fwd Bytes/Bulk Avg']).toBe(0);
    const interrupted = only(
      runMeter([
        udpPacket(0, true, 100),
        udpPacket(0.1 * S, true, 100),
        udpPacket(0.15 * S, false, 50),
        udpPacket(0.2 * S, true, 100),
        udpPacket(0.3 * S, true, 100),
      ]),
    );
    expect(interrupted['Fwd Bytes/Bulk Avg']).toBe(0);
  });
});

describe('out-of-order timestamps', () => {
  it('are counted and never produce negative IATs', () => {
    const run = runMeter([
      udpPacket(0, true),
      udpPacket(100, false),
      udpPacket(50, true),
      udpPacket(200, false),
    ]);
    const r = only(run);
    expect(r.out_of_order_packets).toBe(1);
    expect(run.summary.outOfOrderPackets).toBe(1);
    expect(r['Flow IAT Min']).toBe(0);
    expect(r['Flow Duration']).toBe(200);
    expectStats(
      r,
      { mean: 'Flow IAT Mean', std: 'Flow IAT Std', max: 'Flow IAT Max', min: 'Flow IAT Min' },
      [100, 0, 100],
      close,
    );
    expect(r['Fwd IAT Min']).toBeGreaterThanOrEqual(0);
    expect(mean(gaps([0, 100, 100, 200]))).toBeCloseTo(r['Flow IAT Mean'], 9);
    expect(std([100, 0, 100])).toBeCloseTo(r['Flow IAT Std'], 9);
  });
});
