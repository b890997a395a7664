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

/**
 * The hash input is one of four lengths for real flows (IPv4/IPv6, with or without ports): one reused buffer
 * per length saves an allocation per flow (the id is computed for every flow emitted).
 */
const messagesByLength = new Map<number, Uint8Array>();
function messageOfLength(length: number): Uint8Array {
  let message = messagesByLength.get(length);
  if (message === undefined) {
    message = new Uint8Array(length);
    // Unusual address lengths (library callers) must not grow the cache without bound.
    if (messagesByLength.size < 16) messagesByLength.set(length, message);
  }
  return message;
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
    [srcAddr, dstAddr] = [dstAddr, srcAddr];
    [srcPort, dstPort] = [dstPort, srcPort];
  }

  const hasPorts = srcPort >= 0;
  const length = 2 + srcAddr.length + dstAddr.length + 2 + (hasPorts ? 4 : 0);
  const buffer = messageOfLength(length);
  const seed = input.seed ?? 0;
  buffer[0] = (seed >>> 8) & 0xff;
  buffer[1] = seed & 0xff;
  buffer.set(srcAddr, 2);
  buffer.set(dstAddr, 2 + srcAddr.length);
  let at = 2 + srcAddr.length + dstAddr.length;
  buffer[at++] = proto & 0xff;
  buffer[at++] = 0;
  if (hasPorts) {
    buffer[at++] = (srcPort >>> 8) & 0xff;
    buffer[at++] = srcPort & 0xff;
    buffer[at++] = (dstPort >>> 8) & 0xff;
    buffer[at] = dstPort & 0xff;
  }
  // One-shot `crypto.hash` avoids creating a Hash object per flow (measurably cheaper at millions of flows).
  return `1:${hash('sha1', buffer, 'base64')}`;
}
