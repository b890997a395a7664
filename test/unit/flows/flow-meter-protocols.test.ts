import { describe, expect, it } from 'vitest';
import { communityIdV1 } from '../../../functions/flows/community-id.js';
import {
  FLOW_CSV_COLUMNS,
  FLOW_STRING_COLUMNS,
  type FlowRecord,
} from '../../../functions/flows/flow-columns.js';
import { FlowMeter } from '../../../functions/flows/flow-meter.js';
import { ValidationError } from '../../../functions/platform/errors.js';
import { arp, ETHERTYPE, ethernet, ipv4 } from '../../support/frame-builder.js';
import { only, runMeter, type TimedPacket, tcpPacket, udpPacket } from './flow-test-kit.js';

const V6_CLIENT = '2001:db8::1';
const V6_SERVER = '2001:db8::2';

function v6Tcp(at: number, up: boolean, flags: string, payload = 0): TimedPacket {
  return {
    at,
    spec: {
      src: up ? V6_CLIENT : V6_SERVER,
      dst: up ? V6_SERVER : V6_CLIENT,
      protocol: 'tcp',
      srcPort: up ? 50000 : 443,
      dstPort: up ? 443 : 50000,
      flags,
      payload,
    },
  };
}

function icmpPacket(at: number, up: boolean, type: number, code = 0, payload = 56): TimedPacket {
  return {
    at,
    spec: {
      src: up ? '10.0.0.1' : '10.0.0.2',
      dst: up ? '10.0.0.2' : '10.0.0.1',
      protocol: 'icmp',
      icmpType: type,
      icmpCode: code,
      payload,
    },
  };
}

function expectFinite(record: FlowRecord): void {
  for (const column of FLOW_CSV_COLUMNS) {
    const value = record[column];
    if ((FLOW_STRING_COLUMNS as readonly string[]).includes(column))
      expect(typeof value, column).toBe('string');
    else expect(Number.isFinite(value), column).toBe(true);
  }
}

describe('IPv6', () => {
  it('is computed by the same rules as IPv4', () => {
    const run = runMeter([
      v6Tcp(0, true, 'S'),
      v6Tcp(10, false, 'SA'),
      v6Tcp(20, true, 'PA', 300),
      v6Tcp(30, false, 'FA'),
      v6Tcp(40, true, 'FA'),
      v6Tcp(50, false, 'A'),
    ]);
    const r = only(run);
    expect([r['Src IP'], r['Dst IP'], r['Src Port'], r['Dst Port'], r.Protocol, r.ip_version]).toEqual([
      V6_CLIENT,
      V6_SERVER,
      50000,
      443,
      6,
      6,
    ]);
    expect(r['Flow ID']).toBe(`${V6_CLIENT}-${V6_SERVER}-50000-443-6`);
    expect([
      r['Total Fwd Packet'],
      r['Total Bwd packets'],
      r['Total Length of Fwd Packet'],
      r['Flow Duration'],
    ]).toEqual([3, 3, 300, 50]);
    expect(r.expiry_reason).toBe('fin');
    expect(r.community_id).toBe(
      communityIdV1({
        sourceAddress: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        destinationAddress: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        ipProtocol: 6,
        sourcePort: 50000,
        destinationPort: 443,
      }),
    );
  });

  it('ICMPv6 echo carries type and code', () => {
    const r = only(
      runMeter([
        { at: 0, spec: { src: V6_CLIENT, dst: V6_SERVER, protocol: 'icmp', icmpType: 128 } },
        { at: 20, spec: { src: V6_SERVER, dst: V6_CLIENT, protocol: 'icmp', icmpType: 129 } },
      ]),
    );
    expect([
      r.Protocol,
      r['ICMP Type'],
      r['ICMP Code'],
      r['Total Fwd Packet'],
      r['Total Bwd packets'],
    ]).toEqual([58, 128, 0, 1, 1]);
  });
});

