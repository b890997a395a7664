import { describe, expect, it } from 'vitest';
import {
  bytesOf,
  ciscoHdlc,
  concat,
  ETHERTYPE,
  ethernet,
  IP_PROTO,
  ipPacket,
  ipv4,
  LINKTYPE,
  nflog,
  nullLoopback,
  packet,
  pppHdlc,
  radiotap,
  sll,
  sll2,
  tcp,
  udp,
  wifiData,
} from '../../../support/frame-builder.js';
import { decodeBytes } from './decode-helpers.js';

const tcpSpec = {
  src: '10.0.0.1',
  dst: '10.0.0.2',
  protocol: 'tcp',
  srcPort: 40000,
  dstPort: 443,
  flags: 'SA',
  payload: 10,
} as const;
const tcpV6Spec = {
  src: '2001:db8::1',
  dst: '2001:db8::2',
  protocol: 'udp',
  srcPort: 5353,
  dstPort: 53,
  payload: 7,
} as const;

function expectTcpDecoded(view: ReturnType<typeof decodeBytes>): void {
  expect(view).toMatchObject({
    ipVersion: 4,
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    ipProto: 6,
    srcPort: 40000,
    dstPort: 443,
    tcpFlags: 0x12,
    payloadLength: 10,
  });
}

describe('Ethernet (LINKTYPE_ETHERNET = 1)', () => {
  it('decodes MACs, EtherType and the IPv4/TCP inside', () => {
    const view = decodeBytes(
      packet({ ...tcpSpec, srcMac: '02:00:00:aa:bb:cc', dstMac: 'FF:ff:ff:ff:ff:ff' }),
    );
    expect(view).toMatchObject({
      linkType: 1,
      ethSrc: '02:00:00:aa:bb:cc',
      ethDst: 'ff:ff:ff:ff:ff:ff',
      ethType: 0x0800,
    });
    expectTcpDecoded(view);
  });

  it('excludes Ethernet padding from the payload length (IP total length bounds the datagram)', () => {
    const view = decodeBytes(
      packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp', payload: 0, trailer: 6 }),
    );
    expect(view.payloadLength).toBe(0);
    expect(view.ipTotalLength).toBe(40);
  });

  it('decodes IPv6 over Ethernet', () => {
    const view = decodeBytes(packet(tcpV6Spec));
    expect(view).toMatchObject({
      ethType: 0x86dd,
      ipVersion: 6,
      srcIp: '2001:db8::1',
      dstIp: '2001:db8::2',
      ipProto: 17,
      srcPort: 5353,
      dstPort: 53,
      payloadLength: 7,
      ttl: 64,
      ipTotalLength: 55,
    });
  });

  it('follows 802.3 length frames only through LLC/SNAP', () => {
    const ip = ipPacket(tcpSpec);
    const snap = concat(bytesOf(0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00), ip);
    const frame = concat(
      bytesOf(0, 0, 0x5e, 0, 0x53, 2, 0, 0, 0x5e, 0, 0x53, 1),
      bytesOf(0, snap.length),
      snap,
    );
    expectTcpDecoded(decodeBytes(frame));
    const stp = concat(
      bytesOf(0, 0, 0x5e, 0, 0x53, 2, 0, 0, 0x5e, 0, 0x53, 1, 0, 38),
      bytesOf(0x42, 0x42, 0x03),
      new Uint8Array(35),
    );
    expect(decodeBytes(stp)).toMatchObject({ ipVersion: 0, ethType: -1, ethSrc: '00:00:5e:00:53:01' });
  });

  it('decodes ARP opcodes', () => {
    const arpBody = concat(bytesOf(0, 1, 8, 0, 6, 4, 0, 2), new Uint8Array(20));
    expect(decodeBytes(ethernet({ etherType: ETHERTYPE.ARP }, arpBody))).toMatchObject({
      ethType: 0x0806,
      arpOpcode: 2,
      ipVersion: 0,
    });
  });
});

describe('BSD loopback (NULL = 0, LOOP = 108)', () => {
  it('reads the address family in either host byte order for NULL', () => {
    expectTcpDecoded(decodeBytes(nullLoopback(2, ipPacket(tcpSpec)), { linkType: LINKTYPE.NULL }));
    expectTcpDecoded(decodeBytes(nullLoopback(2, ipPacket(tcpSpec), true), { linkType: LINKTYPE.NULL }));
  });

  it.each([24, 28, 30])('treats AF_INET6 = %i as IPv6', (family) => {
    const view = decodeBytes(nullLoopback(family, ipPacket(tcpV6Spec)), { linkType: LINKTYPE.NULL });
    expect(view).toMatchObject({ ipVersion: 6, srcPort: 5353, ethType: -1 });
  });

  it('accepts an EtherType in the second 16 bits of a NULL header', () => {
    const header = bytesOf(0x0f, 0x00, 0x08, 0x00);
    expectTcpDecoded(decodeBytes(concat(header, ipPacket(tcpSpec)), { linkType: LINKTYPE.NULL }));
  });

  it('reads LOOP families big-endian', () => {
    expectTcpDecoded(decodeBytes(nullLoopback(2, ipPacket(tcpSpec), true), { linkType: LINKTYPE.LOOP }));
    expect(
      decodeBytes(nullLoopback(2, ipPacket(tcpSpec), false), { linkType: LINKTYPE.LOOP }).ipVersion,
    ).toBe(0);
  });
});

