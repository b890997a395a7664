/**
 * Tunnels whose inner packet we decode: GRE (incl. PPTP's enhanced GRE), VXLAN, and IP-in-IP / IPv6-in-IP.
 * The inner headers overwrite the IP and transport fields (rows describe the innermost packet) and
 * `packet.tunnel` records the encapsulations, outermost first.
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { decodeEthernet, decodePpp } from './link-layers.js';
import { decodeIpv4, decodeIpv6 } from './network.js';
import { decodeEtherType, enterTunnel, readU16 } from './tables.js';

export const TUNNEL_GRE = 'gre';
export const TUNNEL_VXLAN = 'vxlan';
export const TUNNEL_IPIP = 'ipip';

/**
 * GRE. Version 0 (RFC 2784 §2.1, RFC 2890 §2; RFC 1701 §2.1 for the routing field): C/R add checksum+offset
 * (4 bytes), K a key (4), S a sequence number (4), R a list of Source Route Entries ending with an empty one;
 * Protocol Type is an EtherType. Version 1 (PPTP, RFC 2637 §4.1): key always present (payload length +
 * call id), optional sequence (S) and acknowledgment (A, 0x0080) numbers, and a PPP payload.
 */
export function decodeGre(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  const data = packet.data;
  const flags = readU16(data, offset);
  const protocol = readU16(data, offset + 2);
  const version = flags & 0x7;
  let at = offset + 4;
  if (version === 0) {
    if ((flags & 0xc000) !== 0) at += 4;
    if ((flags & 0x2000) !== 0) at += 4;
    if ((flags & 0x1000) !== 0) at += 4;
    if ((flags & 0x4000) !== 0) {
      // Source Route Entries (RFC 1701 §2.1.6): address family, offset, length, then `length` bytes.
      for (;;) {
        if (at + 4 > packet.end) return;
        const family = readU16(data, at);
        const entryLength = data[at + 3]!;
        at += 4 + entryLength;
        if (family === 0 && entryLength === 0) break;
      }
    }
    if (at > packet.end) return;
  } else if (version === 1) {
    at += 4;
    if ((flags & 0x1000) !== 0) at += 4;
    if ((flags & 0x0080) !== 0) at += 4;
    // A PPTP GRE packet with only an acknowledgment carries no payload.
    if (at >= limit) return;
  } else {
    return;
  }
  const outerTunnel = packet.tunnel;
  const outerIpOffset = packet.ipOffset;
  enterTunnel(packet, TUNNEL_GRE);
  if (protocol === GRE_PPP) decodePpp(packet, at, limit, depth);
  else if (protocol === GRE_WCCP) decodeWccpRedirect(packet, at, limit, depth);
  else if (protocol === GRE_ERSPAN_II) decodeErspan(packet, at, limit, depth, (flags & 0x1000) !== 0 ? 8 : 0);
  else if (protocol === GRE_ERSPAN_III) decodeErspanIii(packet, at, limit, depth);
  else decodeEtherType(packet, protocol, at, limit, depth);
  leaveTunnelIfNotEntered(packet, outerTunnel, outerIpOffset);
}

// GRE protocol types that are not EtherTypes of a network layer.
const GRE_PPP = 0x880b;
const GRE_WCCP = 0x883e;
const GRE_ERSPAN_II = 0x88be;
const GRE_ERSPAN_III = 0x22eb;

/**
 * `tunnel` names the encapsulations passed to reach the IP header the row describes; when the inner packet
 * could not be decoded (unknown payload, truncated), the row still describes the outer IP header, so the
 * encapsulation is dropped again.
 */
function leaveTunnelIfNotEntered(packet: DecodedPacket, outerTunnel: string, outerIpOffset: number): void {
  if (packet.ipOffset === outerIpOffset) packet.tunnel = outerTunnel;
}

/**
 * WCCP redirection over GRE (draft-wilson-wrec-wccp-v2 §4.12, protocol type 0x883e): an optional 4-byte
 * redirect header, then the original IPv4 packet. Like Wireshark, a payload starting with version 4 is taken
 * as IP directly.
 */
function decodeWccpRedirect(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset >= packet.end) return;
  if (packet.data[offset]! >> 4 === 4) decodeIpv4(packet, offset, limit, depth);
  else decodeIpv4(packet, offset + 4, limit, depth);
}

/**
 * ERSPAN type II (GRE protocol 0x88be with the sequence bit; draft-foschiano-erspan §4.2): an 8-byte header
 * then the mirrored Ethernet frame. Type I uses the same protocol type without a sequence number and has no
 * header (`headerLength` 0).
 */
function decodeErspan(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
  headerLength: number,
): void {
  decodeEthernet(packet, offset + headerLength, limit, depth);
}

/** ERSPAN type III (0x22eb, draft-foschiano-erspan §4.3): 12-byte header, +8 when the O (optional) bit is set. */
function decodeErspanIii(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 12 > packet.end) return;
  const optional = (packet.data[offset + 11]! & 0x01) !== 0;
  decodeEthernet(packet, offset + (optional ? 20 : 12), limit, depth);
}

/** VXLAN (RFC 7348 §5): 8-byte header (flags with I = 0x08, 24-bit VNI), then an inner Ethernet frame. */
export function decodeVxlan(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 8 + 14 > packet.end) return;
  const outerTunnel = packet.tunnel;
  const outerIpOffset = packet.ipOffset;
  enterTunnel(packet, TUNNEL_VXLAN);
  decodeEthernet(packet, offset + 8, limit, depth);
  leaveTunnelIfNotEntered(packet, outerTunnel, outerIpOffset);
}

/** IPv4 in IP (protocol 4, RFC 2003 §3). */
export function decodeIpInIpv4(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 20 > packet.end) return;
  const outerTunnel = packet.tunnel;
  const outerIpOffset = packet.ipOffset;
  enterTunnel(packet, TUNNEL_IPIP);
  decodeIpv4(packet, offset, limit, depth);
  leaveTunnelIfNotEntered(packet, outerTunnel, outerIpOffset);
}

/** IPv6 in IP (protocol 41, RFC 4213 §3.5 / RFC 2473). */
export function decodeIpInIpv6(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 40 > packet.end) return;
  const outerTunnel = packet.tunnel;
  const outerIpOffset = packet.ipOffset;
  enterTunnel(packet, TUNNEL_IPIP);
  decodeIpv6(packet, offset, limit, depth);
  leaveTunnelIfNotEntered(packet, outerTunnel, outerIpOffset);
}
