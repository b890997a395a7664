/**
 * The Ethernet/IPv4/TCP|UDP fast path (decode/fast-path.ts) must leave exactly what the general path
 * (dispatch tables, `decodeFrameGeneral`) leaves, field by field, or decline without writing anything.
 * Hand-built frames for each rule it copies, then random frames: valid headers with random bytes
 * overwritten, cut short at random, with random wire lengths.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEthernetIpv4Transport } from '../../../../functions/capture/decode/fast-path.js';
import { decodeFrame, decodeFrameGeneral } from '../../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../../../functions/capture/frame.js';
import {
  ETHERTYPE,
  ethernet,
  IP_PROTO,
  ipv4,
  type PacketSpec,
  packet,
  TCP_OPTION,
  tcp,
  toRawFrame,
  udp,
  vxlan,
} from '../../../support/frame-builder.js';
import { snapshot } from './decode-helpers.js';

/** A packet that has already decoded something else, as the reused instance has in a real read. */
function dirtyPacket(): DecodedPacket {
  const p = new DecodedPacket();
  decodeFrameGeneral(
    toRawFrame(ethernet({ etherType: ETHERTYPE.IPV6, vlanIds: [7, 8] }, new Uint8Array(60).fill(0x61))),
    p,
  );
  p.tunnel = 'gre';
  p.icmpType = 3;
  p.arpOpcode = 1;
  return p;
}

interface Outcome {
  fast: boolean;
  general: Record<string, unknown>;
  viaDecodeFrame: Record<string, unknown>;
}

/** Decodes `frame` both ways; checks that a declining fast path wrote nothing. */
function decodeBothWays(frame: RawFrame): Outcome {
  const general = new DecodedPacket();
  decodeFrameGeneral(frame, general);
  const viaDecodeFrame = dirtyPacket();
  decodeFrame(frame, viaDecodeFrame);

  const direct = dirtyPacket();
  const before = snapshot(direct);
  const start = frame.offset;
  const capturedEnd = Math.min(start + frame.capturedLength, frame.bytes.length);
  const wireEnd = start + Math.max(frame.originalLength, frame.capturedLength);
  const fast =
    frame.linkType === 1 && decodeEthernetIpv4Transport(direct, frame.bytes, start, capturedEnd, wireEnd);
  if (fast) expect(snapshot(direct)).toEqual(snapshot(general));
  else expect(snapshot(direct)).toEqual(before);
  return { fast, general: snapshot(general), viaDecodeFrame: snapshot(viaDecodeFrame) };
}

function expectSame(frame: RawFrame, fastExpected?: boolean): void {
  const outcome = decodeBothWays(frame);
  expect(outcome.viaDecodeFrame).toEqual(outcome.general);
  if (fastExpected !== undefined) expect(outcome.fast).toBe(fastExpected);
}

const tcpSpec: PacketSpec = {
  protocol: 'tcp',
  src: '192.0.2.200',
  dst: '198.51.100.250',
  srcPort: 443,
  dstPort: 51000,
  seq: 0xfffffff0,
  ack: 0x80000001,
  flags: 'SAECN',
  window: 1024,
  payload: 100,
  ipId: 0xbeef,
  ttl: 3,
};