describe('ICMP', () => {
  it('groups echo request and reply; cic-fork counts no ICMP payload or header bytes, corrected does', () => {
    const packets = [
      icmpPacket(0, true, 8),
      icmpPacket(100, false, 0),
      icmpPacket(1000, true, 8),
      icmpPacket(1100, false, 0),
    ];
    const fork = only(runMeter(packets));
    expect([fork.Protocol, fork['Src Port'], fork['Dst Port'], fork['ICMP Type'], fork['ICMP Code']]).toEqual(
      [1, 0, 0, 8, 0],
    );
    expect([
      fork['Total Fwd Packet'],
      fork['Total Bwd packets'],
      fork['Total Length of Fwd Packet'],
      fork['Fwd Header Length'],
    ]).toEqual([2, 2, 0, 0]);
    expect(fork['Flow ID']).toBe('10.0.0.1-10.0.0.2-0-0-1');
    const corrected = only(runMeter(packets, { featureSet: 'corrected' }));
    expect([corrected['Total Length of Fwd Packet'], corrected['Fwd Header Length']]).toEqual([112, 16]);
  });

  it('a message whose type and code both differ starts a new flow (reason icmp_change)', () => {
    const run = runMeter([icmpPacket(0, true, 8), icmpPacket(100, false, 0), icmpPacket(200, false, 3, 3)]);
    expect(run.records.map((r) => [r['ICMP Type'], r['ICMP Code'], r.expiry_reason])).toEqual([
      [8, 0, 'icmp_change'],
      [3, 3, 'end_of_capture'],
    ]);
    expect(run.records[1]!['Src IP']).toBe('10.0.0.2');
  });
});

describe('VLAN', () => {
  const tagged = (at: number, vlan: number): TimedPacket => {
    const p = udpPacket(at, true);
    return { ...p, spec: { ...p.spec, vlanIds: [vlan] } };
  };

  it('keeps the same 5-tuple on different VLANs apart and reports the VLAN id', () => {
    const run = runMeter([tagged(0, 10), tagged(10, 20), tagged(20, 10)]);
    expect(run.records.map((r) => [r.vlan_id, r['Total Fwd Packet']]).sort()).toEqual([
      [10, 2],
      [20, 1],
    ]);
  });

  it('merges them with vlanAware: false', () => {
    expect(only(runMeter([tagged(0, 10), tagged(10, 20)], { vlanAware: false }))['Total Fwd Packet']).toBe(2);
  });

  it('untagged flows report vlan_id -1', () => {
    expect(only(runMeter([udpPacket(0, true)])).vlan_id).toBe(-1);
  });
});

describe('one-packet flows', () => {
  it('are kept; zero duration gives 0 rates and statistics, never NaN or Infinity', () => {
    for (const featureSet of ['cic-fork', 'corrected'] as const) {
      const r = only(runMeter([udpPacket(0, true, 33)], { featureSet }));
      expectFinite(r);
      expect([
        r['Flow Duration'],
        r['Flow Bytes/s'],
        r['Flow Packets/s'],
        r['Fwd Packets/s'],
        r['Flow IAT Mean'],
        r['Fwd IAT Total'],
      ]).toEqual([0, 0, 0, 0, 0, 0]);
      expect([
        r['Total Fwd Packet'],
        r['Total Length of Fwd Packet'],
        r['Fwd Packet Length Mean'],
        r['Fwd Packet Length Std'],
      ]).toEqual([1, 33, 33, 0]);
      expect([
        r['Bwd Packet Length Mean'],
        r['Down/Up Ratio'],
        r['Fwd Header Length'],
        r['Fwd Seg Size Min'],
      ]).toEqual([0, 0, 8, 8]);
    }
  });

  it('a flow whose packets share one timestamp also has 0 rates', () => {
    const r = only(runMeter([udpPacket(0, true), udpPacket(0, false)]));
    expect([r['Flow Duration'], r['Flow Bytes/s'], r['Flow Packets/s'], r['Flow IAT Mean']]).toEqual([
      0, 0, 0, 0,
    ]);
    expectFinite(r);
  });
});

