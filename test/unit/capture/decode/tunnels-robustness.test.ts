import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../../functions/capture/decoded-packet.js';
import {
  bytesOf,
  concat,
  ETHERTYPE,
  ethernet,
  gre,
  IP_PROTO,
  ipv4,
  ipv6,
  LINKTYPE,
  mpls,
  nflog,
  nullLoopback,
  packet,
  pppoeSession,
  radiotap,
  sll,
  sll2,
  tcp,
  toRawFrame,
  udp,
  vxlan,
  wifiData,
} from '../../../support/frame-builder.js';
import { decodeBytes, view } from './decode-helpers.js';

const outer = { src: '203.0.113.1', dst: '203.0.113.2' };
const innerTcp = ipv4(
  { src: '10.1.1.1', dst: '10.2.2.2', protocol: IP_PROTO.TCP, ttl: 9 },
  tcp({ srcPort: 1111, dstPort: 2222, flags: 'PA' }, 17),
);
const innerTcpExpected = {
  ipVersion: 4,
  srcIp: '10.1.1.1',
  dstIp: '10.2.2.2',
  ttl: 9,
  srcPort: 1111,
  dstPort: 2222,
  tcpFlags: 0x18,
  payloadLength: 17,
};

describe('tunnels', () => {
  it('decodes GRE with checksum, key and sequence number', () => {
    const frame = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4(
        { ...outer, protocol: IP_PROTO.GRE },
        gre({ protocol: ETHERTYPE.IPV4, checksum: true, key: 7, sequence: 9 }, innerTcp),
      ),
    );
    expect(decodeBytes(frame)).toMatchObject({ ...innerTcpExpected, tunnel: 'gre', ethType: 0x0800 });
  });

  it('decodes GRE with Transparent Ethernet Bridging, keeping the outer MACs and the inner VLAN', () => {
    const inner = ethernet({ etherType: ETHERTYPE.IPV4, vlanIds: [12], src: '02:00:00:00:00:99' }, innerTcp);
    const frame = ethernet(
      { etherType: ETHERTYPE.IPV4, src: '02:00:00:00:00:01' },
      ipv4({ ...outer, protocol: IP_PROTO.GRE }, gre({ protocol: ETHERTYPE.TRANSPARENT_ETHERNET }, inner)),
    );
    expect(decodeBytes(frame)).toMatchObject({
      ...innerTcpExpected,
      tunnel: 'gre',
      ethSrc: '02:00:00:00:00:01',
      vlanIds: [12],
    });
  });

  it('decodes PPTP enhanced GRE (version 1) carrying PPP', () => {
    const header = concat(
      bytesOf(0x30, 0x81, 0x88, 0x0b),
      bytesOf(0, innerTcp.length + 4, 0, 1),
      bytesOf(0, 0, 0, 5),
      bytesOf(0, 0, 0, 4),
    );
    const frame = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4({ ...outer, protocol: IP_PROTO.GRE }, concat(header, bytesOf(0xff, 0x03, 0x00, 0x21), innerTcp)),
    );
    expect(decodeBytes(frame)).toMatchObject({ ...innerTcpExpected, tunnel: 'gre' });
  });

  it('decodes VXLAN on UDP 4789 and replaces the outer UDP ports with the inner transport', () => {
    const inner = ethernet(
      { etherType: ETHERTYPE.IPV6 },
      ipv6(
        { src: 'fd00::1', dst: 'fd00::2', nextHeader: IP_PROTO.ICMPV6 },
        bytesOf(128, 0, 0, 0, 0, 1, 0, 1),
      ),
    );
    const frame = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4({ ...outer, protocol: IP_PROTO.UDP }, udp({ srcPort: 49152, dstPort: 4789 }, vxlan(42, inner))),
    );
    expect(decodeBytes(frame)).toMatchObject({
      ipVersion: 6,
      srcIp: 'fd00::1',
      srcPort: -1,
      dstPort: -1,
      icmpType: 128,
      tunnel: 'vxlan',
    });
  });

  it('decodes IP-in-IP and IPv6-in-IPv4 as ipip, and names nested tunnels outermost first', () => {
    const ipip = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4({ ...outer, protocol: IP_PROTO.IPIP }, innerTcp),
    );
    expect(decodeBytes(ipip)).toMatchObject({ ...innerTcpExpected, tunnel: 'ipip' });
    const sixInFour = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4(
        { ...outer, protocol: IP_PROTO.IPV6 },
        ipv6(
          { src: '2001:db8::1', dst: '2001:db8::2', nextHeader: IP_PROTO.UDP },
          udp({ srcPort: 1, dstPort: 2 }),
        ),
      ),
    );
    expect(decodeBytes(sixInFour)).toMatchObject({ ipVersion: 6, srcPort: 1, tunnel: 'ipip' });
    const greInVxlan = ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4(
        { ...outer, protocol: IP_PROTO.UDP },
        udp(
          { srcPort: 1, dstPort: 4789 },
          vxlan(
            1,
            ethernet(
              { etherType: ETHERTYPE.IPV4 },
              ipv4({ ...outer, protocol: IP_PROTO.GRE }, gre({ protocol: ETHERTYPE.IPV4 }, innerTcp)),
            ),
          ),
        ),
      ),
    );
    expect(decodeBytes(greInVxlan)).toMatchObject({ ...innerTcpExpected, tunnel: 'vxlan+gre' });
  });

  it('stops at a bounded nesting depth', () => {
    let nested = innerTcp;
    for (let i = 0; i < 40; i++) nested = ipv4({ ...outer, protocol: IP_PROTO.IPIP }, nested);
    const result = decodeBytes(ethernet({ etherType: ETHERTYPE.IPV4 }, nested));
    expect(result.srcIp).toBe('203.0.113.1');
    expect(result.srcPort).toBe(-1);
  });
});

