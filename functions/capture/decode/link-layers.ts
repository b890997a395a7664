/**
 * Link-layer decoders, one per LINKTYPE (https://www.tcpdump.org/linktypes.html). Each finds the network
 * protocol the frame carries and hands the rest on through the EtherType table (or straight to IP).
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { decodeIpv4, decodeIpv4OrMislabelledIpv6, decodeIpv6 } from './network.js';
import { decodeEtherType, MAX_DEPTH, readU16, readU16le, readU32 } from './tables.js';

/**
 * Chooses IPv4 or IPv6 from the version nibble (raw IP link types, MPLS payloads). No EtherType is on the
 * wire here, so `ethType` is left as the lower layers set it.
 */
export function decodeRawIp(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset >= packet.end || depth >= MAX_DEPTH) return;
  const version = packet.data[offset]! >> 4;
  if (version === 4) decodeIpv4(packet, offset, limit, depth + 1);
  else if (version === 6) decodeIpv6(packet, offset, limit, depth + 1);
}

/** LINKTYPE_IPV4 (228), AF_INET on loopback, PPP 0x0021: the bytes are an IPv4 packet. */
export function decodeLinkIpv4(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (depth < MAX_DEPTH) decodeIpv4OrMislabelledIpv6(packet, offset, limit, depth + 1);
}

/** LINKTYPE_IPV6 (229), AF_INET6 on loopback, PPP 0x0057: the bytes are an IPv6 packet. */
export function decodeLinkIpv6(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (depth < MAX_DEPTH) decodeIpv6(packet, offset, limit, depth + 1);
}

/**
 * Ethernet II (IEEE 802.3 clause 3.1.1): destination, source, then a 16-bit field that is an EtherType when
 * ≥ 0x0600 and an 802.3 length otherwise (then an 802.2 LLC header follows; only SNAP is followed).
 */
export function decodeEthernet(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 14 > packet.end) return;
  // Keep the outermost MACs: for VXLAN/GRE-TEB the frame's own link addresses are the ones that were captured.
  if (packet.ethDstOffset < 0) {
    packet.ethDstOffset = offset;
    packet.ethSrcOffset = offset + 6;
  }
  const typeOrLength = readU16(packet.data, offset + 12);
  // IPv4 and IPv6 directly (most frames; a direct call can be inlined, the EtherType table's cannot), with the
  // table's depth rule.
  if (typeOrLength === 0x0800 || typeOrLength === 0x86dd) {
    packet.ethType = typeOrLength;
    if (depth >= MAX_DEPTH) return;
    if (typeOrLength === 0x0800) decodeIpv4OrMislabelledIpv6(packet, offset + 14, limit, depth + 1);
    else decodeIpv6(packet, offset + 14, limit, depth + 1);
  } else if (typeOrLength >= 0x0600) decodeEtherType(packet, typeOrLength, offset + 14, limit, depth);
  else decodeLlc(packet, offset + 14, limit, depth);
}

/**
 * IEEE 802.2 LLC; only SNAP (DSAP = SSAP = 0xaa, control 0x03, RFC 1042 §"IEEE 802 Networks") with an
 * EtherType-valued protocol id (OUI 00-00-00, or 00-00-f8 for 802.1H bridge tunnel) carries IP.
 */
export function decodeLlc(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 8 > packet.end) return;
  const data = packet.data;
  if (data[offset] !== 0xaa || data[offset + 1] !== 0xaa || data[offset + 2] !== 0x03) return;
  const oui = (data[offset + 3]! << 16) | (data[offset + 4]! << 8) | data[offset + 5]!;
  if (oui !== 0 && oui !== 0xf8) return;
  decodeEtherType(packet, readU16(data, offset + 6), offset + 8, limit, depth);
}

/**
 * LINKTYPE_NULL (0): a 4-byte address family in the *capturing host's* byte order; LINKTYPE_LOOP (108) has
 * it big-endian. AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS) or 10 (Linux).
 */
export function decodeNull(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  let family = readU32(packet.data, offset);
  // A family is small: if the big-endian value has its low half empty, the host was little-endian.
  if ((family & 0xffff) === 0) family >>>= 24;
  if (isLoopbackFamily(family)) {
    decodeLoopbackFamily(packet, family, offset + 4, limit, depth);
    return;
  }
  // Some captures put an EtherType in the second 16 bits instead of an address family (Wireshark accepts it).
  const etherType = readU16(packet.data, offset + 2);
  if (etherType >= 0x0600) decodeEtherType(packet, etherType, offset + 4, limit, depth);
}

