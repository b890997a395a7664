import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLOW_CONTEXT_COLUMNS,
  FlowContext,
  type FlowContextFeatures,
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

  it('counts a long flow emitted late by its start, not by its arrival', () => {
    const context = new FlowContext({ windowS: 10 });
    // Short flows at 20, 20.5, ..., 24.5 s, then a keep-alive flow that started at 0 s and is emitted when it ends.
    for (let i = 0; i < 10; i++) context.next(flow({ at_us: T0 + 20e6 + i * 5e5 }));
    const late = context.next(flow({ at_us: T0, 'Flow Duration': 30e6 }));
    // A flow always counts for itself (11 and 4 rather than 10 and 3); the last second is 23.5-24.5 s, not the
    // eleven flows that arrived last (arrival order put 0 s behind 24.5 s).
    expect(late.ctx_pair_flows).toBe(11);
    expect(late.ctx_pair_flows_1s).toBe(4);
    // The next flow (25 s) counts 24-25 s: 24, 24.5 and itself; the keep-alive flow (0 s) is out of both windows.
    const next = context.next(flow({ at_us: T0 + 25e6 }));
    expect(next.ctx_pair_flows_1s).toBe(3);
    expect(next.ctx_pair_flows).toBe(11);
    expect(next.ctx_pair_open_estimate).toBe(0);
  });

  it('counts the connections of a pair that ended together, whatever order they are emitted in', () => {
    const context = new FlowContext({ windowS: 10 });
    // slowhttptest: connections opened at 0, 2, 4, 6 and 8 s, all closed at 20-20.4 s, emitted out of end order;
    // by start they are 2 s apart, so the 1 s start rate stays at 1 (its own flow).
    const ends = [20.4e6, 20e6, 20.3e6, 20.1e6, 20.2e6];
    const got = ends.map((endUs, i) =>
      context.next(flow({ at_us: T0 + i * 2e6, 'Flow Duration': endUs - i * 2e6 })),
    );
    expect(got.map((c) => c.ctx_pair_ended_1s)).toEqual([1, 2, 3, 4, 5]);
    expect(got.map((c) => c.ctx_pair_flows_1s)).toEqual([1, 1, 1, 1, 1]);
    // A connection that ended at 19 s, emitted after them: before the last second of ends (19.4-20.4 s), it
    // counts the five and itself, and does not move the window back.
    expect(context.next(flow({ at_us: T0 + 1e6, 'Flow Duration': 18e6 })).ctx_pair_ended_1s).toBe(6);
    // One that ends at 21 s: 20-21 s (bound included) holds the five and itself; the 19 s one is out.
    expect(context.next(flow({ at_us: T0 + 20.5e6, 'Flow Duration': 0.5e6 })).ctx_pair_ended_1s).toBe(6);
    // Memory: past maxFlowsPerKey ends the count saturates, like the other counts.
    const capped = new FlowContext({ maxFlowsPerKey: 4 });
    let last = capped.next(flow());
    for (let i = 1; i < 10; i++) last = capped.next(flow({ at_us: T0 + i * 1000 }));
    expect(last.ctx_pair_ended_1s).toBe(4);
    // Browsing: connections of another pair closed one every 1.5 s count one each.
    const browse = new FlowContext();
    for (let i = 0; i < 5; i++) {
      const c = browse.next(flow({ 'Dst IP': '10.0.0.9', at_us: T0 + i * 1.5e6, 'Flow Duration': 1e5 }));
      expect(c.ctx_pair_ended_1s).toBe(1);
    }
  });

  it('evicts a flow that started before the window even when younger flows arrived before it', () => {
    const context = new FlowContext({ windowS: 10 });
    context.next(flow({ at_us: T0 + 5e6 }));
    // Arrives second but started first: in arrival order it sits behind the 5 s flow.
    context.next(flow({ at_us: T0, 'Dst Port': 22 }));
    const at14 = context.next(flow({ at_us: T0 + 14e6 }));
    // Window [4 s, 14 s]: the 5 s flow and this one; the 0 s flow (port 22) is out.
    expect(at14).toMatchObject({
      ctx_pair_flows: 2,
      ctx_pair_dst_ports: 1,
      ctx_src_flows: 2,
      ctx_pair_flows_1s: 1,
    });
  });
});

/**
 * Flows of `same` (one pair's flows seen so far, the current flow last) that ended within `spanUs` of the latest
 * end among them, the current flow always counted.
 */
function endedWithin(same: readonly FlowContextInput[], spanUs: number): number {
  const endOf = (g: FlowContextInput) => new TimestampParser().parseUs(g.Timestamp) + g['Flow Duration'];
  const latest = Math.max(...same.map(endOf));
  return same.filter((g, j) => endOf(g) >= latest - spanUs || j === same.length - 1).length;
}

