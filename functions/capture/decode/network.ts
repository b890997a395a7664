/**
 * Network-layer decoders: IPv4 and IPv6 (with its extension headers). They set the IP fields of the packet,
 * compute where the IP datagram ends on the wire, and hand the transport header to the IP protocol table.
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { decodeIpProtocol, MAX_DEPTH, readU16, readU32 } from './tables.js';
import { decodeTcp, decodeUdp } from './transport.js';

/**
 * `decodeIpProtocol` with TCP and UDP called directly: they are nearly every packet, and a direct call can be
 * inlined where the table's indirect call cannot. Same depth rule as the table path.
 */
function decodeTransport(
  packet: DecodedPacket,
  protocol: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (protocol === 6) {
    if (depth < MAX_DEPTH) decodeTcp(packet, offset, limit, depth + 1);
  } else if (protocol === 17) {
    if (depth < MAX_DEPTH) decodeUdp(packet, offset, limit, depth + 1);
  } else {
    decodeIpProtocol(packet, protocol, offset, limit, depth);
  }
}

/**
 * Forgets transport fields set by an outer packet (the UDP header of a VXLAN packet, say) before an inner IP
 * header is decoded, so a row never mixes inner addresses with outer ports.
 */
function clearTransport(packet: DecodedPacket): void {
  packet.srcPort = -1;
  packet.dstPort = -1;
  packet.tcpFlags = -1;
  packet.tcpSeq = -1;
  packet.tcpAck = -1;
  packet.tcpWindow = -1;
  packet.l4HeaderLength = -1;
  packet.payloadLength = -1;
  packet.payloadOffset = -1;
  packet.icmpType = -1;
  packet.icmpCode = -1;
}

/**
 * The IPv4 EtherType / link type: an IPv4 packet, or an IPv6 packet mislabelled as IPv4, which Wireshark
 * (and so we) decode as IPv6. Inside IP-in-IP the version must match the protocol number (see tunnels.ts).
 */
export function decodeIpv4OrMislabelledIpv6(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (offset < packet.end && packet.data[offset]! >> 4 === 6) decodeIpv6(packet, offset, limit, depth);
  else decodeIpv4(packet, offset, limit, depth);
}

/**
 * IPv4 (RFC 791 §3.1). The datagram ends at `offset + Total Length` (bytes after it are link padding), or at
 * the end of the enclosing data when that comes first. A Total Length of 0 is taken as "the rest of the frame":
 * captures taken on the sending host before TCP segmentation offload carry 0 there (Wireshark does the same).
 * Only the first fragment (offset 0) carries the transport header (RFC 791 §2.3 "Fragmentation").
 */
export function decodeIpv4(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 20 > packet.end) return;
  const data = packet.data;
  const versionAndLength = data[offset]!;
  if (versionAndLength >> 4 !== 4) return;
  const headerLength = (versionAndLength & 0x0f) * 4;
  if (headerLength < 20) return;
  let totalLength = readU16(data, offset + 2);
  if (totalLength === 0) totalLength = Math.max(0, limit - offset);
  // A Total Length shorter than the header is bogus: the header is not trusted at all (tshark shows no
  // addresses for it either).
  else if (totalLength < headerLength) return;

  // Transport fields are only ever set after an IP header: the first IP header finds them still reset.
  if (packet.ipOffset >= 0) clearTransport(packet);
  packet.ipVersion = 4;
  packet.ipOffset = offset;
  packet.ipHeaderLength = headerLength;
  packet.ipTotalLength = totalLength;
  packet.ipId = readU16(data, offset + 4);
  const flagsAndOffset = readU16(data, offset + 6);
  packet.fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  packet.moreFragments = (flagsAndOffset & 0x2000) !== 0;
  packet.ttl = data[offset + 8]!;
  const protocol = data[offset + 9]!;
  packet.ipProto = protocol;
  packet.srcIpv4 = readU32(data, offset + 12);
  packet.dstIpv4 = readU32(data, offset + 16);
  packet.srcIpv6Offset = -1;
  packet.dstIpv6Offset = -1;

  const end = Math.min(offset + totalLength, limit);
  const payloadOffset = offset + headerLength;
  // Without a decodable transport header the payload is the IP payload; transport decoders refine it.
  packet.payloadOffset = payloadOffset;
  packet.payloadLength = Math.max(0, end - payloadOffset);
  if (packet.fragmentOffset !== 0) return;
  decodeTransport(packet, protocol, payloadOffset, end, depth);
}

