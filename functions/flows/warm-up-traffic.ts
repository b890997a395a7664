/**
 * A few dozen synthetic packets that take every common branch of the decoders and the flow meter once, for
 * the meter's one-time JIT warm-up (flow-meter.ts, `warmUpFlowMeter`).
 *
 * Why: V8 optimizes the per-packet path (`FlowMeter.add` with the table, the statistics and the emission
 * inlined: one large function) from the type feedback of the packets it has seen so far. A branch that has
 * never run has no feedback, so the first packet that takes it (the table's first growth, the first flow
 * timeout, the first duplicate, the first truncated header …) throws the optimized code away, and the
 * function is compiled again: on the bench mix, `add` was compiled 8 times at 70–160 ms of CPU each, plus the
 * time spent in unoptimized code in between. Running these packets through a throwaway meter first records
 * feedback for those branches, so the real run's code is compiled about once.
 *
 * Frames are built here with the real wire layouts (Ethernet II, 802.1Q/802.1ad, IPv4, IPv6, TCP, UDP, ICMP,
 * ICMPv6) and decoded by the real decoder, so the feedback is the one real captures give. Checksums are left
 * zero (nothing reads them).
 */
import { decodeFrame } from '../capture/decode/index.js';
import { DecodedPacket, TCP_FLAG } from '../capture/decoded-packet.js';
import { newRawFrame, type RawFrame } from '../capture/frame.js';

interface WarmUpPacket {
  /** Microseconds after the warm-up's start time. */
  atUs: number;
  /** IPv4 (4) or IPv6 (6); 0 for an ARP frame. */
  version: 0 | 4 | 6;
  /** Last address byte of the source and destination (the rest is fixed). */
  src: number;
  dst: number;
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte. */
  flags?: number;
  payload?: number;
  icmpType?: number;
  icmpCode?: number;
  seq?: number;
  /** VLAN ids, outermost first (0–2 tags). */
  vlans?: readonly number[];
  /** IPv4 fragment offset in 8-byte units, and the more-fragments bit. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  /** Bytes cut off the end of the frame (a snap length shorter than the packet). */
  truncateBy?: number;
  /** IPv4 network of the source address (default 10.0.0.0), and of the destination (default: `net`). */
  net?: number;
  dstNet?: number;
  /** TCP option bytes (a multiple of 4). */
  options?: number;
  /** Inside an outer IPv4 header. */
  tunnelled?: boolean;
  /** IPv4 Total Length / IPv6 Payload Length written as 0. */
  zeroTotalLength?: boolean;
  /** TCP data offset below the minimum. */
  badDataOffset?: boolean;
  /** UDP Length field larger than the datagram. */
  badUdpLength?: boolean;
  /** IPv6: a hop-by-hop options header (8 bytes, a router alert) before the transport header. */
  hopByHop?: boolean;
  /** IPv6: the source is an IPv4-mapped address (::ffff:10.0.0.n). */
  mappedSource?: boolean;
  /** IPv6: a fragment header (a first fragment, more to come) before the transport header. */
  ipv6Fragment?: boolean;
  /** IPv6: an authentication header (12 bytes) before the transport header. */
  ipv6Authentication?: boolean;
}

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const SCTP = 132;
const OSPF = 89;
const { FIN, SYN, RST, PSH, ACK, URG, ECE, CWR } = TCP_FLAG;
const S = 1_000_000;

function tcp(
  atUs: number,
  up: boolean,
  flags: number,
  payload = 0,
  extra: Partial<WarmUpPacket> = {},
): WarmUpPacket {
  return {
    atUs,
    version: 4,
    src: up ? 1 : 2,
    dst: up ? 2 : 1,
    protocol: TCP,
    srcPort: up ? 40000 : 80,
    dstPort: up ? 80 : 40000,
    flags,
    payload,
    seq: atUs,
    ...extra,
  };
}

