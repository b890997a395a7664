/**
 * Hand-built frames for tests: one builder per header, each taking the header's fields and the already-built
 * payload (inner layers) and returning the bytes, so tests compose any stack, e.g.
 * `ethernet({ etherType: ETHERTYPE.IPV4 }, ipv4({ src, dst, protocol: IP_PROTO.TCP }, tcp({ srcPort, dstPort })))`.
 * Lengths (IPv4 total length, IPv6 payload length, UDP length, TCP data offset) are filled in from what the
 * builder is given unless a test overrides them to build a malformed header. `packet()` is the one-call form
 * for the common Ethernet + IP + transport case and `toRawFrame()` wraps bytes as the readers deliver them.
 * Multi-byte fields are big-endian (network byte order) unless the header says otherwise (NULL/LOOP, NFLOG TLVs).
 */
import type { RawFrame } from '../../functions/capture/frame.js';

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW: 101,
  RAW_12: 12,
  RAW_14: 14,
  PPP_HDLC: 50,
  C_HDLC: 104,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
  MPLS: 0x8847,
  MPLS_MULTICAST: 0x8848,
  PPPOE_SESSION: 0x8864,
  TRANSPARENT_ETHERNET: 0x6558,
} as const;

export const IP_PROTO = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT: 59,
  DESTINATION_OPTIONS: 60,
  SCTP: 132,
} as const;

/** TCP flag letters as in `tcp_flags_str` order (F S R P A U E C N) → bits. */
const TCP_FLAG_BITS: Readonly<Record<string, number>> = {
  F: 0x01,
  S: 0x02,
  R: 0x04,
  P: 0x08,
  A: 0x10,
  U: 0x20,
  E: 0x40,
  C: 0x80,
  N: 0x100,
};

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function bytesOf(...values: readonly number[]): Uint8Array {
  return Uint8Array.from(values);
}

function u16(value: number): Uint8Array {
  return bytesOf((value >>> 8) & 0xff, value & 0xff);
}

function u32(value: number): Uint8Array {
  return bytesOf((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

/** A payload of `length` bytes (0x00, 0x01, ... repeating) when given a number. */
export function payloadBytes(payload: Uint8Array | number | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  if (typeof payload === 'number') return Uint8Array.from({ length: payload }, (_, i) => i & 0xff);
  return payload;
}

export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/).map((part) => Number.parseInt(part, 16));
  if (parts.length !== 6 || parts.some((part) => !(part >= 0 && part <= 255)))
    throw new Error(`bad MAC ${text}`);
  return Uint8Array.from(parts);
}

export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !(Number.isInteger(part) && part >= 0 && part <= 255))) {
    throw new Error(`bad IPv4 ${text}`);
  }
  return Uint8Array.from(parts);
}

