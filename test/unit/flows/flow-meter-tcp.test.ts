import { describe, expect, it } from 'vitest';
import { communityIdV1 } from '../../../functions/flows/community-id.js';
import { FLOW_CSV_COLUMNS, type FlowRecord } from '../../../functions/flows/flow-columns.js';
import {
  CLIENT,
  expectStats,
  gaps,
  mean,
  only,
  runMeter,
  SERVER,
  std,
  sum,
  T0,
  type TimedPacket,
  tcpPacket,
  variance,
} from './flow-test-kit.js';

const close = (actual: unknown, expected: number, label: string): void => {
  expect(typeof actual, label).toBe('number');
  expect(actual as number, label).toBeCloseTo(expected, 6);
};

/**
 * Handshake, one request and one response, FIN from the client, FIN from the server, final ACK.
 * Client windows are 1000+i, server windows 2000+i, so Init Win columns show which packet they came from.
 */
function handshakeDataTeardown(): TimedPacket[] {
  const w = (window: number) => ({ window });
  return [
    tcpPacket(0, true, 'S', 0, w(1000)),
    tcpPacket(100, false, 'SA', 0, w(2000)),
    tcpPacket(200, true, 'A', 0, w(1001)),
    tcpPacket(300, true, 'PA', 100, w(1002)),
    tcpPacket(400, false, 'A', 0, w(2001)),
    tcpPacket(500, false, 'PA', 200, w(2002)),
    tcpPacket(600, true, 'A', 0, w(1003)),
    tcpPacket(700, true, 'FA', 0, w(1004)),
    tcpPacket(800, false, 'FA', 0, w(2003)),
    tcpPacket(900, true, 'A', 0, w(1005)),
  ];
}