describe('raw IP (12, 14, 101) and IPV4/IPV6 (228, 229)', () => {
  it.each([12, 14, 101])('chooses the IP version from the first nibble for link type %i', (linkType) => {
    expectTcpDecoded(decodeBytes(ipPacket(tcpSpec), { linkType }));
    expect(decodeBytes(ipPacket(tcpV6Spec), { linkType })).toMatchObject({
      ipVersion: 6,
      srcPort: 5353,
      ethType: -1,
    });
  });

  it('decodes LINKTYPE_IPV4 and LINKTYPE_IPV6; IPv6 behind an IPv4 type is decoded as IPv6, not the reverse', () => {
    expectTcpDecoded(decodeBytes(ipPacket(tcpSpec), { linkType: LINKTYPE.IPV4 }));
    expect(decodeBytes(ipPacket(tcpV6Spec), { linkType: LINKTYPE.IPV6 }).ipVersion).toBe(6);
    // Wireshark hands a version-6 packet found behind an IPv4 EtherType/link type to IPv6.
    expect(decodeBytes(ipPacket(tcpV6Spec), { linkType: LINKTYPE.IPV4 }).ipVersion).toBe(6);
    expect(decodeBytes(ipPacket(tcpSpec), { linkType: LINKTYPE.IPV6 }).ipVersion).toBe(0);
  });
});

describe('Linux cooked captures (SLL = 113, SLL2 = 276)', () => {
  it('decodes SLL with its source MAC and protocol', () => {
    const view = decodeBytes(sll(ETHERTYPE.IPV4, ipPacket(tcpSpec), '02:11:22:33:44:55'), {
      linkType: LINKTYPE.LINUX_SLL,
    });
    expectTcpDecoded(view);
    expect(view).toMatchObject({ ethSrc: '02:11:22:33:44:55', ethDst: '', ethType: 0x0800 });
  });

  it('decodes SLL2', () => {
    const view = decodeBytes(sll2(ETHERTYPE.IPV6, ipPacket(tcpV6Spec), '02:11:22:33:44:56'), {
      linkType: LINKTYPE.LINUX_SLL2,
    });
    expect(view).toMatchObject({ ethSrc: '02:11:22:33:44:56', ethType: 0x86dd, ipVersion: 6, dstPort: 53 });
  });

  it('follows VLAN tags inside SLL', () => {
    const tagged = concat(bytesOf(0x00, 0x64), bytesOf(0x08, 0x00), ipPacket(tcpSpec));
    const view = decodeBytes(sll(ETHERTYPE.VLAN, tagged), { linkType: LINKTYPE.LINUX_SLL });
    expect(view.vlanIds).toEqual([100]);
    expectTcpDecoded(view);
  });
});

describe('PPP (9, 50) and Cisco HDLC (104)', () => {
  it('decodes PPP with and without HDLC address/control bytes, and with a compressed protocol field', () => {
    expectTcpDecoded(decodeBytes(pppHdlc(0x0021, ipPacket(tcpSpec)), { linkType: LINKTYPE.PPP }));
    expectTcpDecoded(decodeBytes(concat(bytesOf(0x00, 0x21), ipPacket(tcpSpec)), { linkType: LINKTYPE.PPP }));
    expectTcpDecoded(decodeBytes(concat(bytesOf(0x21), ipPacket(tcpSpec)), { linkType: LINKTYPE.PPP }));
    expect(decodeBytes(pppHdlc(0x0057, ipPacket(tcpV6Spec)), { linkType: LINKTYPE.PPP_HDLC }).ipVersion).toBe(
      6,
    );
  });

  it('decodes Cisco HDLC, also when it appears under LINKTYPE_PPP_HDLC', () => {
    expectTcpDecoded(
      decodeBytes(ciscoHdlc(ETHERTYPE.IPV4, ipPacket(tcpSpec)), { linkType: LINKTYPE.C_HDLC }),
    );
    expectTcpDecoded(
      decodeBytes(ciscoHdlc(ETHERTYPE.IPV4, ipPacket(tcpSpec)), { linkType: LINKTYPE.PPP_HDLC }),
    );
  });

  it('decodes MPLS over PPP', () => {
    const labelled = concat(bytesOf(0x00, 0x01, 0x41, 0x40), ipPacket(tcpSpec)); // label 20, S=1, TTL 64
    const view = decodeBytes(pppHdlc(0x0281, labelled), { linkType: LINKTYPE.PPP });
    expect(view.mplsLabels).toEqual([20]);
    expectTcpDecoded(view);
  });
});

