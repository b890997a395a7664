/**
 * Address text forms used in CSV rows and documents. These run once per packet in the CSV writer, so they use
 * precomputed lookup tables instead of `toString(16)`/`padStart` per byte.
 * Pure module: no I/O.
 */
import type { DecodedPacket } from './decoded-packet.js';

/** '0'..'255' — one string per octet value, for dotted-quad IPv4. */
const DECIMAL_OCTET: readonly string[] = Array.from({ length: 256 }, (_, n) => String(n));
/** '00'..'ff' — lowercase, two digits, for MAC addresses. */
const HEX_OCTET: readonly string[] = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'));
/** '0'..'ffff' — a 16-bit group without leading zeros (RFC 5952 §4.1), lowercase (§4.3). */
const HEX_GROUP: readonly string[] = Array.from({ length: 65536 }, (_, n) => n.toString(16));

/**
 * A small direct-mapped cache of IPv4 texts: the same addresses recur across packets and flows (servers,
 * scanners, the local hosts), and a hit returns the one string already built instead of joining seven pieces.
 */
const IPV4_CACHE_BITS = 12;
const ipv4CacheKeys = new Float64Array(1 << IPV4_CACHE_BITS).fill(-1);
const ipv4CacheTexts: string[] = new Array<string>(1 << IPV4_CACHE_BITS).fill('');

/** Dotted-quad text of an IPv4 address held as an unsigned 32-bit integer (network byte order value). */
export function formatIpv4(address: number): string {
  const key = address >>> 0;
  const bucket = Math.imul(key, 0x9e3779b1) >>> (32 - IPV4_CACHE_BITS);
  if (ipv4CacheKeys[bucket] === key) return ipv4CacheTexts[bucket]!;
  const text = `${DECIMAL_OCTET[(key >>> 24) & 0xff]}.${DECIMAL_OCTET[(key >>> 16) & 0xff]}.${DECIMAL_OCTET[(key >>> 8) & 0xff]}.${DECIMAL_OCTET[key & 0xff]}`;
  ipv4CacheKeys[bucket] = key;
  ipv4CacheTexts[bucket] = text;
  return text;
}

/** Lowercase colon-separated MAC address (`00:1b:21:aa:bb:cc`) of the 6 bytes at `offset`. */
export function formatMac(bytes: Uint8Array, offset: number): string {
  return `${HEX_OCTET[bytes[offset]!]}:${HEX_OCTET[bytes[offset + 1]!]}:${HEX_OCTET[bytes[offset + 2]!]}:${HEX_OCTET[bytes[offset + 3]!]}:${HEX_OCTET[bytes[offset + 4]!]}:${HEX_OCTET[bytes[offset + 5]!]}`;
}

/**
 * The RFC 5952 shape of one IPv6 address, filled by `layoutIpv6` and read right after by the text writers
 * (`formatIpv6` here, the byte-level CSV writer): one module-level object, so no allocation per address.
 */
export const ipv6Layout = {
  /** The eight 16-bit groups. */
  groups: new Uint16Array(8),
  /** First group of the run written as "::", -1 for none. */
  zeroRunStart: -1,
  zeroRunLength: 0,
  /** Ends in dotted-quad IPv4 (::ffff:a.b.c.d, or ::a.b.c.d). */
  embeddedIpv4: false,
};

/** Fills `ipv6Layout` for the 16-byte address at `offset` (rules in `formatIpv6`). */
export function layoutIpv6(bytes: Uint8Array, offset: number): void {
  const groups = ipv6Layout.groups;
  let bestStart = -1;
  let bestLength = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const group = (bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!;
    groups[i] = group;
    if (group === 0) {
      if (runStart < 0) runStart = i;
      const runLength = i - runStart + 1;
      if (runLength > bestLength) {
        bestStart = runStart;
        bestLength = runLength;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestLength < 2) bestStart = -1;
  ipv6Layout.zeroRunStart = bestStart;
  ipv6Layout.zeroRunLength = bestLength;
  // Embedded IPv4 (same rule as glibc inet_ntop6): ::ffff:a.b.c.d, and ::a.b.c.d when exactly the first
  // 96 bits are zero (so `::1`, `::` and `::5800` keep their hex forms).
  ipv6Layout.embeddedIpv4 =
    bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff));
}

/**
 * Canonical text of the 16-byte IPv6 address at `offset` (RFC 5952 §4):
 * leading zeros dropped (§4.1), the longest run of two or more all-zero groups replaced by "::" — the first
 * such run when two are equally long, never a single group (§4.2.2, §4.2.3) — and lowercase hex (§4.3).
 * Addresses whose first 80 bits are zero and whose next group is ffff (IPv4-mapped, RFC 4291 §2.5.5.2), and
 * the deprecated IPv4-compatible form (96 zero bits, then a non-zero group 7, RFC 4291 §2.5.5.1), end in
 * dotted-quad IPv4 (RFC 5952 §5) — the same text tshark/glibc `inet_ntop` print, so CSV values compare equal.
 */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  layoutIpv6(bytes, offset);
  const { groups, zeroRunStart: bestStart, zeroRunLength: bestLength, embeddedIpv4 } = ipv6Layout;
  let text = '';
  const lastGroup = embeddedIpv4 ? 6 : 8;
  for (let i = 0; i < lastGroup; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) text += ':';
    text += HEX_GROUP[groups[i]!];
  }
  if (embeddedIpv4) {
    if (lastGroup !== bestStart + bestLength) text += ':';
    text += `${DECIMAL_OCTET[bytes[offset + 12]!]}.${DECIMAL_OCTET[bytes[offset + 13]!]}.${DECIMAL_OCTET[bytes[offset + 14]!]}.${DECIMAL_OCTET[bytes[offset + 15]!]}`;
  }
  return text;
}

/** Source address of the packet's innermost decoded IP header as text; '' when the packet has none. */
export function packetSourceIp(packet: DecodedPacket): string {
  if (packet.ipVersion === 4) return formatIpv4(packet.srcIpv4);
  if (packet.ipVersion === 6 && packet.srcIpv6Offset >= 0)
    return formatIpv6(packet.data, packet.srcIpv6Offset);
  return '';
}

/** Destination address of the packet's innermost decoded IP header as text; '' when the packet has none. */
export function packetDestinationIp(packet: DecodedPacket): string {
  if (packet.ipVersion === 4) return formatIpv4(packet.dstIpv4);
  if (packet.ipVersion === 6 && packet.dstIpv6Offset >= 0)
    return formatIpv6(packet.data, packet.dstIpv6Offset);
  return '';
}