describe('TCP handshake, data, teardown (cic-fork)', () => {
  const run = runMeter(handshakeDataTeardown());
  const r = only(run);
  const fwdTimes = [0, 200, 300, 600, 700, 900];
  const bwdTimes = [100, 400, 500, 800];
  const fwdLengths = [0, 0, 100, 0, 0, 0];
  const bwdLengths = [0, 0, 200, 0];
  const allLengths = [0, 0, 0, 100, 0, 200, 0, 0, 0, 0];

  it('identifies the flow from the first packet', () => {
    expect(r['Flow ID']).toBe(`${CLIENT}-${SERVER}-40000-80-6`);
    expect([r['Src IP'], r['Src Port'], r['Dst IP'], r['Dst Port'], r.Protocol]).toEqual([
      CLIENT,
      40000,
      SERVER,
      80,
      6,
    ]);
    expect(r.Timestamp).toBe('2017-07-07 18:08:57.763666');
    expect(r.community_id).toBe(
      communityIdV1({
        sourceAddress: new Uint8Array([10, 0, 0, 1]),
        destinationAddress: new Uint8Array([10, 0, 0, 2]),
        ipProtocol: 6,
        sourcePort: 40000,
        destinationPort: 80,
      }),
    );
    expect(r.ip_version).toBe(4);
    expect(r.vlan_id).toBe(-1);
    expect([r.first_packet_index, r.last_packet_index]).toEqual([1, 10]);
  });

  it('ends with reason fin once both FINs and the last ACK were seen', () => {
    expect(r.expiry_reason).toBe('fin');
    expect(run.summary.flowsByReason.fin).toBe(1);
  });

  it('counts packets, payload bytes and header bytes per direction', () => {
    expect(r['Flow Duration']).toBe(900);
    expect([r['Total Fwd Packet'], r['Total Bwd packets']]).toEqual([6, 4]);
    expect([r['Total Length of Fwd Packet'], r['Total Length of Bwd Packet']]).toEqual([100, 200]);
    expect([r['Fwd Header Length'], r['Bwd Header Length']]).toEqual([6 * 20, 4 * 20]);
    expect(r['Fwd Seg Size Min']).toBe(20);
    expectStats(
      r,
      {
        mean: 'Fwd Packet Length Mean',
        std: 'Fwd Packet Length Std',
        max: 'Fwd Packet Length Max',
        min: 'Fwd Packet Length Min',
      },
      fwdLengths,
      close,
    );
    expectStats(
      r,
      {
        mean: 'Bwd Packet Length Mean',
        std: 'Bwd Packet Length Std',
        max: 'Bwd Packet Length Max',
        min: 'Bwd Packet Length Min',
      },
      bwdLengths,
      close,
    );
    expectStats(
      r,
      {
        mean: 'Packet Length Mean',
        std: 'Packet Length Std',
        max: 'Packet Length Max',
        min: 'Packet Length Min',
      },
      allLengths,
      close,
    );
    close(r['Packet Length Variance'], variance(allLengths), 'variance');
  });

  it('computes rates and ratios from the duration in seconds', () => {
    close(r['Flow Bytes/s'], 300 / (900 / 1e6), 'Flow Bytes/s');
    close(r['Flow Packets/s'], 10 / (900 / 1e6), 'Flow Packets/s');
    close(r['Fwd Packets/s'], 6 / (900 / 1e6), 'Fwd Packets/s');
    close(r['Bwd Packets/s'], 4 / (900 / 1e6), 'Bwd Packets/s');
    close(r['Down/Up Ratio'], 4 / 6, 'Down/Up');
    close(r['Average Packet Size'], 30, 'Average Packet Size');
    close(r['Fwd Segment Size Avg'], 100 / 6, 'Fwd Segment Size Avg');
    close(r['Bwd Segment Size Avg'], 50, 'Bwd Segment Size Avg');
  });

  it('computes flow and per-direction inter-arrival times', () => {
    const flowGaps = gaps([...fwdTimes, ...bwdTimes].sort((a, b) => a - b));
    expectStats(
      r,
      { mean: 'Flow IAT Mean', std: 'Flow IAT Std', max: 'Flow IAT Max', min: 'Flow IAT Min' },
      flowGaps,
      close,
    );
    expect(r['Fwd IAT Total']).toBe(sum(gaps(fwdTimes)));
    expectStats(
      r,
      { mean: 'Fwd IAT Mean', std: 'Fwd IAT Std', max: 'Fwd IAT Max', min: 'Fwd IAT Min' },
      gaps(fwdTimes),
      close,
    );
    expect(r['Bwd IAT Total']).toBe(sum(gaps(bwdTimes)));
    expectStats(
      r,
      { mean: 'Bwd IAT Mean', std: 'Bwd IAT Std', max: 'Bwd IAT Max', min: 'Bwd IAT Min' },
      gaps(bwdTimes),
      close,
    );
  });

  it('counts flags on every packet, and PSH/URG/RST per direction', () => {
    expect([r['FIN Flag Count'], r['SYN Flag Count'], r['RST Flag Count'], r['PSH Flag Count']]).toEqual([
      2, 2, 0, 2,
    ]);
    expect([r['ACK Flag Count'], r['URG Flag Count'], r['CWR Flag Count'], r['ECE Flag Count']]).toEqual([
      9, 0, 0, 0,
    ]);
    expect([r['Fwd PSH Flags'], r['Bwd PSH Flags'], r['Fwd URG Flags'], r['Bwd URG Flags']]).toEqual([
      1, 1, 0, 0,
    ]);
    expect([r['Fwd RST Flags'], r['Bwd RST Flags']]).toEqual([0, 0]);
  });

  it('keeps the fork quirks: last backward window, packet-count subflows, no final active period', () => {
    expect(r['FWD Init Win Bytes']).toBe(1000);
    expect(r['Bwd Init Win Bytes']).toBe(2003);
    expect(r['Fwd Act Data Pkts']).toBe(1);
    // Every packet counts as a subflow: 10 subflows, integer division.
    expect([
      r['Subflow Fwd Packets'],
      r['Subflow Fwd Bytes'],
      r['Subflow Bwd Packets'],
      r['Subflow Bwd Bytes'],
    ]).toEqual([0, 10, 0, 20]);
    expect([r['Active Mean'], r['Active Std'], r['Active Max'], r['Active Min']]).toEqual([0, 0, 0, 0]);
    expect([r['Idle Mean'], r['Idle Std'], r['Idle Max'], r['Idle Min']]).toEqual([0, 0, 0, 0]);
    expect(r['Total TCP Flow Time']).toBe(900);
    expect([r['ICMP Code'], r['ICMP Type']]).toEqual([-1, -1]);
  });

  it('has no bulk (payload alternates direction)', () => {
    expect([r['Fwd Bytes/Bulk Avg'], r['Fwd Packet/Bulk Avg'], r['Fwd Bulk Rate Avg']]).toEqual([0, 0, 0]);
    expect([r['Bwd Bytes/Bulk Avg'], r['Bwd Packet/Bulk Avg'], r['Bwd Bulk Rate Avg']]).toEqual([0, 0, 0]);
  });
});

