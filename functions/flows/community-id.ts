/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): a flow hash shared by Zeek, Suricata,
 * Arkime and others, so our flows join with their logs. Computed once per flow (not per packet).
 *
 * Input to SHA-1, all in network byte order: seed (2 bytes), source address, destination address,
 * IP protocol (1 byte), one zero padding byte, then source and destination port (2 bytes each) for the
 * protocols that have ports (TCP, UDP, SCTP; ICMP/ICMPv6 use type and the "counterpart" type or code).
 * The endpoints are ordered (smaller address, then smaller port, first) unless an ICMP message is one-way.
 * Result: "1:" + base64 of the digest.
 */
import { sha1, sha1PaddedBlock } from './sha1.js';

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;

/** ICMPv4 request/response pairs (spec: echo, router solicitation/advertisement, timestamp, info, mask). */
const ICMP4_PAIRS: readonly [number, number][] = [
  [8, 0],
  [13, 14],
  [15, 16],
  [10, 9],
  [17, 18],
];

/** ICMPv6 pairs (spec: echo, MLD query/report, router and neighbour discovery, node information, HAAD). */
const ICMP6_PAIRS: readonly [number, number][] = [
  [128, 129],
  [130, 131],
  [133, 134],
  [135, 136],
  [139, 140],
  [144, 145],
];

/** Counterpart type by type (-1: none, a one-way message), a table rather than a Map: read once per flow. */
function counterpartTable(pairs: readonly [number, number][]): Int16Array {
  const table = new Int16Array(256).fill(-1);
  for (const [request, response] of pairs) {
    table[request] = response;
    table[response] = request;
  }
  return table;
}
const ICMP4_COUNTERPART = counterpartTable(ICMP4_PAIRS);
const ICMP6_COUNTERPART = counterpartTable(ICMP6_PAIRS);

export interface CommunityIdInput {
  /** 4 (IPv4) or 16 (IPv6) address bytes. */
  sourceAddress: Uint8Array;
  destinationAddress: Uint8Array;
  ipProtocol: number;
  /** TCP/UDP/SCTP ports; ignored for other protocols. */
  sourcePort: number;
  destinationPort: number;
  /** ICMP/ICMPv6 type and code of the flow's first message; ignored for other protocols. */
  icmpType?: number;
  icmpCode?: number;
  seed?: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const diff = a[i]! - b[i]!;
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

/**
 * The "ports" the spec hashes for a protocol, left in `ports`: [source, destination, oneWay]. TCP/UDP/SCTP
 * use their ports; ICMP/ICMPv6 the type and the counterpart type (or the code when the type has none, which
 * makes the flow one-way: its endpoints are not reordered); other protocols none (-1).
 */
const ports = new Int32Array(3);
function specPorts(
  proto: number,
  sourcePort: number,
  destinationPort: number,
  type: number,
  code: number,
): void {
  let srcPort = -1;
  let dstPort = -1;
  let oneWay = 0;
  if (proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP) {
    srcPort = sourcePort;
    dstPort = destinationPort;
  } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
    // Only integer types 0-255 have a counterpart (anything else, from a library caller, is one-way).
    const counterpart =
      (type | 0) === type && type >= 0 && type < 256
        ? (proto === PROTO_ICMP ? ICMP4_COUNTERPART : ICMP6_COUNTERPART)[type]!
        : -1;
    srcPort = type & 0xffff;
    if (counterpart < 0) {
      dstPort = code & 0xffff;
      oneWay = 1;
    } else {
      dstPort = counterpart;
    }
  }
  ports[0] = srcPort;
  ports[1] = dstPort;
  ports[2] = oneWay;
}

/** The hash input, reused (grown for unusual address lengths from library callers). */
let message = new Uint8Array(64);
/** The padded one-block input of an IPv4 flow, as words. */
const block = new Int32Array(16);
const digest = new Int32Array(5);

/** RFC 4648 base64 alphabet, as character codes. */
const BASE64 = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) =>
  c.charCodeAt(0),
);
/**
 * "1:" + base64 (RFC 4648, padded) of the digest: the text `crypto.hash(..., 'base64')` gives, as one flat
 * string. The 20 bytes are regrouped 24 bits at a time (six groups and 2 bytes left, padded with a zero byte:
 * three characters and one '='), and every character goes to one `String.fromCharCode` call as its own
 * argument (measured faster than `apply` over an array of codes, and no array to fill).
 */