describe('packets that are not assigned to flows', () => {
  it('are counted with a reason; every other packet is in a flow', () => {
    const arpFrame = ethernet(
      { etherType: ETHERTYPE.ARP },
      arp({ opcode: 1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' }),
    );
    const laterFragment = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, fragmentOffset: 1480 }, new Uint8Array(100)),
    );
    const run = runMeter([
      { at: 0, spec: udpPacket(0, true).spec, bytes: arpFrame },
      udpPacket(10, true),
      { at: 20, spec: udpPacket(0, true).spec, bytes: laterFragment },
    ]);
    expect(run.summary.unassignedByReason).toMatchObject({ no_ip_header: 1, ip_fragment: 1 });
    expect([run.summary.packets, run.summary.packetsInFlows, run.summary.unassignedPackets]).toEqual([
      3, 1, 2,
    ]);
  });
});

describe('other IP protocols', () => {
  const gre: TimedPacket = { at: 0, spec: { src: '10.0.0.1', dst: '10.0.0.2', protocol: 47, payload: 40 } };
  const esp: TimedPacket = { at: 10, spec: { src: '10.0.0.2', dst: '10.0.0.1', protocol: 50, payload: 60 } };

  it('cic-fork lumps them into protocol 0 without ports (the fork knows TCP/UDP/ICMP only)', () => {
    const r = only(runMeter([gre, esp]));
    expect([
      r.Protocol,
      r['Src Port'],
      r['Total Fwd Packet'],
      r['Total Bwd packets'],
      r['Total Length of Fwd Packet'],
    ]).toEqual([0, 0, 1, 1, 0]);
  });

  it('corrected keeps each protocol apart and counts the IP payload', () => {
    const run = runMeter([gre, esp], { featureSet: 'corrected' });
    expect(run.records.map((r) => [r.Protocol, r['Total Length of Fwd Packet']]).sort()).toEqual([
      [47, 40],
      [50, 60],
    ]);
  });
});

describe('open-flow cap', () => {
  it('evicts the longest-idle flow when full, with reason evicted, and counts it', () => {
    const flow = (at: number, port: number) => {
      const p = udpPacket(at, true);
      return { ...p, spec: { ...p.spec, srcPort: port } };
    };
    const run = runMeter([flow(0, 1), flow(10, 2), flow(20, 1), flow(30, 3)], { maxOpenFlows: 2 });
    expect(run.emittedBeforeFinish).toBe(1);
    expect([run.records[0]!['Src Port'], run.records[0]!.expiry_reason]).toEqual([2, 'evicted']);
    expect(run.summary.evictedFlows).toBe(1);
    expect(run.summary.peakOpenFlows).toBe(2);
    expect(run.records.map((r) => r['Total Fwd Packet']).sort()).toEqual([1, 1, 2]);
  });

  it('grows the table past its initial size without losing flows', () => {
    const packets: TimedPacket[] = [];
    for (let i = 0; i < 10_000; i++) {
      const p = tcpPacket(i, true, 'S');
      packets.push({
        ...p,
        spec: { ...p.spec, srcPort: 1024 + (i % 50_000), src: `10.1.${i >> 8}.${i & 255}` },
      });
    }
    for (let i = 0; i < 10_000; i++) {
      const p = tcpPacket(20_000 + i, false, 'RA');
      packets.push({
        ...p,
        spec: { ...p.spec, dstPort: 1024 + (i % 50_000), dst: `10.1.${i >> 8}.${i & 255}` },
      });
    }
    const run = runMeter(packets);
    expect(run.records).toHaveLength(10_000);
    expect(
      run.records.every(
        (r) => r['Total Fwd Packet'] === 1 && r['Total Bwd packets'] === 1 && r.expiry_reason === 'rst',
      ),
    ).toBe(true);
  });
});

describe('options', () => {
  it('are validated with the field name', () => {
    expect(() => new FlowMeter({ flowTimeoutS: -1 }, () => {})).toThrow(ValidationError);
    expect(() => new FlowMeter({ flowTimeoutS: -1 }, () => {})).toThrow(/flowTimeoutS/);
    expect(() => new FlowMeter({ featureSet: 'nope' as 'cic-fork' }, () => {})).toThrow(/featureSet/);
  });
});
