import { describe, expect, it } from 'vitest';
import {
  bytesOf,
  concat,
  ETHERTYPE,
  ethernet,
  IP_PROTO,
  icmp,
  ipv4,
  ipv6,
  mpls,
  pppoeSession,
  sctp,
  TCP_OPTION,
  tcp,
  udp,
} from '../../../support/frame-builder.js';
import { decodeBytes } from './decode-helpers.js';

const v4 = { src: '192.0.2.1', dst: '198.51.100.7' };
const v6 = { src: '2001:db8::a', dst: 'fe80::1' };
const eth4 = (payload: Uint8Array): Uint8Array => ethernet({ etherType: ETHERTYPE.IPV4 }, payload);
const eth6 = (payload: Uint8Array): Uint8Array => ethernet({ etherType: ETHERTYPE.IPV6 }, payload);

describe('VLAN, MPLS, PPPoE', () => {
  it('collects 802.1Q and 802.1ad (QinQ) VLAN ids outermost first', () => {
    const frame = ethernet(
      { etherType: ETHERTYPE.IPV4, vlanIds: [300, 42], qinq: true, vlanPriority: 5 },
      ipv4({ ...v4, protocol: IP_PROTO.UDP }, udp({ srcPort: 1, dstPort: 2 }, 3)),
    );
    expect(decodeBytes(frame)).toMatchObject({
      vlanIds: [300, 42],
      ethType: 0x0800,
      ipVersion: 4,
      dstPort: 2,
      payloadLength: 3,
    });
  });

  it('collects an MPLS label stack and decodes IPv4 or IPv6 after the bottom label', () => {
    const inner4 = ipv4({ ...v4, protocol: IP_PROTO.TCP }, tcp({ srcPort: 5, dstPort: 6 }));
    expect(
      decodeBytes(ethernet({ etherType: ETHERTYPE.MPLS }, mpls([1000, 2000, 16], inner4))),
    ).toMatchObject({ mplsLabels: [1000, 2000, 16], ethType: 0x8847, ipVersion: 4, srcPort: 5 });
    const inner6 = ipv6({ ...v6, nextHeader: IP_PROTO.UDP }, udp({ srcPort: 7, dstPort: 8 }));
    expect(decodeBytes(ethernet({ etherType: ETHERTYPE.MPLS }, mpls([3], inner6)))).toMatchObject({
      mplsLabels: [3],
      ipVersion: 6,
      dstPort: 8,
    });
    // A pseudowire control word (first nibble 0) is not IP.
    expect(
      decodeBytes(ethernet({ etherType: ETHERTYPE.MPLS }, mpls([3], concat(new Uint8Array(4), inner4))))
        .ipVersion,
    ).toBe(0);
  });

  it('decodes PPPoE session frames', () => {
    const frame = ethernet(
      { etherType: ETHERTYPE.PPPOE_SESSION },
      pppoeSession(0x0021, ipv4({ ...v4, protocol: IP_PROTO.TCP }, tcp({ srcPort: 5, dstPort: 6 }, 9))),
    );
    expect(decodeBytes(frame)).toMatchObject({ ethType: 0x8864, ipVersion: 4, srcPort: 5, payloadLength: 9 });
    const frame6 = ethernet(
      { etherType: ETHERTYPE.PPPOE_SESSION },
      pppoeSession(0x0057, ipv6({ ...v6, nextHeader: IP_PROTO.UDP }, udp({ srcPort: 5, dstPort: 6 }))),
    );
    expect(decodeBytes(frame6)).toMatchObject({ ipVersion: 6, srcPort: 5 });
  });
});