function udp(atUs: number, up: boolean, payload: number, extra: Partial<WarmUpPacket> = {}): WarmUpPacket {
  return {
    atUs,
    version: 4,
    src: up ? 3 : 4,
    dst: up ? 4 : 3,
    protocol: UDP,
    srcPort: up ? 5353 : 53,
    dstPort: up ? 53 : 5353,
    payload,
    ...extra,
  };
}

/**
 * The scenario, in capture order (one packet deliberately late): every branch of the per-packet path that
 * real captures take. Addresses above 127.255.255.255 and sequence numbers above 2^31 are there because they
 * are not small integers to V8.
 */
function warmUpPackets(): WarmUpPacket[] {
  const packets: WarmUpPacket[] = [
    { atUs: 0, version: 0, src: 1, dst: 2, protocol: 0 },
    // (Written as an 802.3 LLC frame instead: see forEachWarmUpPacket.)
    { atUs: 1, version: 0, src: 1, dst: 2, protocol: 0 },
    // A TCP connection: handshake, bulk data both ways, every flag, a duplicate, an out-of-order packet, an
    // idle gap longer than the activity timeout, FIN from both sides and the last ACK.
    tcp(10, true, SYN),
    tcp(20, false, SYN | ACK),
    tcp(30, true, ACK),
    tcp(40, true, PSH | ACK, 500),
    tcp(40, true, PSH | ACK, 500),
    tcp(50, true, ACK, 1400, { seq: 0xfedcba98 }),
    tcp(60, true, ACK | URG, 1400),
    tcp(70, true, ACK | ECE | CWR, 1400),
    tcp(65, false, ACK),
    tcp(80, false, PSH | ACK, 300),
    tcp(90, false, ACK, 1400),
    tcp(100, false, ACK, 1400),
    tcp(110, false, ACK, 1400),
    tcp(2 * S, false, ACK, 1400),
    tcp(9 * S, true, PSH | ACK, 10),
    tcp(9 * S + 10, true, FIN | ACK),
    tcp(9 * S + 20, false, FIN | ACK),
    tcp(9 * S + 30, true, ACK),
    // A new connection on the same ports after the termination, then reset.
    tcp(10 * S, true, SYN),
    tcp(10 * S + 10, false, RST | ACK),
    // A SYN from the other side after the reset (a fresh flow); it goes on past the flow timeout below.
    tcp(11 * S, false, SYN),
    tcp(11 * S + 10, true, SYN | ACK),
    // UDP both ways between high addresses; it goes on past the flow timeout below.
    udp(12 * S, true, 40, { net: 0xc0a80000 }),
    udp(12 * S + 50, false, 120, { net: 0xc0a80000 }),
    udp(12 * S + 60, true, 0, { net: 0xc0a80000 }),
    // ICMP echo, a reply, then a message whose type and code both differ (a new flow).
    { atUs: 13 * S, version: 4, src: 5, dst: 6, protocol: ICMP, icmpType: 8, icmpCode: 0, payload: 56 },
    { atUs: 13 * S + 10, version: 4, src: 6, dst: 5, protocol: ICMP, icmpType: 0, icmpCode: 0, payload: 56 },
    { atUs: 13 * S + 20, version: 4, src: 6, dst: 5, protocol: ICMP, icmpType: 3, icmpCode: 3, payload: 28 },
    // IPv6: TCP and UDP both ways, ICMPv6 one-way and echo.
    { atUs: 14 * S, version: 6, src: 1, dst: 2, protocol: TCP, srcPort: 40001, dstPort: 443, flags: SYN },
    {
      atUs: 14 * S + 5,
      version: 6,
      src: 2,
      dst: 1,
      protocol: TCP,
      srcPort: 443,
      dstPort: 40001,
      flags: SYN | ACK,
    },
    {
      atUs: 14 * S + 9,
      version: 6,
      src: 1,
      dst: 2,
      protocol: TCP,
      srcPort: 40001,
      dstPort: 443,
      flags: ACK,
      payload: 200,
    },
    { atUs: 14 * S + 12, version: 6, src: 3, dst: 4, protocol: UDP, srcPort: 546, dstPort: 547, payload: 60 },
    { atUs: 14 * S + 15, version: 6, src: 4, dst: 3, protocol: UDP, srcPort: 547, dstPort: 546, payload: 90 },
    {
      atUs: 14 * S + 20,
      version: 6,
      src: 5,
      dst: 6,
      protocol: ICMPV6,
      icmpType: 135,
      icmpCode: 0,
      payload: 24,
    },
    {
      atUs: 14 * S + 25,
      version: 6,
      src: 5,
      dst: 6,
      protocol: ICMPV6,
      icmpType: 128,
      icmpCode: 0,
      payload: 24,
    },
    {
      atUs: 14 * S + 30,
      version: 6,
      src: 6,
      dst: 5,
      protocol: ICMPV6,
      icmpType: 1,
      icmpCode: 4,
      payload: 48,
    },
    // VLAN-tagged (one and two tags), same address on both ends, protocols with and without ports.
    tcp(15 * S, true, SYN, 0, { vlans: [100] }),
    tcp(15 * S + 10, false, SYN | ACK, 0, { vlans: [100] }),
    udp(15 * S + 20, true, 30, { vlans: [200, 300] }),
    udp(15 * S + 30, true, 30, { src: 7, dst: 7, dstPort: 5354 }),
    udp(15 * S + 40, true, 30, { src: 7, dst: 7, srcPort: 5354, dstPort: 53 }),
    { atUs: 16 * S, version: 4, src: 8, dst: 9, protocol: SCTP, srcPort: 2905, dstPort: 2905, payload: 40 },
    { atUs: 16 * S + 10, version: 4, src: 8, dst: 9, protocol: OSPF, payload: 40 },
    // Packets no flow takes: a later fragment, a first fragment cut before its ports, a TCP header cut before
    // its ports, an IPv6 packet cut inside its extension headers.
    udp(17 * S, true, 1000, { fragmentOffset: 185 }),
    udp(17 * S + 10, true, 1000, { moreFragments: true, truncateBy: 1000 + 6 }),
    tcp(17 * S + 20, true, ACK, 0, { truncateBy: 18 }),
    { atUs: 17 * S + 30, version: 6, src: 1, dst: 2, protocol: 0, payload: 8, truncateBy: 8 },
    // A client in 10/8 and a server in 192.168/16 (address differences beyond 32 bits): options on the
    // handshake (longer headers, then shorter), urgent data back, and a reset by the client that is then left
    // to expire; a connection closed by FIN and left to expire; a scan probe with FIN, PSH and URG.
    tcp(18 * S, true, SYN, 0, { src: 20, dstNet: 0xc0a80000, options: 12 }),
    tcp(18 * S + 10, false, SYN | ACK, 0, { dst: 20, options: 12, net: 0xc0a80000, dstNet: 0x0a000000 }),
    tcp(18 * S + 20, true, ACK, 0, { src: 20, dstNet: 0xc0a80000 }),
    tcp(18 * S + 30, false, PSH | ACK | URG, 100, { dst: 20, net: 0xc0a80000, dstNet: 0x0a000000 }),
    tcp(18 * S + 40, true, RST | ACK, 0, { src: 20, dstNet: 0xc0a80000 }),
    tcp(18 * S + 50, true, SYN, 0, { srcPort: 40002 }),
    tcp(18 * S + 60, false, SYN | ACK, 0, { dstPort: 40002 }),
    tcp(18 * S + 70, true, FIN | ACK, 0, { srcPort: 40002 }),
    tcp(18 * S + 80, false, FIN | ACK, 0, { dstPort: 40002 }),
    tcp(18 * S + 90, true, ACK, 0, { srcPort: 40002 }),
    tcp(18 * S + 100, true, FIN | PSH | URG, 0, { src: 30, dstPort: 22 }),
    // Tunnelled (IPv6 and IPv4 inside IPv4), a Total Length of 0, a TCP data offset below the minimum.
    tcp(18 * S + 110, true, ACK, 20, { version: 6, tunnelled: true }),
    tcp(18 * S + 120, true, ACK, 20, { tunnelled: true }),
    tcp(18 * S + 130, true, PSH | ACK, 20, { zeroTotalLength: true }),
    tcp(18 * S + 140, true, ACK, 20, { badDataOffset: true }),
    // IPv6 with a hop-by-hop header (an MLD report), an IPv4-mapped source; UDP with a Length past the end.
    {
      atUs: 18 * S + 150,
      version: 6,
      src: 5,
      dst: 7,
      protocol: ICMPV6,
      icmpType: 143,
      payload: 20,
      hopByHop: true,
    },
    {
      atUs: 18 * S + 160,
      version: 6,
      src: 1,
      dst: 2,
      protocol: UDP,
      srcPort: 7,
      dstPort: 7,
      mappedSource: true,
    },
    udp(18 * S + 170, true, 10, { badUdpLength: true }),
    // IPv6 first fragment and IPv6 with an authentication header (both UDP); a UDP datagram to the VXLAN
    // port whose header does not announce a network (no inner frame is decoded).
    {
      atUs: 18 * S + 180,
      version: 6,
      src: 3,
      dst: 4,
      protocol: UDP,
      srcPort: 546,
      dstPort: 547,
      payload: 30,
      ipv6Fragment: true,
    },
    {
      atUs: 18 * S + 190,
      version: 6,
      src: 3,
      dst: 4,
      protocol: UDP,
      srcPort: 546,
      dstPort: 547,
      payload: 30,
      ipv6Authentication: true,
    },
    udp(18 * S + 200, true, 16, { dstPort: 4789 }),
    // An ECN-setup SYN (RFC 3168 §6.1.1: ECE and CWR set) as a flow's first packet; IPv6 with a Payload Length
    // of 0.
    tcp(18 * S + 210, true, SYN | ECE | CWR, 0, { srcPort: 40003 }),
    tcp(18 * S + 220, true, ACK, 20, { version: 6, zeroTotalLength: true }),
    // IPv6 with the same address on both ends.
    { atUs: 19 * S, version: 6, src: 9, dst: 9, protocol: UDP, srcPort: 5000, dstPort: 5001, payload: 10 },
    {
      atUs: 19 * S + 10,
      version: 6,
      src: 9,
      dst: 9,
      protocol: UDP,
      srcPort: 5001,
      dstPort: 5000,
      payload: 10,
    },
    // The TCP and UDP flows above go on, then past the flow timeout (TCP keeps its cumulative time; the
    // packet that splits it comes from the backward side).
    tcp(100 * S, true, ACK, 10),
    udp(100 * S, true, 40, { net: 0xc0a80000 }),
    tcp(140 * S, true, PSH | ACK | URG, 10),
    udp(140 * S, true, 40, { net: 0xc0a80000 }),
  ];
  // Many short flows: the table grows from its small warm-up size, then is full and evicts the oldest.
  for (let i = 0; i < 40; i++) {
    packets.push(udp(141 * S + i, true, 20 + i, { src: 10 + i, srcPort: 1000 + i }));
  }
  // A packet earlier than the capture's latest, and one far later: every open flow expires idle.
  packets.push(udp(130 * S, true, 20, { src: 60 }));
  packets.push(udp(400 * S, true, 20, { src: 61 }));
  return packets;
}

