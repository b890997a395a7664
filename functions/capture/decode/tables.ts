/**
 * Dispatch tables shared by the layer decoders. Each layer decoder is a pure function of
 * (packet, offset of its header, limit, depth) that fills its fields and hands the payload to the next layer
 * through these tables. The tables live here, empty, and `index.ts` fills them, so the layer modules depend
 * only on this file (no import cycles) and a new protocol is one function plus one table entry.
 *
 * Conventions for every decoder:
 * - `offset` is an absolute index in `packet.data`; bytes at or past `packet.end` were not captured and are
 *   never read (every read is preceded by a bounds check against `packet.end`).
 * - `limit` is where this layer's data ends on the wire, from the enclosing lengths (frame length, IP total
 *   length, UDP length); it may lie past `packet.end` when the capture was truncated by a snap length.
 * - `depth` counts encapsulations so hostile nesting (GRE in GRE in ...) stops at `MAX_DEPTH`.
 * - Nothing throws and nothing allocates: decoders stop quietly where the bytes end or make no sense.
 */
import type { DecodedPacket } from '../decoded-packet.js';

export type LayerDecoder = (packet: DecodedPacket, offset: number, limit: number, depth: number) => void;

/** Most link-layer, VLAN/MPLS and tunnel headers we follow inside one frame. */
export const MAX_DEPTH = 16;

function table(size: number): (LayerDecoder | undefined)[] {
  // Filled (not holey) so V8 keeps the array in fast element mode.
  return new Array<LayerDecoder | undefined>(size).fill(undefined);
}

/** LINKTYPE_* values (tcpdump.org/linktypes.html) → decoder of the frame's first header. */
export const linkTypeDecoders = table(512);
/** EtherType → decoder of the header that follows it. */
export const etherTypeDecoders = table(65536);
/** IP protocol number (IANA "Assigned Internet Protocol Numbers") → decoder of the header that follows. */
export const ipProtocolDecoders = table(256);
/** UDP destination port → decoder of a tunnel carried in the datagram (VXLAN on 4789). */
export const udpPortDecoders = table(65536);
/**
 * 1 where `udpPortDecoders` has an entry: every UDP datagram looks its port up, and this 64 KiB byte map stays
 * in cache where the 65536-pointer table (512 KiB) does not.
 */
export const udpTunnelPorts = new Uint8Array(65536);

/** Registers a tunnel decoder for UDP datagrams sent to `port`. */
export function registerUdpTunnel(port: number, decoder: LayerDecoder): void {
  udpPortDecoders[port] = decoder;
  udpTunnelPorts[port] = 1;
}

/** Big-endian 16-bit read; the caller has checked `offset + 2 <= packet.end`. */
export function readU16(data: Uint8Array, offset: number): number {
  return (data[offset]! << 8) | data[offset + 1]!;
}

/** Big-endian unsigned 32-bit read; the caller has checked `offset + 4 <= packet.end`. */
export function readU32(data: Uint8Array, offset: number): number {
  return (
    ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0
  );
}

/** Little-endian 16-bit read (host-order fields of NULL, NFLOG, radiotap). */
export function readU16le(data: Uint8Array, offset: number): number {
  return data[offset]! | (data[offset + 1]! << 8);
}

/** Hands the bytes after an EtherType field to the decoder registered for `etherType`. */
export function decodeEtherType(
  packet: DecodedPacket,
  etherType: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  packet.ethType = etherType;
  if (depth >= MAX_DEPTH) return;
  const decoder = etherTypeDecoders[etherType];
  if (decoder !== undefined) decoder(packet, offset, limit, depth + 1);
}

/** Hands an IP payload to the decoder registered for the protocol number. */
export function decodeIpProtocol(
  packet: DecodedPacket,
  protocol: number,
  offset: number,
  limit: number,
  depth: number,
): void {
  if (depth >= MAX_DEPTH) return;
  const decoder = ipProtocolDecoders[protocol];
  if (decoder !== undefined) decoder(packet, offset, limit, depth + 1);
}

// Tunnel names: constant strings, combined ("gre+vxlan") through a cache so the hot path never builds
// a new string after the first packet with a given nesting.
const combinedTunnelNames = new Map<string, Map<string, string>>();

/** Appends an encapsulation name to `packet.tunnel` (outermost first, '+'-joined). */
export function enterTunnel(packet: DecodedPacket, name: string): void {
  const current = packet.tunnel;
  if (current === '') {
    packet.tunnel = name;
    return;
  }
  let byName = combinedTunnelNames.get(current);
  if (byName === undefined) {
    byName = new Map();
    combinedTunnelNames.set(current, byName);
  }
  let combined = byName.get(name);
  if (combined === undefined) {
    combined = `${current}+${name}`;
    byName.set(name, combined);
  }
  packet.tunnel = combined;
}