describe('IPv4', () => {
  it('decodes the header fields, options and ID', () => {
    const options = bytesOf(0x94, 0x04, 0, 0); // Router Alert (RFC 2113)
    const view = decodeBytes(
      eth4(
        ipv4(
          { ...v4, protocol: IP_PROTO.TCP, ttl: 3, id: 0xbeef, options },
          tcp({ srcPort: 80, dstPort: 1234 }, 5),
        ),
      ),
    );
    expect(view).toMatchObject({
      srcIp: '192.0.2.1',
      dstIp: '198.51.100.7',
      ttl: 3,
      ipId: 0xbeef,
      ipHeaderLength: 24,
      ipTotalLength: 49,
      fragmentOffset: 0,
      moreFragments: false,
      srcPort: 80,
      payloadLength: 5,
      payloadOffset: 14 + 24 + 20,
    });
  });

  it('takes ports only from the first fragment', () => {
    const first = decodeBytes(
      eth4(
        ipv4(
          { ...v4, protocol: IP_PROTO.UDP, moreFragments: true },
          udp({ srcPort: 53, dstPort: 999, length: 3000 }, 1472),
        ),
      ),
    );
    expect(first).toMatchObject({
      fragmentOffset: 0,
      moreFragments: true,
      srcPort: 53,
      dstPort: 999,
      payloadLength: 1472,
    });
    const later = decodeBytes(
      eth4(ipv4({ ...v4, protocol: IP_PROTO.UDP, fragmentOffset: 1480 }, new Uint8Array(100))),
    );
    expect(later).toMatchObject({
      fragmentOffset: 1480,
      moreFragments: false,
      ipProto: 17,
      srcPort: -1,
      dstPort: -1,
      l4HeaderLength: -1,
      payloadLength: 100,
    });
  });

  it('treats Total Length 0 as segmentation offload (rest of the frame)', () => {
    const view = decodeBytes(
      eth4(ipv4({ ...v4, protocol: IP_PROTO.TCP, totalLength: 0 }, tcp({ srcPort: 1, dstPort: 2 }, 3000))),
    );
    expect(view).toMatchObject({ ipTotalLength: 3040, payloadLength: 3000 });
  });

  it('ignores headers with a bogus header length or total length', () => {
    const packet = ipv4({ ...v4, protocol: IP_PROTO.TCP }, tcp({ srcPort: 1, dstPort: 2 }));
    const shortIhl = packet.slice();
    shortIhl[0] = 0x44;
    expect(decodeBytes(eth4(shortIhl)).ipVersion).toBe(0);
    // A Total Length below the header length: the header is not trusted.
    expect(
      decodeBytes(
        eth4(ipv4({ ...v4, protocol: IP_PROTO.TCP, totalLength: 19 }, tcp({ srcPort: 1, dstPort: 2 }))),
      ),
    ).toMatchObject({ ipVersion: 0, srcIp: '', srcPort: -1 });
  });

  it('bounds the datagram by the wire length when Total Length claims more', () => {
    const view = decodeBytes(
      eth4(ipv4({ ...v4, protocol: IP_PROTO.TCP, totalLength: 9000 }, tcp({ srcPort: 1, dstPort: 2 }, 10))),
    );
    expect(view).toMatchObject({ ipTotalLength: 9000, payloadLength: 10 });
  });

  it('uses the wire length (not the snap length) when the capture was cut short', () => {
    const frame = eth4(ipv4({ ...v4, protocol: IP_PROTO.TCP }, tcp({ srcPort: 1, dstPort: 2 }, 1000)));
    const view = decodeBytes(frame, { capturedLength: 68 });
    expect(view).toMatchObject({ srcPort: 1, tcpFlags: 0x10, payloadLength: 1000 });
  });

  it('steps over an Authentication Header to the transport', () => {
    const ah = concat(bytesOf(IP_PROTO.TCP, 4), new Uint8Array(22));
    const view = decodeBytes(
      eth4(ipv4({ ...v4, protocol: IP_PROTO.AH }, concat(ah, tcp({ srcPort: 22, dstPort: 50000 }, 4)))),
    );
    expect(view).toMatchObject({ ipProto: 6, srcPort: 22, payloadLength: 4, ipHeaderLength: 44 });
  });
});