/** Writes one packet as an Ethernet frame into `out` (large enough); returns its captured length. */
function writeFrame(p: WarmUpPacket, out: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // Ethernet II: destination and source MAC, then tags and the EtherType.
  out.fill(0, 0, 12);
  out[5] = p.dst;
  out[11] = p.src;
  let at = 12;
  const vlans = p.vlans ?? [];
  vlans.forEach((vlan, i) => {
    view.setUint16(at, i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100);
    view.setUint16(at + 2, vlan);
    at += 4;
  });
  if (p.version === 0) {
    // ARP request (RFC 826), Ethernet/IPv4.
    view.setUint16(at, 0x0806);
    out.fill(0, at + 2, at + 30);
    view.setUint16(at + 2, 1);
    view.setUint16(at + 4, 0x0800);
    out[at + 6] = 6;
    out[at + 7] = 4;
    view.setUint16(at + 8, 1);
    return at + 30;
  }
  const payload = p.payload ?? 0;
  const transportHeader =
    p.protocol === TCP
      ? 20 + (p.options ?? 0)
      : p.protocol === UDP || p.protocol === ICMP || p.protocol === ICMPV6
        ? 8
        : 0;
  const sctpHeader = p.protocol === SCTP ? 12 : 0;
  const l4Length = transportHeader + sctpHeader + payload;
  let l4: number;
  let ip = at + 2;
  if (p.tunnelled) {
    // An outer IPv4 header (6in4 or IP-in-IP, RFC 4213 / RFC 2003) around the packet.
    view.setUint16(at, 0x0800);
    out.fill(0, ip, ip + 20);
    out[ip] = 0x45;
    view.setUint16(ip + 2, 20 + (p.version === 4 ? 20 : 40) + l4Length);
    out[ip + 8] = 64;
    out[ip + 9] = p.version === 4 ? 4 : 41;
    view.setUint32(ip + 12, 0xc0000201);
    view.setUint32(ip + 16, 0xc0000202);
    ip += 20;
  } else {
    view.setUint16(at, p.version === 4 ? 0x0800 : 0x86dd);
  }
  if (p.version === 4) {
    out.fill(0, ip, ip + 20);
    out[ip] = 0x45;
    // Total Length 0: what a capture taken before TCP segmentation offload holds.
    view.setUint16(ip + 2, p.zeroTotalLength ? 0 : 20 + l4Length);
    view.setUint16(ip + 4, 0x1234);
    view.setUint16(ip + 6, (p.moreFragments ? 0x2000 : 0) | (p.fragmentOffset ?? 0));
    out[ip + 8] = 64;
    out[ip + 9] = p.protocol;
    view.setUint32(ip + 12, (p.net ?? 0x0a000000) + p.src);
    view.setUint32(ip + 16, (p.dstNet ?? p.net ?? 0x0a000000) + p.dst);
    l4 = ip + 20;
  } else {
    out.fill(0, ip, ip + 40);
    out[ip] = 0x60;
    // Payload Length 0: a jumbogram's, or a capture taken before segmentation offload.
    view.setUint16(ip + 4, p.zeroTotalLength ? 0 : l4Length);
    out[ip + 6] = p.protocol;
    out[ip + 7] = 64;
    // 2001:db8::n; for ICMPv6, odd hosts are fe80::a8bb:ccff:0:n instead (link-local, with address words
    // above 2^31, so that the two ends differ by more than 2^31 in their first word).
    writeIpv6Address(view, ip + 8, p.src, p.protocol === ICMPV6 && p.src % 2 === 1);
    writeIpv6Address(view, ip + 24, p.dst, p.protocol === ICMPV6 && p.dst % 2 === 1);
    if (p.mappedSource) {
      out.fill(0, ip + 8, ip + 18);
      view.setUint16(ip + 18, 0xffff);
      view.setUint32(ip + 20, 0x0a000000 + p.src);
    }
    l4 = ip + 40;
    if (p.hopByHop) {
      // Next header, length 0 (8 bytes), router alert option (RFC 2711), PadN.
      view.setUint16(ip + 4, 8 + l4Length);
      out[ip + 6] = 0;
      out.set([p.protocol, 0, 5, 2, 0, 0, 1, 0], l4);
      l4 += 8;
    } else if (p.ipv6Fragment) {
      // RFC 8200 §4.5: next header, reserved, offset 0 with the M flag, identification.
      view.setUint16(ip + 4, 8 + l4Length);
      out[ip + 6] = 44;
      out.set([p.protocol, 0, 0, 1, 0, 0, 0x12, 0x34], l4);
      l4 += 8;
    } else if (p.ipv6Authentication) {
      // RFC 4302 §2: next header, payload length 1 (12 bytes), reserved, SPI, sequence number, 4-byte ICV.
      view.setUint16(ip + 4, 12 + l4Length);
      out[ip + 6] = 51;
      out.set([p.protocol, 1, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1], l4);
      l4 += 12;
    }
  }
  out.fill(0, l4, l4 + l4Length);
  if (p.protocol === TCP) {
    view.setUint16(l4, p.srcPort ?? 0);
    view.setUint16(l4 + 2, p.dstPort ?? 0);
    view.setUint32(l4 + 4, (p.seq ?? 0) >>> 0);
    view.setUint32(l4 + 8, ((p.seq ?? 0) + 7) >>> 0);
    // A bogus data offset (below 5 words) when asked for.
    out[l4 + 12] = (p.badDataOffset ? 4 : transportHeader / 4) << 4;
    out[l4 + 13] = p.flags ?? 0;
    view.setUint16(l4 + 14, 29_200 + payload);
  } else if (p.protocol === UDP) {
    view.setUint16(l4, p.srcPort ?? 0);
    view.setUint16(l4 + 2, p.dstPort ?? 0);
    view.setUint16(l4 + 4, p.badUdpLength ? 0xffff : 8 + payload);
  } else if (p.protocol === ICMP || p.protocol === ICMPV6) {
    out[l4] = p.icmpType ?? 0;
    out[l4 + 1] = p.icmpCode ?? 0;
  } else if (p.protocol === SCTP) {
    view.setUint16(l4, p.srcPort ?? 0);
    view.setUint16(l4 + 2, p.dstPort ?? 0);
  }
  const end = l4 + l4Length;
  if (p.truncateBy !== undefined) return Math.max(0, end - p.truncateBy);
  // Ethernet pads frames to 60 bytes (without the FCS): the IP datagram then ends before the frame.
  if (end < 60) out.fill(0, end, 60);
  return Math.max(end, 60);
}