describe('TCP handshake, data, teardown (corrected)', () => {
  const r = only(runMeter(handshakeDataTeardown(), { featureSet: 'corrected' }));

  it('fixes the quirks: first backward window, gap-based subflows, final active period', () => {
    expect(r['Bwd Init Win Bytes']).toBe(2000);
    // All gaps ≤ 1 s: one subflow, real division.
    expect([
      r['Subflow Fwd Packets'],
      r['Subflow Fwd Bytes'],
      r['Subflow Bwd Packets'],
      r['Subflow Bwd Bytes'],
    ]).toEqual([6, 100, 4, 200]);
    expect([r['Active Mean'], r['Active Std'], r['Active Max'], r['Active Min']]).toEqual([900, 0, 900, 900]);
    expect(r['Idle Mean']).toBe(0);
  });

  it('leaves the other columns as in cic-fork', () => {
    const fork = only(runMeter(handshakeDataTeardown()));
    const differing = FLOW_CSV_COLUMNS.filter((k) => r[k] !== fork[k]);
    expect(differing.sort()).toEqual(
      [
        'Active Max',
        'Active Mean',
        'Active Min',
        'Bwd Init Win Bytes',
        'Subflow Bwd Bytes',
        'Subflow Bwd Packets',
        'Subflow Fwd Bytes',
        'Subflow Fwd Packets',
      ].sort(),
    );
  });
});

describe('FIN from either side first', () => {
  it('server closing first also ends with reason fin', () => {
    const run = runMeter([
      tcpPacket(0, true, 'S'),
      tcpPacket(10, false, 'SA'),
      tcpPacket(20, true, 'A'),
      tcpPacket(30, false, 'FA'),
      tcpPacket(40, true, 'A'),
      tcpPacket(50, true, 'FA'),
      tcpPacket(60, false, 'A'),
    ]);
    const r = only(run);
    expect(r.expiry_reason).toBe('fin');
    expect(r['FIN Flag Count']).toBe(2);
    expect([r['Total Fwd Packet'], r['Total Bwd packets']]).toEqual([4, 3]);
  });

  it('a FIN in one direction only does not end the connection', () => {
    const run = runMeter([
      tcpPacket(0, true, 'S'),
      tcpPacket(10, false, 'SA'),
      tcpPacket(20, true, 'FA'),
      tcpPacket(30, false, 'A'),
    ]);
    expect(only(run).expiry_reason).toBe('end_of_capture');
  });

  it('packets after termination stay in the flow until a SYN starts the next one', () => {
    const run = runMeter([
      tcpPacket(0, true, 'S'),
      tcpPacket(10, false, 'SA'),
      tcpPacket(20, true, 'FA'),
      tcpPacket(30, false, 'FA'),
      tcpPacket(40, true, 'A'),
      tcpPacket(50, false, 'A'), // late ACK: same flow (fork rule)
      tcpPacket(1000, true, 'S'), // port reuse: new connection
      tcpPacket(1010, false, 'SA'),
    ]);
    expect(run.records).toHaveLength(2);
    expect(run.emittedBeforeFinish).toBe(1);
    const [first, second] = run.records as [FlowRecord, FlowRecord];
    expect([first['Total Fwd Packet'], first['Total Bwd packets'], first['Flow Duration']]).toEqual([
      3, 3, 50,
    ]);
    expect(first.expiry_reason).toBe('fin');
    expect([second['Src IP'], second['Total Fwd Packet'], second['Total Bwd packets']]).toEqual([
      CLIENT,
      1,
      1,
    ]);
    expect(second.Timestamp).not.toBe(first.Timestamp);
    expect(second.first_packet_index).toBe(7);
    expect(second['Total TCP Flow Time']).toBe(10);
  });
});