describe('NFLOG (239)', () => {
  it('finds the payload TLV after other TLVs', () => {
    expectTcpDecoded(decodeBytes(nflog(2, ipPacket(tcpSpec)), { linkType: LINKTYPE.NFLOG }));
    expect(decodeBytes(nflog(10, ipPacket(tcpV6Spec)), { linkType: LINKTYPE.NFLOG }).ipVersion).toBe(6);
  });

  it('stops on a TLV with an impossible length', () => {
    const broken = bytesOf(2, 0, 0, 0, 2, 0, 9, 0, 0x45);
    expect(decodeBytes(broken, { linkType: LINKTYPE.NFLOG }).ipVersion).toBe(0);
  });
});

describe('IEEE 802.11 (105) and radiotap (127)', () => {
  it('decodes data frames with LLC/SNAP and takes SA/DA per the DS bits', () => {
    const frame = wifiData(
      { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
      ETHERTYPE.IPV4,
      ipPacket(tcpSpec),
    );
    const view = decodeBytes(frame, { linkType: LINKTYPE.IEEE802_11 });
    expectTcpDecoded(view);
    expect(view).toMatchObject({ ethSrc: '02:00:00:00:00:01', ethDst: '02:00:00:00:00:02', ethType: 0x0800 });
    // To DS: addr1 = BSSID, addr2 = SA, addr3 = DA.
    const toDs = frame.slice();
    toDs[1] = 0x01;
    expect(decodeBytes(toDs, { linkType: LINKTYPE.IEEE802_11 })).toMatchObject({
      ethSrc: '02:00:00:00:00:01',
      ethDst: '00:00:5e:00:53:ff',
    });
  });

  it('skips the QoS control field', () => {
    const view = decodeBytes(wifiData({ qos: true }, ETHERTYPE.IPV6, ipPacket(tcpV6Spec)), {
      linkType: LINKTYPE.IEEE802_11,
    });
    expect(view).toMatchObject({ ipVersion: 6, srcPort: 5353 });
  });

  it('ignores protected, management and null-data frames', () => {
    const protectedFrame = wifiData({}, ETHERTYPE.IPV4, ipPacket(tcpSpec));
    protectedFrame[1] = 0x40;
    expect(decodeBytes(protectedFrame, { linkType: LINKTYPE.IEEE802_11 }).ipVersion).toBe(0);
    const beacon = wifiData({}, ETHERTYPE.IPV4, ipPacket(tcpSpec));
    beacon[0] = 0x80;
    expect(decodeBytes(beacon, { linkType: LINKTYPE.IEEE802_11 })).toMatchObject({
      ipVersion: 0,
      ethSrc: '',
    });
  });

  it('skips a radiotap header by its length', () => {
    const frame = radiotap(wifiData({}, ETHERTYPE.IPV4, ipPacket(tcpSpec)));
    expectTcpDecoded(decodeBytes(frame, { linkType: LINKTYPE.IEEE802_11_RADIOTAP }));
  });
});

describe('unsupported link types', () => {
  it('leave every header field absent', () => {
    const view = decodeBytes(packet(tcpSpec), { linkType: 147 });
    expect(view).toMatchObject({
      linkType: 147,
      ipVersion: 0,
      ethSrc: '',
      ethType: -1,
      srcPort: -1,
      payloadLength: -1,
    });
    expect(decodeBytes(packet(tcpSpec), { linkType: 100_000 }).ipVersion).toBe(0);
  });
});

describe('Ethernet + UDP sanity', () => {
  it('uses the UDP length when it is shorter than the IP payload', () => {
    const datagram = udp({ srcPort: 1, dstPort: 2, length: 12 }, 10);
    const view = decodeBytes(
      ethernet(
        { etherType: ETHERTYPE.IPV4 },
        ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: IP_PROTO.UDP }, datagram),
      ),
    );
    expect(view.payloadLength).toBe(4);
    expect(
      decodeBytes(
        ethernet(
          { etherType: ETHERTYPE.IPV4 },
          ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: IP_PROTO.TCP }, tcp({ srcPort: 1, dstPort: 2 })),
        ),
      ).payloadLength,
    ).toBe(0);
  });
});