function isLoopbackFamily(family: number): boolean {
  return family === 2 || family === 24 || family === 28 || family === 30 || family === 10;
}

export function decodeLoop(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  decodeLoopbackFamily(packet, readU32(packet.data, offset), offset + 4, limit, depth);
}

function decodeLoopbackFamily(
  packet: DecodedPacket,
  family: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (family === 2) decodeLinkIpv4(packet, offset, limit, depth);
  else if (family === 24 || family === 28 || family === 30 || family === 10)
    decodeLinkIpv6(packet, offset, limit, depth);
}

/**
 * Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113): packet type, ARPHRD type, address length, 8 address
 * bytes, protocol (an EtherType, or 0x0001 Novell 802.3 / 0x0004 802.2 LLC frames for ARPHRD_ETHER).
 */
export function decodeSll(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 16 > packet.end) return;
  const data = packet.data;
  const hardwareType = readU16(data, offset + 2);
  const addressLength = readU16(data, offset + 4);
  if (addressLength === 6 && hardwareType === 1) packet.ethSrcOffset = offset + 6;
  decodeSllProtocol(packet, hardwareType, readU16(data, offset + 14), offset + 16, limit, depth);
}

/**
 * Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): protocol first, then reserved, interface index,
 * ARPHRD type, packet type, address length, 8 address bytes — 20 bytes.
 */
export function decodeSll2(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 20 > packet.end) return;
  const data = packet.data;
  const hardwareType = readU16(data, offset + 8);
  if (data[offset + 11] === 6 && hardwareType === 1) packet.ethSrcOffset = offset + 12;
  decodeSllProtocol(packet, hardwareType, readU16(data, offset), offset + 20, limit, depth);
}

function decodeSllProtocol(
  packet: DecodedPacket,
  hardwareType: number,
  protocol: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  // ARPHRD_NETLINK (824) frames hold netlink messages and the protocol field is a netlink family, not an
  // EtherType. (For ARPHRD_IPGRE, 778, the field is the GRE protocol type, which is an EtherType.)
  if (hardwareType === 824) return;
  if (protocol === 0x0004) decodeLlc(packet, offset, limit, depth);
  else if (protocol >= 0x0600) decodeEtherType(packet, protocol, offset, limit, depth);
}

/**
 * PPP protocol field (RFC 1661 §2), possibly compressed to one byte (odd first byte, RFC 1661 §6.5):
 * 0x0021 IPv4, 0x0057 IPv6, 0x0281/0x0283 MPLS (RFC 3032 §4.3).
 */
export function decodePppProtocolField(
  packet: DecodedPacket,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (offset >= packet.end) return;
  const data = packet.data;
  let protocol = data[offset]!;
  let next = offset + 1;
  if ((protocol & 1) === 0) {
    if (offset + 2 > packet.end) return;
    protocol = readU16(data, offset);
    next = offset + 2;
  }
  decodePppProtocol(packet, protocol, next, limit, depth);
}

export function decodePppProtocol(
  packet: DecodedPacket,
  protocol: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (protocol === 0x0021) decodeLinkIpv4(packet, offset, limit, depth);
  else if (protocol === 0x0057) decodeLinkIpv6(packet, offset, limit, depth);
  else if (protocol === 0x0281 || protocol === 0x0283) {
    decodeEtherType(packet, protocol === 0x0281 ? 0x8847 : 0x8848, offset, limit, depth);
  }
}

/**
 * LINKTYPE_PPP (9) and LINKTYPE_PPP_HDLC (50): PPP, with the HDLC-like address/control bytes ff 03
 * (RFC 1662 §3.1) when present; some LINKTYPE_PPP_HDLC captures hold Cisco HDLC frames (first byte 0x0f/0x8f).
 */
export function decodePpp(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 2 > packet.end) return;
  const data = packet.data;
  const first = data[offset]!;
  if (first === 0xff && data[offset + 1] === 0x03) decodePppProtocolField(packet, offset + 2, limit, depth);
  else if (first === 0x0f || first === 0x8f) decodeCiscoHdlc(packet, offset, limit, depth);
  else decodePppProtocolField(packet, offset, limit, depth);
}

