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
import { sha1 } from './sha1.js';

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

/** The hash input, reused (grown for unusual address lengths from library callers). */
let message = new Uint8Array(64);
const digest = new Int32Array(5);

/** RFC 4648 base64 alphabet, as character codes. */
const BASE64 = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) =>
  c.charCodeAt(0),
);
/** The digest's 20 bytes and one zero byte, so the base64 loop runs over whole 3-byte groups. */
const digestBytes = new Uint8Array(21);
/** "1:" and the 28 base64 characters of the digest (a plain array of small integers, see `idText`). */
const idChars: number[] = new Array<number>(30).fill(0);

/** "1:" + base64 (RFC 4648, padded) of the digest: the text `crypto.hash(..., 'base64')` gives, as one flat string. */
function idText(): string {
  const bytes = digestBytes;
  for (let word = 0; word < 5; word++) {
    const value = digest[word]!;
    bytes[4 * word] = value >>> 24;
    bytes[4 * word + 1] = (value >>> 16) & 0xff;
    bytes[4 * word + 2] = (value >>> 8) & 0xff;
    bytes[4 * word + 3] = value & 0xff;
  }
  const c = idChars;
  const alphabet = BASE64;
  c[0] = 0x31; // '1'
  c[1] = 0x3a; // ':'
  for (let group = 0; group < 7; group++) {
    const v = (bytes[3 * group]! << 16) | (bytes[3 * group + 1]! << 8) | bytes[3 * group + 2]!;
    c[2 + 4 * group] = alphabet[v >>> 18]!;
    c[3 + 4 * group] = alphabet[(v >>> 12) & 0x3f]!;
    c[4 + 4 * group] = alphabet[(v >>> 6) & 0x3f]!;
    c[5 + 4 * group] = alphabet[v & 0x3f]!;
  }
  // 20 bytes end with 2 bytes in the last group: three characters and one '='.
  c[29] = 0x3d;
  // One call with every character: a single flat string (`apply` over a small-integer array is as fast as
  // listing 30 arguments; spreading a typed array is ten times slower).
  return String.fromCharCode.apply(null, c);
}

export function communityIdV1(input: CommunityIdInput): string {
  const proto = input.ipProtocol;
  let srcAddr = input.sourceAddress;
  let dstAddr = input.destinationAddress;
  let srcPort = -1;
  let dstPort = -1;
  let oneWay = false;

  if (proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP) {
    srcPort = input.sourcePort;
    dstPort = input.destinationPort;
  } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
    const type = input.icmpType ?? 0;
    const code = input.icmpCode ?? 0;
    // Only integer types 0-255 have a counterpart (anything else, from a library caller, is one-way).
    const counterpart =
      (type | 0) === type && type >= 0 && type < 256
        ? (proto === PROTO_ICMP ? ICMP4_COUNTERPART : ICMP6_COUNTERPART)[type]!
        : -1;
    srcPort = type & 0xffff;
    if (counterpart < 0) {
      dstPort = code & 0xffff;
      oneWay = true;
    } else {
      dstPort = counterpart;
    }
  }

  const order = compareBytes(srcAddr, dstAddr);
  const ordered = order < 0 || (order === 0 && srcPort <= dstPort);
  if (!oneWay && !ordered) {
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