describe('IPv6', () => {
  it('decodes the fixed header', () => {
    const view = decodeBytes(
      eth6(
        ipv6(
          { ...v6, nextHeader: IP_PROTO.TCP, hopLimit: 255 },
          tcp({ srcPort: 443, dstPort: 50000, flags: 'FA' }, 12),
        ),
      ),
    );
    expect(view).toMatchObject({
      ipVersion: 6,
      srcIp: '2001:db8::a',
      dstIp: 'fe80::1',
      ttl: 255,
      ipProto: 6,
      ipHeaderLength: 40,
      ipTotalLength: 40 + 32,
      tcpFlags: 0x11,
      payloadLength: 12,
      fragmentOffset: -1,
      ipId: -1,
    });
  });

  it('walks hop-by-hop, routing, destination options and AH extension headers', () => {
    const extensions = [
      { type: IP_PROTO.HOP_BY_HOP },
      { type: IP_PROTO.ROUTING, body: new Uint8Array(14) },
      { type: IP_PROTO.DESTINATION_OPTIONS },
      { type: IP_PROTO.AH },
    ];
    const view = decodeBytes(
      eth6(ipv6({ ...v6, nextHeader: IP_PROTO.UDP, extensions }, udp({ srcPort: 546, dstPort: 547 }, 20))),
    );
    expect(view).toMatchObject({
      ipProto: 17,
      ipHeaderLength: 40 + 8 + 16 + 8 + 24,
      srcPort: 546,
      dstPort: 547,
      payloadLength: 20,
    });
  });

  it('takes ports only from the first fragment', () => {
    const first = decodeBytes(
      eth6(
        ipv6(
          {
            ...v6,
            nextHeader: IP_PROTO.TCP,
            extensions: [{ type: IP_PROTO.FRAGMENT, moreFragments: true, identification: 77 }],
          },
          tcp({ srcPort: 1, dstPort: 2 }, 100),
        ),
      ),
    );
    expect(first).toMatchObject({
      fragmentOffset: 0,
      moreFragments: true,
      ipId: 77,
      ipProto: 6,
      srcPort: 1,
      payloadLength: 100,
    });
    const later = decodeBytes(
      eth6(
        ipv6(
          {
            ...v6,
            nextHeader: IP_PROTO.TCP,
            extensions: [{ type: IP_PROTO.FRAGMENT, fragmentOffset: 1232 }],
          },
          new Uint8Array(64),
        ),
      ),
    );
    expect(later).toMatchObject({
      fragmentOffset: 1232,
      moreFragments: false,
      ipProto: 6,
      srcPort: -1,
      payloadLength: 64,
      ipHeaderLength: 48,
    });
  });

  it('stops at ESP and No Next Header', () => {
    expect(decodeBytes(eth6(ipv6({ ...v6, nextHeader: IP_PROTO.ESP }, new Uint8Array(40))))).toMatchObject({
      ipProto: 50,
      srcPort: -1,
      payloadLength: 40,
    });
    expect(decodeBytes(eth6(ipv6({ ...v6, nextHeader: IP_PROTO.NO_NEXT })))).toMatchObject({
      ipProto: 59,
      payloadLength: 0,
    });
  });
});

describe('transport headers', () => {
  it('reads TCP seq, the raw ack field (also without ACK), window, flags incl. NS/CWR/ECE and the options length', () => {
    const options = concat(
      TCP_OPTION.mss(1460),
      TCP_OPTION.sackPermitted(),
      TCP_OPTION.timestamps(1, 0),
      TCP_OPTION.nop(),
      TCP_OPTION.windowScale(7),
    );
    const syn = decodeBytes(
      eth4(
        ipv4(
          { ...v4, protocol: IP_PROTO.TCP },
          tcp({ srcPort: 50000, dstPort: 80, flags: 'SEC', seq: 0xfffffff0, ack: 5, window: 64240, options }),
        ),
      ),
    );
    expect(syn).toMatchObject({
      tcpSeq: 0xfffffff0,
      tcpAck: 5,
      tcpWindow: 64240,
      tcpFlags: 0xc2,
      l4HeaderLength: 40,
      payloadLength: 0,
    });
    const ack = decodeBytes(
      eth4(
        ipv4(
          { ...v4, protocol: IP_PROTO.TCP },
          tcp({ srcPort: 80, dstPort: 50000, flags: 'NA', ack: 0x80000001 }, 3),
        ),
      ),
    );
    expect(ack).toMatchObject({ tcpAck: 0x80000001, tcpFlags: 0x110, payloadLength: 3 });
  });

  it('reports a TCP data offset below 5 words (and the payload it implies) but leaves ack and flags unknown', () => {
    const view = decodeBytes(
      eth4(ipv4({ ...v4, protocol: IP_PROTO.TCP }, tcp({ srcPort: 1, dstPort: 2, headerLength: 16 }))),
    );
    expect(view).toMatchObject({
      srcPort: 1,
      dstPort: 2,
      tcpFlags: -1,
      l4HeaderLength: 16,
      tcpAck: -1,
      payloadLength: 4,
    });
  });

  it('reads ICMP and ICMPv6 type and code', () => {
    expect(
      decodeBytes(eth4(ipv4({ ...v4, protocol: IP_PROTO.ICMP }, icmp({ type: 3, code: 13 }, 28)))),
    ).toMatchObject({ icmpType: 3, icmpCode: 13, l4HeaderLength: 8, payloadLength: 28, srcPort: -1 });
    expect(
      decodeBytes(eth6(ipv6({ ...v6, nextHeader: IP_PROTO.ICMPV6 }, icmp({ type: 135 }, 16)))),
    ).toMatchObject({ icmpType: 135, icmpCode: 0, payloadLength: 16 });
  });

  it('reads SCTP ports', () => {
    expect(
      decodeBytes(eth4(ipv4({ ...v4, protocol: IP_PROTO.SCTP }, sctp({ srcPort: 2905, dstPort: 2906 }, 16)))),
    ).toMatchObject({ srcPort: 2905, dstPort: 2906, l4HeaderLength: 12, payloadLength: 16 });
  });
});
