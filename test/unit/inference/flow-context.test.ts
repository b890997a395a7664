import { describe, expect, it } from 'vitest';
import {
  FLOW_CONTEXT_COLUMNS,
  FlowContext,
  type FlowContextInput,
  TimestampParser,
} from '../../../functions/flows/flow-context.js';

/** `2026-11-28 23:37:01.986123` from µs since the epoch (the flow engine's Timestamp format). */
function timestamp(us: number): string {
  const second = Math.floor(us / 1e6);
  const iso = new Date(second * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(us - second * 1e6).padStart(6, '0')}`;
}

const T0 = Date.UTC(2026, 10, 28, 23, 37, 1) * 1000;

function flow(over: Partial<FlowContextInput> & { at_us?: number } = {}): FlowContextInput {
  const { at_us = T0, ...rest } = over;
  return {
    'Src IP': '10.0.0.2',
    'Dst IP': '10.0.0.1',
    'Dst Port': 80,
    Protocol: 6,
    Timestamp: timestamp(at_us),
    'Total Bwd packets': 1,
    'Total Length of Fwd Packet': 0,
    'Total Fwd Packet': 1,
    'Flow Duration': 0,
    ...rest,
  };
}

describe('TimestampParser', () => {
  it('reads the flow engine Timestamp as µs since the epoch, to the microsecond', () => {
    const parser = new TimestampParser();
    for (const us of [T0, T0 + 986_123, T0 + 1_000_001, T0 + 86_400_000_000 + 7]) {
      expect(parser.parseUs(timestamp(us))).toBe(us);
    }
    expect(parser.parseUs('2017-07-07 18:08:57.763666')).toBe(
      Date.UTC(2017, 6, 7, 18, 8, 57) * 1000 + 763_666,
    );
    expect(parser.parseUs('not a time')).toBeNaN();
  });
});

describe('FlowContext', () => {
  it('tells a flood (one port, many flows) from a scan (many ports, one flow each)', () => {
    const flood = new FlowContext();
    const scan = new FlowContext();
    let f = flood.next(flow());
    let s = scan.next(flow());
    for (let i = 1; i < 100; i++) {
      f = flood.next(flow({ at_us: T0 + i * 1000 }));
      s = scan.next(flow({ at_us: T0 + i * 1000, 'Dst Port': 1000 + i }));
    }
    expect(f).toMatchObject({
      ctx_pair_flows: 100,
      ctx_pair_dst_ports: 1,
      ctx_svc_flows: 100,
      ctx_pair_port_share: 0.01,
      ctx_pair_svc_share: 1,
    });
    expect(s).toMatchObject({
      ctx_pair_flows: 100,
      ctx_pair_dst_ports: 100,
      ctx_svc_flows: 1,
      ctx_pair_port_share: 1,
    });
    expect(s.ctx_pair_svc_share).toBeCloseTo(0.01, 12);
    expect(Object.keys(f)).toEqual([...FLOW_CONTEXT_COLUMNS]);
  });

  it('counts only the trailing window and the last second', () => {
    const context = new FlowContext({ windowS: 10 });
    for (let i = 0; i < 20; i++) context.next(flow({ at_us: T0 + i * 1e6 }));
    // Flows at 9..19 s are within 10 s of the last one (19 s): 11 flows; 18..19 s within one second: 2.
    const last = context.next(flow({ at_us: T0 + 19e6 }));
    expect(last.ctx_pair_flows).toBe(12);
    expect(last.ctx_pair_flows_1s).toBe(3);
    // A flow long after: everything before it left the window.
    const later = context.next(flow({ at_us: T0 + 60e6 }));
    expect(later).toMatchObject({
      ctx_pair_flows: 1,
      ctx_src_flows: 1,
      ctx_svc_flows: 1,
      ctx_pair_flows_1s: 1,
    });
  });

  it('keeps shares of unanswered, payload and same-shape flows and the open-connection estimate', () => {
    const context = new FlowContext({ windowS: 10 });
    context.next(flow({ 'Total Bwd packets': 0 }));
    context.next(flow({ 'Total Length of Fwd Packet': 450, 'Total Fwd Packet': 3, 'Flow Duration': 10e6 }));
    context.next(flow({ 'Total Length of Fwd Packet': 460, 'Total Fwd Packet': 3, 'Flow Duration': 10e6 }));
    const last = context.next(
      flow({ 'Total Length of Fwd Packet': 470, 'Total Fwd Packet': 3, 'Flow Duration': 20e6 }),
    );
    expect(last.ctx_pair_unanswered_share).toBe(0.25);
    expect(last.ctx_pair_payload_share).toBe(0.75);
    // 450, 460 and 470 bytes in 3 packets share one 64-byte shape bucket (448-511); the empty probe is another.
    expect(last.ctx_pair_same_shape_share).toBe(0.75);
    // 40 s of connections inside a 10 s window: 4 open at once on average.
    expect(last.ctx_pair_open_estimate).toBe(4);
  });

  it('separates sources, destinations and services', () => {
    const context = new FlowContext();
    for (let i = 0; i < 5; i++) context.next(flow({ 'Src IP': `10.0.1.${i}` }));
    context.next(flow({ 'Dst IP': '10.0.0.9' }));
    const last = context.next(flow({ 'Src IP': '10.0.1.0', 'Dst Port': 443 }));
    expect(last).toMatchObject({
      ctx_src_flows: 2,
      ctx_src_dst_ips: 1,
      ctx_pair_flows: 2,
      ctx_pair_dst_ports: 2,
      ctx_svc_flows: 1,
      ctx_svc_src_ips: 1,
    });
    const web = context.next(flow({ 'Src IP': '10.0.1.4' }));
    // To 10.0.0.1:80: the five clients (10.0.1.0-4), 10.0.1.4 twice → 6 flows from 5 sources.
    expect(web).toMatchObject({ ctx_svc_flows: 6, ctx_svc_src_ips: 5 });
  });

  it('is deterministic and annotates records in place', () => {
    const stream = Array.from({ length: 300 }, (_, i) =>
      flow({
        at_us: T0 + ((i * 7919) % 5000) * 1000,
        'Dst Port': 20 + (i % 13),
        'Src IP': `10.0.2.${i % 5}`,
      }),
    );
    const a = new FlowContext();
    const b = new FlowContext();
    const first = stream.map((r) => a.next(r));
    const second = stream.map((r) => ({ ...r })).map((r) => b.annotate(r));
    second.forEach((record, i) => {
      for (const column of FLOW_CONTEXT_COLUMNS) expect(record[column]).toBe(first[i]?.[column]);
    });
  });

  it('bounds memory: counts saturate per key and old keys are dropped', () => {
    const context = new FlowContext({ maxFlowsPerKey: 50, maxKeys: 100 });
    let last = context.next(flow());
    for (let i = 1; i < 1000; i++) last = context.next(flow({ at_us: T0 + i }));
    expect(last.ctx_pair_flows).toBe(50);
    for (let i = 0; i < 5000; i++)
      context.next(flow({ 'Src IP': `10.${i >> 8}.${i & 255}.1`, at_us: T0 + 2000 + i }));
    expect(context.keys).toBeLessThanOrEqual(300);
  });

  it('takes a flow whose Timestamp cannot be read at the latest time seen', () => {
    const context = new FlowContext();
    context.next(flow());
    const odd = context.next(flow({ Timestamp: 'garbage' }));
    expect(odd.ctx_pair_flows).toBe(2);
  });
});