describe('Ethernet/IPv4/TCP|UDP fast path', () => {
  it('takes plain TCP and UDP frames, with the general path’s values', () => {
    expectSame(toRawFrame(packet(tcpSpec)), true);
    expectSame(toRawFrame(packet({ ...tcpSpec, tcpOptions: TCP_OPTION.timestamps(1, 2) })), true);
    expectSame(toRawFrame(packet({ ...tcpSpec, protocol: 'udp', dstPort: 53, payload: 40 })), true);
    expectSame(toRawFrame(packet({ ...tcpSpec, payload: 0 }), { bufferOffset: 37 }), true);
    // Ethernet padding after a short datagram; a wire length beyond the snap length.
    expectSame(toRawFrame(packet({ ...tcpSpec, payload: 2, trailer: 10 })), true);
    expectSame(toRawFrame(packet(tcpSpec), { capturedLength: 54, originalLength: 154 }), true);
  });

  it('takes IPv4 options and the DF bit', () => {
    const options = ipv4(
      { src: '10.0.0.1', dst: '10.0.0.2', protocol: IP_PROTO.TCP, options: new Uint8Array([1, 1, 1, 0]) },
      tcp({ srcPort: 1, dstPort: 2 }, 5),
    );
    expectSame(toRawFrame(ethernet({ etherType: ETHERTYPE.IPV4 }, options)), true);
    const dontFragment = ipv4(
      { src: '10.0.0.1', dst: '10.0.0.2', protocol: IP_PROTO.UDP, dontFragment: true },
      udp({ srcPort: 5353, dstPort: 5353 }, 12),
    );
    expectSame(toRawFrame(ethernet({ etherType: ETHERTYPE.IPV4 }, dontFragment)), true);
  });

  it('declines what the general path decodes by other rules, and the results still agree', () => {
    const ip = (options: Partial<Parameters<typeof ipv4>[0]>, payload: Uint8Array) =>
      toRawFrame(
        ethernet(
          { etherType: ETHERTYPE.IPV4 },
          ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IP_PROTO.TCP, ...options }, payload),
        ),
      );
    const segment = tcp({ srcPort: 1, dstPort: 2 }, 30);
    expectSame(ip({ moreFragments: true }, segment), false);
    expectSame(ip({ fragmentOffset: 64 }, segment), false);
    expectSame(ip({ totalLength: 0 }, segment), false); // TSO: "the rest of the frame"
    expectSame(ip({ totalLength: 12 }, segment), false); // shorter than the header
    expectSame(ip({}, tcp({ srcPort: 1, dstPort: 2, headerLength: 12 }, 30)), false); // bogus data offset
    expectSame(ip({ protocol: IP_PROTO.ICMP }, new Uint8Array(16)), false);
    expectSame(
      ip({ protocol: IP_PROTO.UDP }, udp({ srcPort: 1, dstPort: 4789 }, vxlan(5, packet(tcpSpec)))),
      false,
    );
    expectSame(toRawFrame(packet({ ...tcpSpec, vlanIds: [10] })), false);
    expectSame(toRawFrame(packet({ ...tcpSpec, src: '2001:db8::1', dst: '2001:db8::2' })), false);
    expectSame(toRawFrame(packet(tcpSpec), { capturedLength: 40 }), false); // TCP header cut off
    expectSame(toRawFrame(packet(tcpSpec), { linkType: 101 }), false);
  });

  it('agrees with the general path on random frames: mutated headers, cut short, any wire length', () => {
    const base = fc.record({
      protocol: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
      srcPort: fc.integer({ min: 0, max: 65535 }),
      dstPort: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(4789)),
      seq: fc.integer({ min: 0, max: 0xffffffff }),
      ack: fc.integer({ min: 0, max: 0xffffffff }),
      payload: fc.integer({ min: 0, max: 80 }),
      ttl: fc.integer({ min: 0, max: 255 }),
      ipId: fc.integer({ min: 0, max: 65535 }),
    });
    let fastFrames = 0;
    fc.assert(
      fc.property(
        base,
        // Overwrites within the Ethernet, IPv4 and transport headers (offsets 12..75).
        fc.array(fc.tuple(fc.integer({ min: 12, max: 75 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 3,
        }),
        fc.option(fc.integer({ min: 0, max: 160 }), { nil: undefined }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 9 }),
        (spec, overwrites, captured, extraWire, bufferOffset) => {
          const bytes = packet({ ...spec, src: '192.0.2.1', dst: '198.51.100.2' });
          for (const [at, value] of overwrites) if (at < bytes.length) bytes[at] = value;
          const frame = toRawFrame(bytes, {
            bufferOffset,
            ...(captured === undefined ? {} : { capturedLength: captured }),
            originalLength: bytes.length + extraWire,
          });
          if (decodeBothWays(frame).fast) fastFrames++;
          expectSame(frame);
        },
      ),
      { numRuns: 1500 },
    );
    // The property is only worth something if both paths were exercised.
    expect(fastFrames).toBeGreaterThan(150);
    expect(fastFrames).toBeLessThan(1450);
  });
});