/** The documented definition, computed from scratch for every flow (quadratic; for checking only). */
function bruteForce(flows: readonly FlowContextInput[], windowS: number): FlowContextFeatures[] {
  const startOf = (f: FlowContextInput) => new TimestampParser().parseUs(f.Timestamp);
  const windowUs = windowS * 1e6;
  return flows.map((f, i) => {
    const seen = flows.slice(0, i + 1);
    const within = (key: (g: FlowContextInput) => string, spanUs: number): FlowContextInput[] => {
      const same = seen.filter((g) => key(g) === key(f));
      const latest = Math.max(...same.map(startOf));
      return same.filter((g, j) => startOf(g) >= latest - spanUs || j === same.length - 1);
    };
    const src = within((g) => g['Src IP'], windowUs);
    const pairKey = (g: FlowContextInput) => `${g['Src IP']}>${g['Dst IP']}`;
    const pair = within(pairKey, windowUs);
    const svc = within((g) => `${g['Dst IP']}|${g['Dst Port']}|${g.Protocol}`, windowUs);
    const n = pair.length;
    const ports = new Set(pair.map((g) => g['Dst Port']));
    const shapeOf = (g: FlowContextInput) =>
      g['Total Fwd Packet'] * 2 ** 26 + Math.floor(g['Total Length of Fwd Packet'] / 64);
    return {
      ctx_src_flows: src.length,
      ctx_src_dst_ips: new Set(src.map((g) => g['Dst IP'])).size,
      ctx_pair_flows: n,
      ctx_pair_dst_ports: ports.size,
      ctx_pair_unanswered_share: pair.filter((g) => g['Total Bwd packets'] === 0).length / n,
      ctx_pair_payload_share: pair.filter((g) => g['Total Length of Fwd Packet'] > 0).length / n,
      ctx_svc_flows: svc.length,
      ctx_svc_src_ips: new Set(svc.map((g) => g['Src IP'])).size,
      ctx_pair_flows_1s: within(pairKey, Math.min(1e6, windowUs)).length,
      ctx_pair_port_share: ports.size / n,
      ctx_pair_svc_share: pair.filter((g) => g['Dst Port'] === f['Dst Port']).length / n,
      ctx_pair_open_estimate: pair.reduce((sum, g) => sum + g['Flow Duration'], 0) / windowUs,
      ctx_pair_same_shape_share: pair.filter((g) => shapeOf(g) === shapeOf(f)).length / n,
      ctx_pair_ended_1s: endedWithin(
        seen.filter((g) => pairKey(g) === pairKey(f)),
        Math.min(1e6, windowUs),
      ),
    };
  });
}

describe('FlowContext against its definition', () => {
  // Flows emitted when they end: start = end - duration, in end order, so starts come out of order the way the
  // flow engine's do. Few addresses and ports, so keys repeat; starts within a few windows, so eviction happens.
  const flowArb = fc.record({
    endUs: fc.integer({ min: 0, max: 40_000_000 }),
    durationUs: fc.oneof(fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 0, max: 30_000_000 })),
    src: fc.integer({ min: 1, max: 3 }),
    dst: fc.integer({ min: 1, max: 3 }),
    port: fc.constantFrom(22, 80, 443),
    bwd: fc.integer({ min: 0, max: 2 }),
    fwdPackets: fc.integer({ min: 1, max: 3 }),
    fwdBytes: fc.integer({ min: 0, max: 200 }),
  });

  it('matches the brute-force definition for any emission order', () => {
    fc.assert(
      fc.property(fc.array(flowArb, { maxLength: 120 }), fc.constantFrom(0.5, 1, 5, 10), (spec, windowS) => {
        const flows = [...spec]
          .sort((a, b) => a.endUs - b.endUs)
          .map((x) =>
            flow({
              at_us: T0 + x.endUs - x.durationUs,
              'Flow Duration': x.durationUs,
              'Src IP': `10.0.0.${x.src}`,
              'Dst IP': `10.0.1.${x.dst}`,
              'Dst Port': x.port,
              'Total Bwd packets': x.bwd,
              'Total Fwd Packet': x.fwdPackets,
              'Total Length of Fwd Packet': x.fwdBytes,
            }),
          );
        const context = new FlowContext({ windowS });
        const got = flows.map((f) => context.next(f));
        expect(got).toEqual(bruteForce(flows, windowS));
      }),
      { numRuns: 300, seed: 4 },
    );
  });

  it('matches it when flows arrive in no particular order (a meter flushing by timeout, not by end)', () => {
    fc.assert(
      fc.property(
        fc
          .array(flowArb, { maxLength: 80 })
          .chain((spec) => fc.shuffledSubarray(spec, { minLength: spec.length })),
        fc.constantFrom(0.5, 1, 10),
        (spec, windowS) => {
          const flows = spec.map((x) =>
            flow({
              at_us: T0 + x.endUs - x.durationUs,
              'Flow Duration': x.durationUs,
              'Src IP': `10.0.0.${x.src}`,
              'Dst IP': `10.0.1.${x.dst}`,
              'Dst Port': x.port,
              'Total Bwd packets': x.bwd,
              'Total Fwd Packet': x.fwdPackets,
              'Total Length of Fwd Packet': x.fwdBytes,
            }),
          );
          const context = new FlowContext({ windowS });
          const got = flows.map((f) => context.next(f));
          expect(got).toEqual(bruteForce(flows, windowS));
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it('matches it for ports and protocols the flow engine never emits (keyed as text, like -0 with 0)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            endUs: fc.integer({ min: 0, max: 20_000_000 }),
            src: fc.integer({ min: 1, max: 3 }),
            port: fc.constantFrom(0, -0, 80, 1.5, 70_000, -1),
            protocol: fc.constantFrom(6, 17, 300, 6.5),
          }),
          { maxLength: 80 },
        ),
        (spec) => {
          const flows = spec.map((x) =>
            flow({
              at_us: T0 + x.endUs,
              'Src IP': `10.0.0.${x.src}`,
              'Dst Port': x.port,
              Protocol: x.protocol,
            }),
          );
          const context = new FlowContext({ windowS: 5 });
          expect(flows.map((f) => context.next(f))).toEqual(bruteForce(flows, 5));
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });
});