describe('RST abort', () => {
  it('an RST terminates the connection; the next SYN emits it with reason rst', () => {
    const run = runMeter([
      tcpPacket(0, true, 'S', 0, { window: 1024 }),
      tcpPacket(10, false, 'RA', 0, { window: 0 }),
      tcpPacket(5000, true, 'S'),
    ]);
    expect(run.emittedBeforeFinish).toBe(1);
    const r = run.records[0]!;
    expect(r.expiry_reason).toBe('rst');
    expect([
      r['RST Flag Count'],
      r['Fwd RST Flags'],
      r['Bwd RST Flags'],
      r['SYN Flag Count'],
      r['ACK Flag Count'],
    ]).toEqual([1, 0, 1, 1, 1]);
    // Java's arithmetic, packets / (duration / 1e6), gives 199999.99999999997 here, as ours does.
    expect([r['Flow Duration'], r['Flow IAT Mean'], r['Flow Packets/s']]).toEqual([10, 10, 2 / (10 / 1e6)]);
    expect(r['Total TCP Flow Time']).toBe(10);
    expect(run.summary.flowsByReason).toMatchObject({ rst: 1, end_of_capture: 1 });
  });

  it('cic-fork does not count a FIN/RST on the first packet per direction; corrected does', () => {
    const packets = [tcpPacket(0, true, 'R'), tcpPacket(10, true, 'R')];
    const fork = only(runMeter(packets));
    expect([fork['Fwd RST Flags'], fork['RST Flag Count']]).toEqual([1, 2]);
    const corrected = only(runMeter(packets, { featureSet: 'corrected' }));
    expect([corrected['Fwd RST Flags'], corrected['RST Flag Count']]).toEqual([2, 2]);
  });
});

describe('Fwd Act Data Pkts', () => {
  const packets = [tcpPacket(0, true, 'PA', 50), tcpPacket(10, true, 'PA', 60), tcpPacket(20, true, 'A', 0)];
  it('cic-fork never counts the first packet', () => {
    expect(only(runMeter(packets))['Fwd Act Data Pkts']).toBe(1);
  });
  it('corrected counts every forward packet with payload', () => {
    expect(only(runMeter(packets, { featureSet: 'corrected' }))['Fwd Act Data Pkts']).toBe(2);
  });
});

describe('mean and std match the dataset arithmetic', () => {
  it('uses the incremental mean (not sum/n), as SummaryStatistics does', () => {
    // Values whose incremental mean differs from sum/n in the last bits.
    const lengths = [640, 0, 0, 0, 21, 0, 88, 0, 52, 0, 36, 0, 52, 0, 84, 0, 36, 0, 52, 0];
    const packets = lengths.map((n, i) => tcpPacket(i * 10, true, n > 0 ? 'PA' : 'A', n));
    const r = only(runMeter(packets));
    let m1 = 0;
    lengths.forEach((v, i) => {
      m1 += (v - m1) / (i + 1);
    });
    expect(r['Fwd Packet Length Mean']).toBe(m1);
    expect(r['Fwd Segment Size Avg']).toBe(sum(lengths) / lengths.length);
    expect(r['Fwd Packet Length Std']).toBeCloseTo(std(lengths), 9);
    expect(mean(lengths)).toBeCloseTo(m1, 9);
  });
});

describe('timestamps', () => {
  it('prints six fractional digits in UTC', () => {
    const r = only(runMeter([{ ...tcpPacket(0, true, 'S'), at: 1_000_000 - 763_666 }]));
    expect(r.Timestamp).toBe('2017-07-07 18:08:58.000000');
    expect(T0).toBe(1_499_450_937_763_666);
  });
});

describe('timestamps far outside the Date range', () => {
  it('still format (capture files with broken timestamps must not stop the run)', () => {
    const r = only(runMeter([{ ...tcpPacket(0, true, 'S'), at: 9e18 }]));
    expect(r.Timestamp).toMatch(/^\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  });
  it('matches Date for ordinary ones, including leap days', () => {
    for (const iso of [
      '2016-02-29T23:59:59Z',
      '2000-03-01T00:00:00Z',
      '1970-01-01T00:00:00Z',
      '2017-12-31T12:34:56Z',
    ]) {
      const at = Date.parse(iso) * 1000 - T0;
      expect(only(runMeter([{ ...tcpPacket(0, true, 'S'), at }])).Timestamp).toBe(
        `${iso.slice(0, 10)} ${iso.slice(11, 19)}.000000`,
      );
    }
  });
});
