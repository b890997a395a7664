/**
 * The common case in one straight-line function: Ethernet II → IPv4 → TCP or UDP, every header fully
 * captured, not a fragment, not a tunnel. Nearly every frame of a typical capture is this.
 *
 * Why a second path: the general path resets all 35 fields of the `DecodedPacket`, then the Ethernet, IPv4
 * and transport decoders overwrite ~25 of them again, across several calls (with their map checks) that the
 * JIT cannot always inline. Here each field is written exactly once, in one function, with the values the
 * general path would leave. Anything this function does not fully handle makes it return `false` *before
 * writing anything*, and the caller runs the general path; so the result is the same either way, which
 * `test/unit/capture/decode/fast-path.test.ts` checks field by field against the general path on the corpus
 * and on random frames.
 *
 * Field layouts: Ethernet II (IEEE 802.3 §3.1.1), IPv4 (RFC 791 §3.1), TCP (RFC 9293 §3.1), UDP (RFC 768).
 */
import type { DecodedPacket } from '../decoded-packet.js';
import { udpTunnelPorts } from './tables.js';

/** A DataView of the last buffer seen (readers hand over frames of one buffer for many packets). */
let viewBytes: Uint8Array | undefined;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Decodes an Ethernet/IPv4/TCP|UDP frame whose Ethernet header starts at `start`, or returns false without
 * touching `out`. `capturedEnd` is where the captured bytes end, `wireEnd` where the frame ended on the wire.
 */
export function decodeEthernetIpv4Transport(
  out: DecodedPacket,
  data: Uint8Array,
  start: number,
  capturedEnd: number,
  wireEnd: number,
): boolean {
  if (data !== viewBytes) {
    view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    viewBytes = data;
  }
  const ip = start + 14;
  // EtherType + the IPv4 fixed header + 8 transport bytes must be captured before anything is read.
  if (ip + 28 > capturedEnd || view.getUint16(start + 12) !== 0x0800) return false;
  // The fixed header as five 32-bit words: one bounds check and one load per word instead of per byte.
  const versionLengthTotal = view.getUint32(ip); // version, IHL, DSCP/ECN, Total Length
  const identificationFragment = view.getUint32(ip + 4); // Identification, flags, Fragment Offset
  const ttlProtocol = view.getUint32(ip + 8); // TTL, Protocol, Header Checksum
  // Version 4 (a version-6 nibble is an IPv6 packet mislabelled as IPv4: the general path handles it).
  if (versionLengthTotal >>> 28 !== 4) return false;
  const headerLength = ((versionLengthTotal >>> 24) & 0x0f) * 4;
  const totalLength = versionLengthTotal & 0xffff;
  // IHL < 5, a zero (TSO) or shorter-than-header Total Length, any fragment bit or offset (MF with offset 0
  // included: UDP tunnels look at it): the general path's rules apply.
  if (headerLength < 20 || totalLength < headerLength || (identificationFragment & 0x3fff) !== 0) {
    return false;
  }
  const protocol = (ttlProtocol >>> 16) & 0xff;
  const transport = ip + headerLength;
  // The datagram ends at Total Length, or where the frame ended on the wire when that comes first.
  // biome-ignore lint/complexity/useMathMinMax: a comparison keeps this int32 (Math.min of a parameter is float64 in V8)
  const ipEnd = ip + totalLength < wireEnd ? ip + totalLength : wireEnd;

  let ports: number;
  let tcpFlags = -1;
  let tcpSeq = -1;
  let tcpAck = -1;
  let tcpWindow = -1;
  let l4HeaderLength: number;
  let payloadOffset: number;
  let payloadLength: number;
  if (protocol === 6) {
    if (transport + 20 > capturedEnd) return false;
    const offsetFlagsWindow = view.getUint32(transport + 12); // data offset, reserved + NS, flags, window
    l4HeaderLength = (offsetFlagsWindow >>> 28) * 4;
    // A bogus data offset leaves ack, flags and window unknown: the general path's rules.
    if (l4HeaderLength < 20) return false;
    ports = view.getUint32(transport);
    tcpSeq = view.getUint32(transport + 4);
    tcpAck = view.getUint32(transport + 8);
    tcpFlags = (offsetFlagsWindow >>> 16) & 0x1ff;
    tcpWindow = offsetFlagsWindow & 0xffff;
    payloadOffset = transport + l4HeaderLength;
    const length = ipEnd - payloadOffset;
    payloadLength = length >= 0 ? length : -1;
  } else if (protocol === 17) {
    if (transport + 8 > capturedEnd) return false;
    ports = view.getUint32(transport);
    // A tunnel port (VXLAN) goes through the general path, which decodes the inner frame.
    if (udpTunnelPorts[ports & 0xffff] !== 0) return false;
    const udpLength = view.getUint16(transport + 4);
    // The UDP Length bounds the datagram when it is sane and fits in the IP payload.
    const udpEnd = udpLength >= 8 && transport + udpLength <= ipEnd ? transport + udpLength : ipEnd;
    l4HeaderLength = 8;
    payloadOffset = transport + 8;
    const length = udpEnd - payloadOffset;
    // biome-ignore lint/complexity/useMathMinMax: a comparison keeps this int32 (see ipEnd)
    payloadLength = length > 0 ? length : 0;
  } else {
    return false;
  }

  // Every field of DecodedPacket, in declaration order (what reset() + the three decoders would leave).
  // Only when it changes: see DecodedPacket.reset (a store per packet ran V8's write barrier out of line).
  if (out.data !== data) out.data = data;
  out.end = capturedEnd;
  out.linkType = 1;
  out.ethDstOffset = start;
  out.ethSrcOffset = start + 6;
  out.ethType = 0x0800;
  out.vlanCount = 0;
  out.mplsCount = 0;
  out.arpOpcode = -1;
  out.ipVersion = 4;
  out.ipOffset = ip;
  out.ipHeaderLength = headerLength;
  out.srcIpv4 = view.getUint32(ip + 12);
  out.dstIpv4 = view.getUint32(ip + 16);
  out.srcIpv6Offset = -1;
  out.dstIpv6Offset = -1;
  out.ipProto = protocol;
  out.ttl = ttlProtocol >>> 24;
  out.ipTotalLength = totalLength;
  out.fragmentOffset = 0;
  out.moreFragments = false;
  out.ipId = identificationFragment >>> 16;
  out.srcPort = ports >>> 16;
  out.dstPort = ports & 0xffff;
  out.tcpFlags = tcpFlags;
  out.tcpSeq = tcpSeq;
  out.tcpAck = tcpAck;
  out.tcpWindow = tcpWindow;
  out.l4HeaderLength = l4HeaderLength;
  out.payloadLength = payloadLength;
  out.payloadOffset = payloadOffset;
  out.icmpType = -1;
  out.icmpCode = -1;
  out.tunnel = '';
  return true;
}
