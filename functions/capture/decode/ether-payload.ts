/**
 * Decoders selected by EtherType that sit between the link layer and IP: VLAN tags, MPLS label stacks,
 * PPPoE sessions, ARP, and Ethernet carried inside a tunnel (Transparent Ethernet Bridging).
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { decodeEthernet, decodePppProtocolField, decodeRawIp } from './link-layers.js';
import { decodeEtherType, readU16, readU32 } from './tables.js';

/**
 * IEEE 802.1Q tag (TPID 0x8100; 0x88a8 for the 802.1ad service tag; 0x9100 pre-standard QinQ): 16-bit TCI
 * (PCP 3 bits, DEI 1 bit, VID 12 bits) then the next EtherType.
 */
export function decodeVlanTag(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  const data = packet.data;
  if (packet.vlanCount < packet.vlanIds.length) {
    packet.vlanIds[packet.vlanCount] = readU16(data, offset) & 0x0fff;
    packet.vlanCount++;
  }
  decodeEtherType(packet, readU16(data, offset + 2), offset + 4, limit, depth);
}

/**
 * MPLS label stack (RFC 3032 §2.1): 32-bit entries (label 20 bits, TC 3, S 1, TTL 8) until the
 * bottom-of-stack bit. The payload type is not signalled; like tcpdump and Wireshark we look at the first
 * nibble after the stack: 4 → IPv4, 6 → IPv6 (RFC 4928 §2 explains why pseudowire control words start with 0).
 */
export function decodeMpls(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  const data = packet.data;
  let at = offset;
  for (;;) {
    if (at + 4 > packet.end) return;
    const entry = readU32(data, at);
    if (packet.mplsCount < packet.mplsLabels.length) {
      packet.mplsLabels[packet.mplsCount] = entry >>> 12;
      packet.mplsCount++;
    }
    at += 4;
    if ((entry & 0x100) !== 0) break;
  }
  decodeRawIp(packet, at, limit, depth);
}

/**
 * PPPoE session stage (RFC 2516 §4): ver/type 0x11, code 0, session id, length of the PPP payload, then the
 * PPP protocol field. The PPPoE length bounds the payload (Ethernet padding follows short frames).
 */
export function decodePppoeSession(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (offset + 8 > packet.end) return;
  const data = packet.data;
  if (data[offset] !== 0x11 || data[offset + 1] !== 0) return;
  const payloadLimit = Math.min(limit, offset + 6 + readU16(data, offset + 4));
  decodePppProtocolField(packet, offset + 6, payloadLimit, depth);
}

/** ARP (RFC 826): hardware type, protocol type, address lengths, then the 16-bit opcode at byte 6. */
export function decodeArp(packet: DecodedPacket, offset: number, _limit: number, _depth: number): void {
  if (offset + 8 > packet.end) return;
  packet.arpOpcode = readU16(packet.data, offset + 6);
}

/** Transparent Ethernet Bridging (EtherType 0x6558, RFC 1701 §"Protocol Type"): an Ethernet frame inside GRE. */
export function decodeBridgedEthernet(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
): void {
  decodeEthernet(packet, offset, limit, depth);
}

/**
 * IEEE 802.1ah Provider Backbone Bridging I-TAG (EtherType 0x88e7): 4 bytes (priority, flags, 24-bit I-SID),
 * then the customer's Ethernet frame (destination, source, EtherType...).
 */
export function decodePbbItag(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  decodeEthernet(packet, offset + 4, limit, depth);
}

/** Cisco VN-Tag (EtherType 0x8926, IEEE 802.1Qbh draft): 4 tag bytes, then the next EtherType. */
export function decodeVnTag(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 6 > packet.end) return;
  decodeEtherType(packet, readU16(packet.data, offset + 4), offset + 6, limit, depth);
}

/** IEEE 802.1BR E-Tag (EtherType 0x893f): 6 tag bytes, then the next EtherType. */
export function decodeETag(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 8 > packet.end) return;
  decodeEtherType(packet, readU16(packet.data, offset + 6), offset + 8, limit, depth);
}