/** Cisco HDLC (LINKTYPE_C_HDLC, 104): address (0x0f unicast, 0x8f broadcast), control, EtherType. */
export function decodeCiscoHdlc(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  decodeEtherType(packet, readU16(packet.data, offset + 2), offset + 4, limit, depth);
}

/**
 * LINKTYPE_NFLOG (239): family, version, resource id, then TLVs whose 16-bit length and type are in the
 * capturing host's byte order; length counts the 4-byte TLV header and TLVs are padded to 4 bytes.
 * NFULA_PAYLOAD (type 9) holds the IP packet. (tcpdump.org/linktypes/LINKTYPE_NFLOG.html)
 */
export function decodeNflog(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 4 > packet.end) return;
  const data = packet.data;
  const family = data[offset]!;
  let at = offset + 4;
  while (at + 4 <= packet.end) {
    let length = readU16le(data, at);
    let type = readU16le(data, at + 2);
    // Types are small (< 0x20 plus the NLA_F_* flag bits); a big-endian host shows them byte-swapped.
    if ((type & 0x7fff) > 0xff && readU16(data, at + 2) <= 0xff) {
      length = readU16(data, at);
      type = readU16(data, at + 2);
    }
    if (length < 4) return;
    if ((type & 0x7fff) === 9) {
      const payloadLimit = Math.min(limit, at + length);
      if (family === 2) decodeLinkIpv4(packet, at + 4, payloadLimit, depth);
      else if (family === 10) decodeLinkIpv6(packet, at + 4, payloadLimit, depth);
      return;
    }
    at += (length + 3) & ~3;
  }
}

/**
 * LINKTYPE_IEEE802_11 (105): data frames only (IEEE 802.11-2020 §9.2.4.1: type 2), unprotected, with an
 * LLC/SNAP body. Address roles depend on the To DS / From DS bits (§9.3.2.1 Table 9-30); the QoS subtypes
 * add a 2-byte QoS Control and, with the +HTC/Order bit, a 4-byte HT Control field.
 */
export function decodeIeee80211(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 24 > packet.end) return;
  const data = packet.data;
  const frameControl0 = data[offset]!;
  const flags = data[offset + 1]!;
  const frameType = (frameControl0 >> 2) & 3;
  const subtype = frameControl0 >> 4;
  if (frameType !== 2 || (frameControl0 & 3) !== 0) return;
  // Null-function subtypes (bit 2 of subtype) carry no body; Protected Frame bit 0x40 means encrypted body.
  if ((subtype & 0x4) !== 0 || (flags & 0x40) !== 0) return;
  const toDs = flags & 0x01;
  const fromDs = flags & 0x02;
  let headerLength = toDs !== 0 && fromDs !== 0 ? 30 : 24;
  if ((subtype & 0x8) !== 0) {
    headerLength += 2;
    if ((flags & 0x80) !== 0) headerLength += 4;
  }
  const address1 = offset + 4;
  const address2 = offset + 10;
  const address3 = offset + 16;
  if (toDs === 0 && fromDs === 0) {
    packet.ethDstOffset = address1;
    packet.ethSrcOffset = address2;
  } else if (toDs !== 0 && fromDs === 0) {
    packet.ethDstOffset = address3;
    packet.ethSrcOffset = address2;
  } else if (toDs === 0) {
    packet.ethDstOffset = address1;
    packet.ethSrcOffset = address3;
  } else if (offset + 30 <= packet.end) {
    packet.ethDstOffset = address3;
    packet.ethSrcOffset = offset + 24;
  }
  decodeLlc(packet, offset + headerLength, limit, depth);
}

/**
 * LINKTYPE_IEEE802_11_RADIOTAP (127): a radiotap header (version 0, little-endian length at byte 2,
 * radiotap.org) precedes the 802.11 frame. The Flags field's FCS bit only moves the frame's end, which we
 * take from the IP lengths anyway.
 */
export function decodeRadiotap(packet: DecodedPacket, offset: number, limit: number, depth: number): void {
  if (offset + 8 > packet.end) return;
  if (packet.data[offset] !== 0) return;
  const length = readU16le(packet.data, offset + 2);
  if (length < 8) return;
  decodeIeee80211(packet, offset + length, limit, depth);
}
