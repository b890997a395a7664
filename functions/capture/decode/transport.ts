/**
 * Transport-layer decoders. `limit` is the end of the IP datagram, so payload lengths come from the IP
 * lengths and never include Ethernet padding. Fields are filled progressively: a header cut short by the
 * snap length still yields the fields that were captured.
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { MAX_DEPTH, readU16, readU32, udpPortDecoders, udpTunnelPorts } from './tables.js';

/**
 * TCP (RFC 9293 §3.1): ports, sequence, acknowledgment number,
 * data offset (header length incl. options, 32-bit words), flags (NS from the reserved bits, RFC 3540),
 * window. A data offset below 5 words is bogus: it is reported, but ack, flags, window and payload are left
 * unknown (as tshark does).
 */
export function decodeTcp(packet: DecodedPacket, offset: number, limit: number, _depth: number): void {
  const data = packet.data;
  // Until the data offset is read, the payload's size is unknown (the IP payload includes the TCP header).
  packet.payloadLength = -1;
  packet.payloadOffset = -1;
  if (offset + 4 > packet.end) return;
  packet.srcPort = readU16(data, offset);
  packet.dstPort = readU16(data, offset + 2);
  if (offset + 20 > packet.end) return;
  packet.tcpSeq = readU32(data, offset + 4);
  const headerLength = (data[offset + 12]! >> 4) * 4;
  const flags = ((data[offset + 12]! & 1) << 8) | data[offset + 13]!;
  packet.l4HeaderLength = headerLength;
  if (headerLength < 20) {
    // Bogus data offset: tshark still reports tcp.len from it; ack, flags and window stay unknown.
    if (limit - offset >= headerLength) packet.payloadLength = limit - offset - headerLength;
    return;
  }
  // The raw field, whatever the ACK flag says (as tshark's tcp.ack_raw): a non-zero value without ACK is
  // itself a signal (RFC 9293 §3.1 says it is ignored, scanners use it).
  packet.tcpAck = readU32(data, offset + 8);
  packet.tcpFlags = flags;
  packet.tcpWindow = readU16(data, offset + 14);
  packet.payloadOffset = offset + headerLength;
  const payloadLength = limit - offset - headerLength;
  packet.payloadLength = payloadLength >= 0 ? payloadLength : -1;
}

/**
 * UDP (RFC 768): the Length field bounds the datagram when it fits inside the IP payload (bytes past it are
 * padding); a bogus length (< 8, or longer than the IP payload as in a first fragment) leaves the IP bound.
 * Tunnels (VXLAN) are chosen from the destination port through `udpPortDecoders`.
 */
export function decodeUdp(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  const data = packet.data;
  packet.l4HeaderLength = 8;
  packet.payloadOffset = offset + 8;
  packet.payloadLength = Math.max(0, limit - offset - 8);
  if (offset + 4 > packet.end) return;
  const srcPort = readU16(data, offset);
  const dstPort = readU16(data, offset + 2);
  packet.srcPort = srcPort;
  packet.dstPort = dstPort;
  if (offset + 8 > packet.end) return;
  const length = readU16(data, offset + 4);
  const end = length >= 8 && offset + length <= limit ? offset + length : limit;
  packet.payloadLength = Math.max(0, end - offset - 8);
  if (
    udpTunnelPorts[dstPort] === 0 ||
    depth >= MAX_DEPTH ||
    packet.fragmentOffset > 0 ||
    packet.moreFragments
  ) {
    return;
  }
  const tunnel = udpPortDecoders[dstPort];
  if (tunnel !== undefined) tunnel(packet, offset + 8, end, depth + 1);
}

/** ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1): type, code, checksum and 4 bytes that depend on the type. */
export function decodeIcmp(packet: DecodedPacket, offset: number, limit: number, _depth: number): void {
  packet.l4HeaderLength = 8;
  packet.payloadOffset = offset + 8;
  packet.payloadLength = Math.max(0, limit - offset - 8);
  // Type, code and checksum are read as one 4-byte unit (as Wireshark does): a shorter capture gives none.
  if (offset + 4 > packet.end) return;
  packet.icmpType = packet.data[offset]!;
  packet.icmpCode = packet.data[offset + 1]!;
}

/** SCTP common header (RFC 9260 §3.1): ports, verification tag, checksum; the chunks are the payload. */
export function decodeSctp(packet: DecodedPacket, offset: number, limit: number, _depth: number): void {
  packet.l4HeaderLength = 12;
  packet.payloadOffset = offset + 12;
  packet.payloadLength = Math.max(0, limit - offset - 12);
  // A datagram shorter than the 12-byte common header is malformed; Wireshark shows no ports for it.
  if (offset + 12 > packet.end || limit - offset < 12) return;
  packet.srcPort = readU16(packet.data, offset);
  packet.dstPort = readU16(packet.data, offset + 2);
}
