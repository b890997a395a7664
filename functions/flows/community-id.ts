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
import { hash } from 'node:crypto';

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;

/** ICMPv4 request/response pairs (spec: echo, router solicitation/advertisement, timestamp, info, mask). */
const ICMP4_COUNTERPART = new Map<number, number>([
  [8, 0],
  [0, 8],
  [13, 14],
  [14, 13],
  [15, 16],
  [16, 15],
  [10, 9],
  [9, 10],
  [17, 18],
  [18, 17],
]);

/** ICMPv6 pairs (spec: echo, MLD query/report, router and neighbour discovery, node information, HAAD). */
const ICMP6_COUNTERPART = new Map<number, number>([
  [128, 129],
  [129, 128],
  [130, 131],
  [131, 130],
  [133, 134],
  [134, 133],
  [135, 136],
  [136, 135],
  [139, 140],
  [140, 139],
  [144, 145],
  [145, 144],
]);

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

/** Length of "1:" + base64 of a 20-byte SHA-1 digest. */
export const COMMUNITY_ID_LENGTH = 30;

// Scratch shared by every call (single-threaded, nothing is kept between calls): the hash input, the
// SHA-1 message schedule and the digest, so computing an id allocates nothing but its final string.
const message = new Uint8Array(64);
const schedule = new Int32Array(80);
const digest = new Int32Array(5);
const idBytes = new Uint8Array(COMMUNITY_ID_LENGTH);
const idBuffer = Buffer.from(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength);
const BASE64 = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) =>
  c.charCodeAt(0),
);

/**
 * SHA-1 (FIPS 180-4 §6.1) of `message[0 .. length)`, length ≤ 55 so that the padded message is one 64-byte
 * block, into `digest`. The Community ID input is at most 40 bytes (IPv6), and hashing it here in plain
 * integer arithmetic costs a fraction of a call into OpenSSL (`crypto.hash`), which dominated the per-flow
 * cost of the id; a unit test checks it against node:crypto on random inputs.
 */
function sha1OneBlock(length: number): void {
  const m = message;
  m[length] = 0x80;
  m.fill(0, length + 1, 56);
  const bits = length * 8;
  m[56] = 0;
  m[57] = 0;
  m[58] = 0;
  m[59] = 0;
  m[60] = bits >>> 24;
  m[61] = (bits >>> 16) & 0xff;
  m[62] = (bits >>> 8) & 0xff;
  m[63] = bits & 0xff;
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const i = t * 4;
    w[t] = (m[i]! << 24) | (m[i + 1]! << 16) | (m[i + 2]! << 8) | m[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  let e = 0xc3d2e1f0 | 0;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc | 0;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6 | 0;
    }
    const next = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  digest[0] = (0x67452301 + a) | 0;
  digest[1] = (0xefcdab89 + b) | 0;
  digest[2] = (0x98badcfe + c) | 0;
  digest[3] = (0x10325476 + d) | 0;
  digest[4] = (0xc3d2e1f0 + e) | 0;
}

/** Byte `index` (0..19) of the digest, big-endian within each word. */
function digestByte(index: number): number {
  return (digest[index >> 2]! >>> (24 - 8 * (index & 3))) & 0xff;
}

/** "1:" + base64 (RFC 4648 §4, with padding) of the digest, as 30 ASCII bytes at `out[at ..]`. */
function writeEncodedDigest(out: Uint8Array, at: number): void {
  out[at] = 0x31; // '1'
  out[at + 1] = 0x3a; // ':'
  let o = at + 2;
  // 20 bytes = six 3-byte groups and a final 2-byte group (three characters and one '=').
  for (let i = 0; i < 18; i += 3) {
    const triple = (digestByte(i) << 16) | (digestByte(i + 1) << 8) | digestByte(i + 2);
    out[o] = BASE64[triple >>> 18]!;
    out[o + 1] = BASE64[(triple >>> 12) & 63]!;
    out[o + 2] = BASE64[(triple >>> 6) & 63]!;
    out[o + 3] = BASE64[triple & 63]!;
    o += 4;
  }
  const pair = (digestByte(18) << 8) | digestByte(19);
  out[o] = BASE64[pair >>> 10]!;
  out[o + 1] = BASE64[(pair >>> 4) & 63]!;
  out[o + 2] = BASE64[(pair << 2) & 63]!;
  out[o + 3] = 0x3d; // '='
}

/** Writes the hash input of the spec (§"Algorithm") into `buffer` and returns its length. */
function prepareMessage(input: CommunityIdInput, buffer: Uint8Array): number {
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
    const counterpart = (proto === PROTO_ICMP ? ICMP4_COUNTERPART : ICMP6_COUNTERPART).get(type);
    srcPort = type & 0xffff;
    if (counterpart === undefined) {
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

  const seed = input.seed ?? 0;
  buffer[0] = (seed >>> 8) & 0xff;
  buffer[1] = seed & 0xff;
  buffer.set(srcAddr, 2);
  buffer.set(dstAddr, 2 + srcAddr.length);
  let at = 2 + srcAddr.length + dstAddr.length;
  buffer[at++] = proto & 0xff;
  buffer[at++] = 0;
  if (srcPort >= 0) {
    buffer[at++] = (srcPort >>> 8) & 0xff;
    buffer[at++] = srcPort & 0xff;
    buffer[at++] = (dstPort >>> 8) & 0xff;
    buffer[at++] = dstPort & 0xff;
  }
  return at;
}

/** Inputs whose hash message fits one SHA-1 block (any real address: 4 or 16 bytes). */
function fitsOneBlock(input: CommunityIdInput): boolean {
  return input.sourceAddress.length + input.destinationAddress.length + 8 <= MAX_ONE_BLOCK_MESSAGE;
}

/** Longest message whose SHA-1 padding (0x80 byte, 64-bit length) still fits one 64-byte block. */
const MAX_ONE_BLOCK_MESSAGE = 55;

/** The Community ID v1 string of a flow ("1:" + base64 SHA-1, 30 characters). */
export function communityIdV1(input: CommunityIdInput): string {
  writeCommunityIdV1(input, idBytes, 0);
  return idBuffer.toString('latin1', 0, COMMUNITY_ID_LENGTH);
}

/**
 * Writes the Community ID v1 of a flow as 30 ASCII bytes at `out[at ..]` (the flow CSV writer's path: no
 * string at all); returns the index after it.
 */
export function writeCommunityIdV1(input: CommunityIdInput, out: Uint8Array, at: number): number {
  if (!fitsOneBlock(input)) {
    // Not produced by the flow meter (addresses are 4 or 16 bytes); kept working for library callers.
    const longMessage = new Uint8Array(input.sourceAddress.length + input.destinationAddress.length + 8);
    const length = prepareMessage(input, longMessage);
    const text = `1:${hash('sha1', longMessage.subarray(0, length), 'base64')}`;
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
    return at + text.length;
  }
  sha1OneBlock(prepareMessage(input, message));
  writeEncodedDigest(out, at);
  return at + COMMUNITY_ID_LENGTH;
}