function writeIpv6Address(view: DataView, at: number, host: number, linkLocal: boolean): void {
  view.setUint32(at, linkLocal ? 0xfe800000 : 0x20010db8);
  view.setUint32(at + 4, 0);
  view.setUint32(at + 8, linkLocal ? 0xa8bbccff : 0);
  view.setUint32(at + 12, host);
}

/** An IEEE 802.3 frame with an LLC header (a spanning-tree BPDU): a length where the EtherType would be. */
function writeLlcFrame(out: Uint8Array): number {
  out.fill(0, 0, 60);
  out.set([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00], 0);
  out[11] = 1;
  out[13] = 38;
  out.set([0x42, 0x42, 0x03], 14);
  return 60;
}

/** Start of the warm-up's clock: 2023-11-14 22:13:20 UTC, a timestamp of the size real captures have. */
const START_S = 1_700_000_000;

/**
 * Decodes the warm-up packets (in order) and hands each to `feed`, with a frame object of the reader's shape
 * and a DecodedPacket of its own.
 */
export function forEachWarmUpPacket(feed: (frame: RawFrame, packet: DecodedPacket) => void): void {
  const bytes = new Uint8Array(2048);
  const frame = newRawFrame();
  const packet = new DecodedPacket();
  frame.bytes = bytes;
  frame.linkType = 1;
  warmUpPackets().forEach((p, i) => {
    const length = i === 1 ? writeLlcFrame(bytes) : writeFrame(p, bytes);
    const seconds = Math.floor(p.atUs / S);
    frame.index = i + 1;
    frame.tsSec = START_S + seconds;
    frame.tsNanos = (p.atUs - seconds * S) * 1000;
    frame.capturedLength = length;
    frame.originalLength = length + (p.truncateBy ?? 0);
    frame.offset = 0;
    frame.fileOffset = i * 2048;
    decodeFrame(frame, packet);
    feed(frame, packet);
  });
}