/** A variety of valid frames (bytes + link type) to truncate and mutate. */
const SAMPLES: readonly [Uint8Array, number][] = [
  [
    packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp', payload: 30, vlanIds: [5, 6] }),
    LINKTYPE.ETHERNET,
  ],
  [packet({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 'udp', payload: 12 }), LINKTYPE.ETHERNET],
  [packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'icmp', payload: 8 }), LINKTYPE.ETHERNET],
  [packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'sctp', payload: 8 }), LINKTYPE.ETHERNET],
  [ethernet({ etherType: ETHERTYPE.MPLS }, mpls([1, 2], innerTcp)), LINKTYPE.ETHERNET],
  [ethernet({ etherType: ETHERTYPE.PPPOE_SESSION }, pppoeSession(0x0021, innerTcp)), LINKTYPE.ETHERNET],
  [
    ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4({ ...outer, protocol: IP_PROTO.GRE }, gre({ protocol: ETHERTYPE.IPV4, key: 1 }, innerTcp)),
    ),
    LINKTYPE.ETHERNET,
  ],
  [
    ethernet(
      { etherType: ETHERTYPE.IPV4 },
      ipv4(
        { ...outer, protocol: IP_PROTO.UDP },
        udp({ srcPort: 1, dstPort: 4789 }, vxlan(1, ethernet({ etherType: ETHERTYPE.IPV4 }, innerTcp))),
      ),
    ),
    LINKTYPE.ETHERNET,
  ],
  [
    ipv6(
      {
        src: '::1',
        dst: '::2',
        nextHeader: IP_PROTO.TCP,
        extensions: [{ type: IP_PROTO.HOP_BY_HOP }, { type: IP_PROTO.FRAGMENT }, { type: IP_PROTO.AH }],
      },
      tcp({ srcPort: 1, dstPort: 2 }, 4),
    ),
    LINKTYPE.RAW,
  ],
  [sll(ETHERTYPE.IPV4, innerTcp), LINKTYPE.LINUX_SLL],
  [sll2(ETHERTYPE.IPV4, innerTcp), LINKTYPE.LINUX_SLL2],
  [nullLoopback(2, innerTcp), LINKTYPE.NULL],
  [nflog(2, innerTcp), LINKTYPE.NFLOG],
  [radiotap(wifiData({ qos: true }, ETHERTYPE.IPV4, innerTcp)), LINKTYPE.IEEE802_11_RADIOTAP],
];

describe('truncation and hostile input', () => {
  it('decodes every prefix of every sample as far as the captured bytes allow, monotonically', () => {
    const packetState = new DecodedPacket();
    for (const [bytes, linkType] of SAMPLES) {
      const full = (() => {
        decodeFrame(toRawFrame(bytes, { linkType }), packetState);
        return view(packetState);
      })();
      let previousFields = -1;
      for (let length = 0; length <= bytes.length; length++) {
        const frame = toRawFrame(bytes, { linkType, capturedLength: length, bufferOffset: 3 });
        decodeFrame(frame, packetState);
        const partial = view(packetState, 3);
        // Until a tunnel's inner IP header is captured, the fields describe the outer packet.
        if (full.tunnel !== '' && partial.srcIp !== full.srcIp) continue;
        // Whatever is known from a prefix agrees with the full decode (nothing invented from missing bytes).
        // ethType and the tag lists legitimately grow as deeper headers are reached, so they are left out.
        const growing = new Set(['linkType', 'ethType', 'vlanIds', 'mplsLabels']);
        const known = Object.entries(partial).filter(
          ([key, value]) =>
            value !== -1 && value !== '' && value !== 0 && value !== false && !growing.has(key),
        );
        for (const [key, value] of known) expect([key, value]).toEqual([key, full[key as keyof typeof full]]);
        expect(known.length).toBeGreaterThanOrEqual(previousFields);
        previousFields = known.length;
      }
      expect(full.ipVersion).not.toBe(0);
    }
  });

  it('never throws and never reads past the captured bytes, whatever the bytes', () => {
    const packetState = new DecodedPacket();
    const linkTypes = [0, 1, 9, 12, 50, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SAMPLES.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        fc.constantFrom(...linkTypes),
        fc.boolean(),
        (sampleIndex, mutations, cut, randomLinkType, keepLinkType) => {
          const [sample, sampleLinkType] = SAMPLES[sampleIndex]!;
          const bytes = sample.slice();
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          const linkType = keepLinkType ? sampleLinkType : randomLinkType;
          const capturedLength = cut % (bytes.length + 1);
          // Same frame once followed by poison bytes, once at the very end of its buffer: identical results
          // prove nothing past the captured length was read.
          const poisoned = toRawFrame(bytes, {
            linkType,
            capturedLength,
            bufferOffset: 7,
            originalLength: bytes.length,
          });
          poisoned.bytes.fill(0x45, 7 + capturedLength);
          decodeFrame(poisoned, packetState);
          const first = view(packetState, 7);
          const exact = { ...poisoned, bytes: poisoned.bytes.slice(0, 7 + capturedLength) };
          decodeFrame(exact, packetState);
          expect(view(packetState, 7)).toEqual(first);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('handles a zero-length frame and a capturedLength larger than the buffer', () => {
    const packetState = new DecodedPacket();
    decodeFrame(toRawFrame(new Uint8Array(0)), packetState);
    expect(view(packetState)).toMatchObject({ ipVersion: 0, ethSrc: '', payloadLength: -1 });
    const lying = {
      ...toRawFrame(packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 'tcp' })),
      capturedLength: 10_000,
    };
    decodeFrame(lying, packetState);
    expect(packetState.srcPort).toBe(40000);
  });
});