// IPv6 extension headers we step over (RFC 8200 §4.1 order; AH from RFC 4302).
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AUTHENTICATION = 51;
const DESTINATION_OPTIONS = 60;

/**
 * IPv6 (RFC 8200 §3) and the extension headers before the transport header: Hop-by-Hop, Routing and
 * Destination Options (§4.3-4.6, length in 8-octet units excluding the first 8), Fragment (§4.5, fixed 8
 * bytes; only offset 0 carries the transport header) and AH (RFC 4302 §2.2, length in 4-octet units minus 2).
 * A Payload Length of 0 (jumbogram, RFC 2675, or TSO) is taken as "the rest of the frame".
 */
export function decodeIpv6(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 40 > packet.end) return;
  const data = packet.data;
  if (data[offset]! >> 4 !== 6) return;
  let payloadLength = readU16(data, offset + 4);
  if (payloadLength === 0) payloadLength = Math.max(0, limit - offset - 40);

  if (packet.ipOffset >= 0) clearTransport(packet);
  packet.ipVersion = 6;
  packet.ipOffset = offset;
  packet.ipTotalLength = payloadLength + 40;
  packet.ttl = data[offset + 7]!;
  packet.srcIpv6Offset = offset + 8;
  packet.dstIpv6Offset = offset + 24;
  packet.srcIpv4 = 0;
  packet.dstIpv4 = 0;
  packet.fragmentOffset = -1;
  packet.moreFragments = false;
  packet.ipId = -1;
  packet.ipProto = -1;
  packet.ipHeaderLength = -1;

  const end = Math.min(offset + 40 + payloadLength, limit);
  let protocol = data[offset + 6]!;
  let at = offset + 40;
  let firstFragment = true;
  let truncated = false;
  for (;;) {
    if (protocol === HOP_BY_HOP || protocol === ROUTING || protocol === DESTINATION_OPTIONS) {
      if (at + 2 > packet.end) {
        truncated = true;
        break;
      }
      const next = data[at]!;
      at += (data[at + 1]! + 1) * 8;
      protocol = next;
    } else if (protocol === FRAGMENT) {
      if (at + 8 > packet.end) {
        truncated = true;
        break;
      }
      const next = data[at]!;
      const offsetAndFlags = readU16(data, at + 2);
      packet.fragmentOffset = offsetAndFlags & 0xfff8;
      packet.moreFragments = (offsetAndFlags & 1) !== 0;
      packet.ipId = readU32(data, at + 4);
      firstFragment = packet.fragmentOffset === 0;
      at += 8;
      protocol = next;
    } else if (protocol === AUTHENTICATION) {
      if (at + 2 > packet.end) {
        truncated = true;
        break;
      }
      const next = data[at]!;
      at += (data[at + 1]! + 2) * 4;
      protocol = next;
    } else {
      break;
    }
    if (!firstFragment) break;
  }
  if (truncated) {
    // The capture ends inside the extension headers: the transport protocol and header length are unknown.
    packet.payloadLength = -1;
    return;
  }
  packet.ipProto = protocol;
  packet.ipHeaderLength = at - offset;
  packet.payloadOffset = at;
  packet.payloadLength = Math.max(0, end - at);
  if (!firstFragment || at > end) return;
  decodeTransport(packet, protocol, at, end, depth);
}

/**
 * IP Authentication Header inside IPv4 (RFC 4302 §2): not encrypted, so the transport header follows it.
 * `ipProto` then names the protected protocol, as for IPv6 where AH is an extension header.
 */
export function decodeAuthenticationHeader(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (offset + 2 > packet.end) return;
  const next = packet.data[offset]!;
  const transportOffset = offset + (packet.data[offset + 1]! + 2) * 4;
  if (transportOffset > limit) return;
  packet.ipProto = next;
  packet.ipHeaderLength = transportOffset - packet.ipOffset;
  packet.payloadOffset = transportOffset;
  packet.payloadLength = Math.max(0, limit - transportOffset);
  decodeIpProtocol(packet, next, transportOffset, limit, depth);
}