/** IPv6 text (with "::" and an optional dotted-quad tail) → 16 bytes. */
export function parseIpv6(text: string): Uint8Array {
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = parseIpv4(dotted[1]);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    head = text.slice(0, dotted.index);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 ${text}`);
  const toGroups = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = toGroups(halves[0]);
  const right = toGroups(halves[1]);
  const fill = halves.length === 2 ? 8 - tail.length - left.length - right.length : 0;
  const groups = [...left, ...new Array<number>(fill).fill(0), ...right, ...tail];
  if (groups.length !== 8 || groups.some((group) => !(group >= 0 && group <= 0xffff))) {
    throw new Error(`bad IPv6 ${text}`);
  }
  return concat(...groups.map(u16));
}

/** RFC 1071 Internet checksum over `bytes`. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function tcpFlagBits(flags: number | string): number {
  if (typeof flags === 'number') return flags;
  let bits = 0;
  for (const letter of flags) {
    const bit = TCP_FLAG_BITS[letter];
    if (bit === undefined) throw new Error(`unknown TCP flag letter ${letter}`);
    bits |= bit;
  }
  return bits;
}

// ---------------------------------------------------------------- link layers

export interface EthernetOptions {
  dst?: string;
  src?: string;
  etherType: number;
  /** 802.1Q tags (TPID 0x8100), outermost first. With `qinq`, the first tag uses TPID 0x88a8 (802.1ad). */
  vlanIds?: readonly number[];
  qinq?: boolean;
  /** Priority code point for every tag (3 bits). */
  vlanPriority?: number;
  /** Bytes appended after the payload (Ethernet minimum-size padding or FCS), not counted by IP lengths. */
  trailer?: Uint8Array | number;
}

/** IEEE 802.3 Ethernet II header (+ 802.1Q/802.1ad tags). */
export function ethernet(options: EthernetOptions, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const tags = (options.vlanIds ?? []).map((vlanId, i) =>
    concat(
      u16(options.qinq && i === 0 ? ETHERTYPE.QINQ : ETHERTYPE.VLAN),
      u16(((options.vlanPriority ?? 0) << 13) | (vlanId & 0xfff)),
    ),
  );
  const trailer =
    typeof options.trailer === 'number'
      ? new Uint8Array(options.trailer)
      : (options.trailer ?? new Uint8Array(0));
  return concat(
    parseMac(options.dst ?? '00:00:5e:00:53:02'),
    parseMac(options.src ?? '00:00:5e:00:53:01'),
    ...tags,
    u16(options.etherType),
    payload,
    trailer,
  );
}

/** MPLS label stack entries (RFC 3032 §2.1); the bottom-of-stack bit is set on the last label. */
export function mpls(labels: readonly number[], payload: Uint8Array, ttl = 64): Uint8Array {
  return concat(
    ...labels.map((label, i) => u32(((label & 0xfffff) << 12) | (i === labels.length - 1 ? 0x100 : 0) | ttl)),
    payload,
  );
}

/** PPPoE session header (RFC 2516 §4) + PPP protocol field (RFC 1661 §2): 0x0021 IPv4, 0x0057 IPv6. */
export function pppoeSession(pppProtocol: number, payload: Uint8Array, sessionId = 0x1234): Uint8Array {
  return concat(bytesOf(0x11, 0x00), u16(sessionId), u16(payload.length + 2), u16(pppProtocol), payload);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16-byte header, protocol type at offset 14. */
export function sll(
  protocol: number,
  payload: Uint8Array,
  source = '00:00:5e:00:53:01',
  packetType = 0,
): Uint8Array {
  const address = concat(parseMac(source), bytesOf(0, 0));
  return concat(u16(packetType), u16(1), u16(6), address, u16(protocol), payload);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20-byte header, protocol type first. */
export function sll2(
  protocol: number,
  payload: Uint8Array,
  source = '00:00:5e:00:53:01',
  interfaceIndex = 2,
): Uint8Array {
  return concat(
    u16(protocol),
    u16(0),
    u32(interfaceIndex),
    u16(1),
    bytesOf(0, 6),
    parseMac(source),
    bytesOf(0, 0),
    payload,
  );
}

/**
 * BSD loopback (LINKTYPE_NULL: address family in the capturing host's byte order — little-endian here unless
 * `bigEndian`) or LINKTYPE_LOOP (always big-endian). AF_INET = 2; AF_INET6 = 24, 28 or 30 by OS.
 */
export function nullLoopback(family: number, payload: Uint8Array, bigEndian = false): Uint8Array {
  const header = bigEndian ? u32(family) : u32(family).reverse();
  return concat(header, payload);
}

/** PPP in HDLC-like framing (RFC 1662): address 0xff, control 0x03, 16-bit protocol. */
export function pppHdlc(pppProtocol: number, payload: Uint8Array): Uint8Array {
  return concat(bytesOf(0xff, 0x03), u16(pppProtocol), payload);
}

/** Cisco HDLC: address (0x0f unicast / 0x8f broadcast), control 0, EtherType. */
export function ciscoHdlc(etherType: number, payload: Uint8Array): Uint8Array {
  return concat(bytesOf(0x0f, 0x00), u16(etherType), payload);
}

/** NFLOG (LINKTYPE_NFLOG): 4-byte header then host-endian (little here) TLVs; the packet is TLV type 9. */
export function nflog(family: number, payload: Uint8Array): Uint8Array {
  const tlv = (type: number, value: Uint8Array): Uint8Array => {
    const length = 4 + value.length;
    const padded = (length + 3) & ~3;
    return concat(
      bytesOf(length & 0xff, length >> 8, type & 0xff, type >> 8),
      value,
      new Uint8Array(padded - length),
    );
  };
  return concat(
    bytesOf(family, 0, 0, 0),
    tlv(1, bytesOf(0x08, 0x00, 0x01, 0x00)),
    tlv(10, u32(0)),
    tlv(9, payload),
  );
}

/**
 * IEEE 802.11 data frame (FromDS/ToDS = 0: addr1 = destination, addr2 = source, addr3 = BSSID) carrying
 * LLC/SNAP (RFC 1042) with the EtherType. `qos` adds the 2-byte QoS control field (subtype 8).
 */
export function wifiData(
  options: { dst?: string; src?: string; bssid?: string; qos?: boolean },
  etherType: number,
  payload: Uint8Array,
): Uint8Array {
  const frameControl = options.qos ? bytesOf(0x88, 0x00) : bytesOf(0x08, 0x00);
  return concat(
    frameControl,
    bytesOf(0, 0),
    parseMac(options.dst ?? '00:00:5e:00:53:02'),
    parseMac(options.src ?? '00:00:5e:00:53:01'),
    parseMac(options.bssid ?? '00:00:5e:00:53:ff'),
    bytesOf(0, 0),
    options.qos ? bytesOf(0, 0) : new Uint8Array(0),
    bytesOf(0xaa, 0xaa, 0x03, 0, 0, 0),
    u16(etherType),
    payload,
  );
}

/** Minimal radiotap header (version 0, little-endian length, no present fields but Flags) before 802.11. */
export function radiotap(payload: Uint8Array, flags = 0): Uint8Array {
  // it_present bit 1 = Flags (1 byte); bit 0x10 of Flags means "frame has FCS at the end".
  return concat(bytesOf(0, 0, 9, 0, 0x02, 0, 0, 0, flags), payload);
}

// ---------------------------------------------------------------- network layers

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;
  id?: number;
  tos?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragmentOffset?: number;
  /** Raw option bytes; padded to a multiple of 4 with End-of-Options. */
  options?: Uint8Array;
  /** Overrides the computed total length (header + payload). */
  totalLength?: number;
}

/** IPv4 header (RFC 791 §3.1) with a valid header checksum. */
export function ipv4(options: Ipv4Options, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const rawOptions = options.options ?? new Uint8Array(0);
  const optionBytes = concat(rawOptions, new Uint8Array((4 - (rawOptions.length % 4)) % 4));
  const headerLength = 20 + optionBytes.length;
  const flags = (options.dontFragment ? 0x4000 : 0) | (options.moreFragments ? 0x2000 : 0);
  const header = concat(
    bytesOf(0x40 | (headerLength / 4), options.tos ?? 0),
    u16(options.totalLength ?? headerLength + payload.length),
    u16(options.id ?? 0x1234),
    u16(flags | ((options.fragmentOffset ?? 0) >> 3)),
    bytesOf(options.ttl ?? 64, options.protocol),
    u16(0),
    parseIpv4(options.src),
    parseIpv4(options.dst),
    optionBytes,
  );
  const checksum = internetChecksum(header);
  header[10] = checksum >> 8;
  header[11] = checksum & 0xff;
  return concat(header, payload);
}

/** One IPv6 extension header: its own protocol number and body (the bytes after next-header/length). */
export interface Ipv6Extension {
  /** IP_PROTO.HOP_BY_HOP, ROUTING, DESTINATION_OPTIONS (8-octet units), FRAGMENT (fixed 8) or AH (4-octet units). */
  type: number;
  /** Body bytes after the 2 leading bytes; zero-padded to the header's unit. Default: minimal body. */
  body?: Uint8Array;
  /** For FRAGMENT: offset in bytes, M flag, identification. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  identification?: number;
}

export interface Ipv6Options {
  src: string;
  dst: string;
  /** Protocol after the extension headers. */
  nextHeader: number;
  hopLimit?: number;
  flowLabel?: number;
  extensions?: readonly Ipv6Extension[];
  /** Overrides the computed payload length. */
  payloadLength?: number;
}

function ipv6Extension(extension: Ipv6Extension, nextHeader: number): Uint8Array {
  if (extension.type === IP_PROTO.FRAGMENT) {
    // RFC 8200 §4.5: offset in 8-octet units in the top 13 bits, M flag in bit 0.
    return concat(
      bytesOf(nextHeader, 0),
      u16((extension.fragmentOffset ?? 0) | (extension.moreFragments ? 1 : 0)),
      u32(extension.identification ?? 0xabcd),
    );
  }
  if (extension.type === IP_PROTO.AH) {
    // RFC 4302 §2.2: payload length in 4-octet units minus 2; SPI, sequence, ICV (12 bytes here).
    const body = extension.body ?? new Uint8Array(22);
    const total = 2 + body.length + ((4 - ((2 + body.length) % 4)) % 4);
    return concat(bytesOf(nextHeader, total / 4 - 2), body, new Uint8Array(total - 2 - body.length));
  }
  // RFC 8200 §4.3-4.6: length in 8-octet units not counting the first 8.
  const body = extension.body ?? new Uint8Array(6);
  const total = 2 + body.length + ((8 - ((2 + body.length) % 8)) % 8);
  return concat(bytesOf(nextHeader, total / 8 - 1), body, new Uint8Array(total - 2 - body.length));
}

/** IPv6 fixed header (RFC 8200 §3) + extension headers. */
export function ipv6(options: Ipv6Options, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const extensions = options.extensions ?? [];
  const built: Uint8Array[] = [];
  for (let i = 0; i < extensions.length; i++) {
    const next = i + 1 < extensions.length ? extensions[i + 1]!.type : options.nextHeader;
    built.push(ipv6Extension(extensions[i]!, next));
  }
  const body = concat(...built, payload);
  const firstNext = extensions.length > 0 ? extensions[0]!.type : options.nextHeader;
  const flowLabel = options.flowLabel ?? 0;
  return concat(
    u32(0x60000000 | (flowLabel & 0xfffff)),
    u16(options.payloadLength ?? body.length),
    bytesOf(firstNext, options.hopLimit ?? 64),
    parseIpv6(options.src),
    parseIpv6(options.dst),
    body,
  );
}

/** ARP for IPv4 over Ethernet (RFC 826). */
export function arp(options: {
  opcode: number;
  senderMac?: string;
  senderIp: string;
  targetMac?: string;
  targetIp: string;
}): Uint8Array {
  return concat(
    u16(1),
    u16(ETHERTYPE.IPV4),
    bytesOf(6, 4),
    u16(options.opcode),
    parseMac(options.senderMac ?? '00:00:5e:00:53:01'),
    parseIpv4(options.senderIp),
    parseMac(options.targetMac ?? '00:00:00:00:00:00'),
    parseIpv4(options.targetIp),
  );
}

// ---------------------------------------------------------------- transport layers

export interface TcpOptions {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  /** Flag bits or letters (F S R P A U E C N), e.g. 'SA'. Default 'A'. */
  flags?: number | string;
  window?: number;
  urgentPointer?: number;
  /** Raw option bytes; zero-padded (End of Option List, RFC 9293 §3.2) to a multiple of 4. */
  options?: Uint8Array;
  /** Overrides the data offset (in bytes) written in the header. */
  headerLength?: number;
}

/** TCP header (RFC 9293 §3.1). Checksum left 0 (the decoders do not verify it). */
export function tcp(options: TcpOptions, payload: Uint8Array | number = new Uint8Array(0)): Uint8Array {
  const rawOptions = options.options ?? new Uint8Array(0);
  const optionBytes = concat(rawOptions, new Uint8Array((4 - (rawOptions.length % 4)) % 4));
  const headerLength = options.headerLength ?? 20 + optionBytes.length;
  const flags = tcpFlagBits(options.flags ?? 'A');
  return concat(
    u16(options.srcPort),
    u16(options.dstPort),
    u32(options.seq ?? 1000),
    u32(options.ack ?? 0),
    bytesOf(((headerLength / 4) << 4) | ((flags >> 8) & 1), flags & 0xff),
    u16(options.window ?? 65535),
    u16(0),
    u16(options.urgentPointer ?? 0),
    optionBytes,
    payloadBytes(payload),
  );
}

/** Common TCP options: MSS (kind 2), SACK-permitted (4), timestamps (8), window scale (3), NOP (1). */
export const TCP_OPTION = {
  mss: (value: number): Uint8Array => concat(bytesOf(2, 4), u16(value)),
  sackPermitted: (): Uint8Array => bytesOf(4, 2),
  timestamps: (value: number, echo: number): Uint8Array => concat(bytesOf(8, 10), u32(value), u32(echo)),
  windowScale: (shift: number): Uint8Array => bytesOf(3, 3, shift),
  nop: (): Uint8Array => bytesOf(1),
};

/** UDP header (RFC 768); length = 8 + payload unless overridden. */
export function udp(
  options: { srcPort: number; dstPort: number; length?: number },
  payload: Uint8Array | number = new Uint8Array(0),
): Uint8Array {
  const body = payloadBytes(payload);
  return concat(
    u16(options.srcPort),
    u16(options.dstPort),
    u16(options.length ?? 8 + body.length),
    u16(0),
    body,
  );
}

/** ICMP (RFC 792) or ICMPv6 (RFC 4443 §2.1) message: type, code, checksum, 4 bytes rest-of-header. */
export function icmp(
  options: { type: number; code?: number; rest?: number },
  payload: Uint8Array | number = new Uint8Array(0),
): Uint8Array {
  return concat(
    bytesOf(options.type, options.code ?? 0),
    u16(0),
    u32(options.rest ?? 0x00010001),
    payloadBytes(payload),
  );
}

/** SCTP common header (RFC 9260 §3.1) + raw chunk bytes. */
export function sctp(
  options: { srcPort: number; dstPort: number; verificationTag?: number },
  chunks: Uint8Array | number = new Uint8Array(0),
): Uint8Array {
  return concat(
    u16(options.srcPort),
    u16(options.dstPort),
    u32(options.verificationTag ?? 1),
    u32(0),
    payloadBytes(chunks),
  );
}

/** GRE header (RFC 2784 §2, RFC 2890 key/sequence): optional checksum, key and sequence fields. */
export function gre(
  options: { protocol: number; checksum?: boolean; key?: number; sequence?: number },
  payload: Uint8Array,
): Uint8Array {
  const flags =
    (options.checksum ? 0x8000 : 0) |
    (options.key !== undefined ? 0x2000 : 0) |
    (options.sequence !== undefined ? 0x1000 : 0);
  return concat(
    u16(flags),
    u16(options.protocol),
    options.checksum ? u32(0) : new Uint8Array(0),
    options.key !== undefined ? u32(options.key) : new Uint8Array(0),
    options.sequence !== undefined ? u32(options.sequence) : new Uint8Array(0),
    payload,
  );
}

/** VXLAN header (RFC 7348 §5): I flag, 24-bit VNI; the payload is an inner Ethernet frame. */
export function vxlan(vni: number, innerEthernet: Uint8Array): Uint8Array {
  return concat(bytesOf(0x08, 0, 0, 0), u32((vni & 0xffffff) << 8), innerEthernet);
}

// ---------------------------------------------------------------- one-call packets and frames

export interface PacketSpec {
  src: string;
  dst: string;
  /** 'tcp' | 'udp' | 'icmp' (ICMPv6 for IPv6 addresses) | 'sctp' or an IP protocol number (no transport built). */
  protocol: 'tcp' | 'udp' | 'icmp' | 'sctp' | number;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags (bits or letters); default 'A'. */
  flags?: number | string;
  seq?: number;
  ack?: number;
  window?: number;
  tcpOptions?: Uint8Array;
  icmpType?: number;
  icmpCode?: number;
  /** Transport payload (bytes, or a length). */
  payload?: Uint8Array | number;
  ttl?: number;
  ipId?: number;
  srcMac?: string;
  dstMac?: string;
  vlanIds?: readonly number[];
  /** Ethernet trailer bytes (padding) after the IP packet. */
  trailer?: Uint8Array | number;
}

/** The IP packet (no link layer) for a spec; IPv6 when `src` contains ':'. */
export function ipPacket(spec: PacketSpec): Uint8Array {
  const isIpv6 = spec.src.includes(':');
  let protocolNumber: number;
  let transport: Uint8Array;
  const ports = { srcPort: spec.srcPort ?? 40000, dstPort: spec.dstPort ?? 80 };
  switch (spec.protocol) {
    case 'tcp':
      protocolNumber = IP_PROTO.TCP;
      transport = tcp(
        {
          ...ports,
          flags: spec.flags ?? 'A',
          ...(spec.seq === undefined ? {} : { seq: spec.seq }),
          ...(spec.ack === undefined ? {} : { ack: spec.ack }),
          ...(spec.window === undefined ? {} : { window: spec.window }),
          ...(spec.tcpOptions === undefined ? {} : { options: spec.tcpOptions }),
        },
        spec.payload,
      );
      break;
    case 'udp':
      protocolNumber = IP_PROTO.UDP;
      transport = udp(ports, spec.payload);
      break;
    case 'icmp':
      protocolNumber = isIpv6 ? IP_PROTO.ICMPV6 : IP_PROTO.ICMP;
      transport = icmp({ type: spec.icmpType ?? (isIpv6 ? 128 : 8), code: spec.icmpCode ?? 0 }, spec.payload);
      break;
    case 'sctp':
      protocolNumber = IP_PROTO.SCTP;
      transport = sctp(ports, spec.payload);
      break;
    default:
      protocolNumber = spec.protocol;
      transport = payloadBytes(spec.payload);
  }
  return isIpv6
    ? ipv6({ src: spec.src, dst: spec.dst, nextHeader: protocolNumber, hopLimit: spec.ttl ?? 64 }, transport)
    : ipv4(
        {
          src: spec.src,
          dst: spec.dst,
          protocol: protocolNumber,
          ttl: spec.ttl ?? 64,
          id: spec.ipId ?? 0x1234,
        },
        transport,
      );
}

/** An Ethernet frame carrying `ipPacket(spec)`. */
export function packet(spec: PacketSpec): Uint8Array {
  return ethernet(
    {
      etherType: spec.src.includes(':') ? ETHERTYPE.IPV6 : ETHERTYPE.IPV4,
      ...(spec.srcMac === undefined ? {} : { src: spec.srcMac }),
      ...(spec.dstMac === undefined ? {} : { dst: spec.dstMac }),
      ...(spec.vlanIds === undefined ? {} : { vlanIds: spec.vlanIds }),
      ...(spec.trailer === undefined ? {} : { trailer: spec.trailer }),
    },
    ipPacket(spec),
  );
}

export interface RawFrameOptions {
  index?: number;
  linkType?: number;
  interfaceId?: number;
  /** Timestamp as integer microseconds since the epoch (alternative to tsSec/tsNanos). */
  tsUs?: number;
  tsSec?: number;
  tsNanos?: number;
  /** Wire length; default: the bytes' length. */
  originalLength?: number;
  /** Keep only this many bytes (snap length truncation). */
  capturedLength?: number;
  /** Place the frame at this offset in a larger buffer (filled with 0xee) to test offset handling. */
  bufferOffset?: number;
}

/** Wraps bytes as a `RawFrame` the way a container reader delivers it. */
export function toRawFrame(bytes: Uint8Array, options: RawFrameOptions = {}): RawFrame {
  const capturedLength = Math.min(options.capturedLength ?? bytes.length, bytes.length);
  const offset = options.bufferOffset ?? 0;
  const buffer = new Uint8Array(offset + capturedLength + 16).fill(0xee);
  buffer.set(bytes.subarray(0, capturedLength), offset);
  const tsSec =
    options.tsUs === undefined ? (options.tsSec ?? 1_700_000_000) : Math.floor(options.tsUs / 1e6);
  const tsNanos = options.tsUs === undefined ? (options.tsNanos ?? 0) : (options.tsUs % 1e6) * 1000;
  return {
    index: options.index ?? 1,
    linkType: options.linkType ?? LINKTYPE.ETHERNET,
    interfaceId: options.interfaceId ?? 0,
    tsSec,
    tsNanos,
    capturedLength,
    originalLength: options.originalLength ?? bytes.length,
    bytes: buffer,
    offset,
    fileOffset: 0,
  };
}