function idText(): string {
  const d = digest;
  const a = BASE64;
  const d0 = d[0]! >>> 0;
  const d1 = d[1]! >>> 0;
  const d2 = d[2]! >>> 0;
  const d3 = d[3]! >>> 0;
  const d4 = d[4]! >>> 0;
  const g0 = d0 >>> 8;
  const g1 = ((d0 & 0xff) << 16) | (d1 >>> 16);
  const g2 = ((d1 & 0xffff) << 8) | (d2 >>> 24);
  const g3 = d2 & 0xffffff;
  const g4 = d3 >>> 8;
  const g5 = ((d3 & 0xff) << 16) | (d4 >>> 16);
  const g6 = (d4 & 0xffff) << 8;
  return String.fromCharCode(
    0x31, // '1'
    0x3a, // ':'
    a[g0 >>> 18]!,
    a[(g0 >>> 12) & 0x3f]!,
    a[(g0 >>> 6) & 0x3f]!,
    a[g0 & 0x3f]!,
    a[g1 >>> 18]!,
    a[(g1 >>> 12) & 0x3f]!,
    a[(g1 >>> 6) & 0x3f]!,
    a[g1 & 0x3f]!,
    a[g2 >>> 18]!,
    a[(g2 >>> 12) & 0x3f]!,
    a[(g2 >>> 6) & 0x3f]!,
    a[g2 & 0x3f]!,
    a[g3 >>> 18]!,
    a[(g3 >>> 12) & 0x3f]!,
    a[(g3 >>> 6) & 0x3f]!,
    a[g3 & 0x3f]!,
    a[g4 >>> 18]!,
    a[(g4 >>> 12) & 0x3f]!,
    a[(g4 >>> 6) & 0x3f]!,
    a[g4 & 0x3f]!,
    a[g5 >>> 18]!,
    a[(g5 >>> 12) & 0x3f]!,
    a[(g5 >>> 6) & 0x3f]!,
    a[g5 & 0x3f]!,
    a[g6 >>> 18]!,
    a[(g6 >>> 12) & 0x3f]!,
    a[(g6 >>> 6) & 0x3f]!,
    0x3d, // '='
  );
}

export function communityIdV1(input: CommunityIdInput): string {
  const proto = input.ipProtocol;
  let srcAddr = input.sourceAddress;
  let dstAddr = input.destinationAddress;
  specPorts(proto, input.sourcePort, input.destinationPort, input.icmpType ?? 0, input.icmpCode ?? 0);
  let srcPort = ports[0]!;
  let dstPort = ports[1]!;

  const order = compareBytes(srcAddr, dstAddr);
  const ordered = order < 0 || (order === 0 && srcPort <= dstPort);
  if (ports[2] === 0 && !ordered) {
    const address = srcAddr;
    srcAddr = dstAddr;
    dstAddr = address;
    const port = srcPort;
    srcPort = dstPort;
    dstPort = port;
  }

  const hasPorts = srcPort >= 0;
  const srcLength = srcAddr.length;
  const dstLength = dstAddr.length;
  const length = 2 + srcLength + dstLength + 2 + (hasPorts ? 4 : 0);
  if (length > message.length) message = new Uint8Array(length);
  const buffer = message;
  const seed = input.seed ?? 0;
  buffer[0] = (seed >>> 8) & 0xff;
  buffer[1] = seed & 0xff;
  for (let i = 0; i < srcLength; i++) buffer[2 + i] = srcAddr[i]!;
  let at = 2 + srcLength;
  for (let i = 0; i < dstLength; i++) buffer[at + i] = dstAddr[i]!;
  at += dstLength;
  buffer[at++] = proto & 0xff;
  buffer[at++] = 0;
  if (hasPorts) {
    buffer[at++] = (srcPort >>> 8) & 0xff;
    buffer[at++] = srcPort & 0xff;
    buffer[at++] = (dstPort >>> 8) & 0xff;
    buffer[at] = dstPort & 0xff;
  }
  sha1(buffer, length, digest);
  return idText();
}

/**
 * `communityIdV1` of an IPv4 flow whose addresses are unsigned 32-bit values (the flow table's form): the
 * same id, with the hash input built straight as the words of its single SHA-1 block.
 */
export function communityIdV1Ipv4(
  sourceAddress: number,
  destinationAddress: number,
  ipProtocol: number,
  sourcePort: number,
  destinationPort: number,
  icmpType: number,
  icmpCode: number,
  seed = 0,
): string {
  specPorts(ipProtocol, sourcePort, destinationPort, icmpType, icmpCode);
  let src = sourceAddress >>> 0;
  let dst = destinationAddress >>> 0;
  let srcPort = ports[0]!;
  let dstPort = ports[1]!;
  if (ports[2] === 0 && (src > dst || (src === dst && srcPort > dstPort))) {
    const address = src;
    src = dst;
    dst = address;
    const port = srcPort;
    srcPort = dstPort;
    dstPort = port;
  }
  // seed(2) src(4) dst(4) proto(1) 0(1) [srcPort(2) dstPort(2)], then 0x80 and the bit length (96 or 128).
  const w = block;
  w[0] = ((seed & 0xffff) << 16) | (src >>> 16);
  w[1] = ((src & 0xffff) << 16) | (dst >>> 16);
  w[2] = ((dst & 0xffff) << 16) | ((ipProtocol & 0xff) << 8);
  if (srcPort >= 0) {
    w[3] = ((srcPort & 0xffff) << 16) | (dstPort & 0xffff);
    w[4] = 0x80000000 | 0;
    w[15] = 128;
  } else {
    w[3] = 0x80000000 | 0;
    w[4] = 0;
    w[15] = 96;
  }
  sha1PaddedBlock(w, digest);
  return idText();
}
