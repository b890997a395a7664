/**
 * Frame decoding entry point: fills the reused `DecodedPacket` from one `RawFrame`.
 * The dispatch tables (link type → first header, EtherType → next header, IP protocol → transport or tunnel,
 * UDP port → tunnel) are filled here once, at module load; each layer is one pure function in its module.
 * Hot path: no allocation, no strings built, never throws, reads only the frame's captured bytes.
 */
import type { DecodedPacket } from '../decoded-packet.js';
import type { RawFrame } from '../frame.js';
import {
  decodeArp,
  decodeBridgedEthernet,
  decodeETag,
  decodeMpls,
  decodePbbItag,
  decodePppoeSession,
  decodeVlanTag,
  decodeVnTag,
} from './ether-payload.js';
import { decodeEthernetIpv4Transport } from './fast-path.js';
import {
  decodeCiscoHdlc,
  decodeEthernet,
  decodeIeee80211,
  decodeLinkIpv4,
  decodeLinkIpv6,
  decodeLoop,
  decodeNflog,
  decodeNull,
  decodePpp,
  decodeRadiotap,
  decodeRawIp,
  decodeSll,
  decodeSll2,
} from './link-layers.js';
import { decodeAuthenticationHeader, decodeIpv4OrMislabelledIpv6, decodeIpv6 } from './network.js';
import {
  etherTypeDecoders,
  ipProtocolDecoders,
  type LayerDecoder,
  linkTypeDecoders,
  registerUdpTunnel,
} from './tables.js';
import { decodeIcmp, decodeSctp, decodeTcp, decodeUdp } from './transport.js';
import { decodeGre, decodeIpInIpv4, decodeIpInIpv6, decodeVxlan } from './tunnels.js';

function register(table: (LayerDecoder | undefined)[], keys: readonly number[], decoder: LayerDecoder): void {
  for (const key of keys) table[key] = decoder;
}

// LINKTYPE_* numbers: https://www.tcpdump.org/linktypes.html
register(linkTypeDecoders, [0], decodeNull);
register(linkTypeDecoders, [1], decodeEthernet);
register(linkTypeDecoders, [9, 50], decodePpp);
// 12 and 14 are DLT_RAW on some BSDs as written by old libpcap; 101 is LINKTYPE_RAW.
register(linkTypeDecoders, [12, 14, 101], decodeRawIp);
register(linkTypeDecoders, [104], decodeCiscoHdlc);
register(linkTypeDecoders, [105], decodeIeee80211);
register(linkTypeDecoders, [108], decodeLoop);
register(linkTypeDecoders, [113], decodeSll);
register(linkTypeDecoders, [127], decodeRadiotap);
register(linkTypeDecoders, [228], decodeLinkIpv4);
register(linkTypeDecoders, [229], decodeLinkIpv6);
register(linkTypeDecoders, [239], decodeNflog);
register(linkTypeDecoders, [276], decodeSll2);

// EtherTypes: IEEE registry / IANA "ieee-802-numbers".
register(etherTypeDecoders, [0x0800], decodeIpv4OrMislabelledIpv6);
register(etherTypeDecoders, [0x86dd], decodeIpv6);
register(etherTypeDecoders, [0x0806], decodeArp);
register(etherTypeDecoders, [0x8100, 0x88a8, 0x9100], decodeVlanTag);
register(etherTypeDecoders, [0x8847, 0x8848], decodeMpls);
register(etherTypeDecoders, [0x8864], decodePppoeSession);
register(etherTypeDecoders, [0x6558], decodeBridgedEthernet);
register(etherTypeDecoders, [0x88e7], decodePbbItag);
register(etherTypeDecoders, [0x8926], decodeVnTag);
register(etherTypeDecoders, [0x893f], decodeETag);

// IP protocol numbers: IANA "Assigned Internet Protocol Numbers".
register(ipProtocolDecoders, [1, 58], decodeIcmp);
register(ipProtocolDecoders, [4], decodeIpInIpv4);
register(ipProtocolDecoders, [6], decodeTcp);
register(ipProtocolDecoders, [17], decodeUdp);
register(ipProtocolDecoders, [41], decodeIpInIpv6);
register(ipProtocolDecoders, [47], decodeGre);
register(ipProtocolDecoders, [51], decodeAuthenticationHeader);
register(ipProtocolDecoders, [132], decodeSctp);

// UDP tunnels by destination port: VXLAN (IANA-assigned 4789, RFC 7348 §5).
registerUdpTunnel(4789, decodeVxlan);

/**
 * Decodes `frame` into `out` (which is reset first). Link types without a decoder still get their
 * time/length/link-type columns from the frame; every header field stays absent (-1).
 */
export function decodeFrame(frame: RawFrame, out: DecodedPacket): void {
  const start = frame.offset;
  const bytes = frame.bytes;
  const capturedLength = frame.capturedLength;
  const capturedEnd = Math.min(start + capturedLength, bytes.length);
  // Lengths inside the packet are bounded by what was on the wire, which the snap length may have cut.
  const originalLength = frame.originalLength;
  // biome-ignore lint/complexity/useMathMinMax: a comparison keeps this int32 (Math.max is float64 in V8)
  const wireEnd = start + (originalLength > capturedLength ? originalLength : capturedLength);
  // Ethernet/IPv4/TCP|UDP, nearly every frame: one function that writes each field once (fast-path.ts);
  // it declines, having written nothing, whatever it does not decode exactly as the general path would.
  if (
    frame.linkType === 1 &&
    start >= 0 &&
    decodeEthernetIpv4Transport(out, bytes, start, capturedEnd, wireEnd)
  ) {
    return;
  }
  decodeGeneral(out, bytes, start, capturedEnd, wireEnd, frame.linkType);
}

/**
 * `decodeFrame` without the Ethernet/IPv4/TCP|UDP fast path: every frame through the dispatch tables.
 * The reference the fast path is tested against.
 */
export function decodeFrameGeneral(frame: RawFrame, out: DecodedPacket): void {
  const start = frame.offset;
  const bytes = frame.bytes;
  const capturedEnd = Math.min(start + frame.capturedLength, bytes.length);
  const wireEnd = start + Math.max(frame.originalLength, frame.capturedLength);
  decodeGeneral(out, bytes, start, capturedEnd, wireEnd, frame.linkType);
}

function decodeGeneral(
  out: DecodedPacket,
  bytes: Uint8Array,
  start: number,
  capturedEnd: number,
  wireEnd: number,
  linkType: number,
): void {
  out.reset(bytes, capturedEnd, linkType);
  if (linkType < 0 || linkType >= linkTypeDecoders.length || start < 0) return;
  // Ethernet directly: nearly every capture, and a direct call can be inlined where the table's cannot.
  if (linkType === 1) {
    decodeEthernet(out, start, wireEnd, 0);
    return;
  }
  const decoder = linkTypeDecoders[linkType];
  if (decoder !== undefined) decoder(out, start, wireEnd, 0);
}
