/** Shared helpers for the decoder unit tests: decode bytes as a frame and read the result as plain values. */
import {
  formatMac,
  packetDestinationIp,
  packetSourceIp,
} from '../../../../functions/capture/address-format.js';
import { decodeFrame } from '../../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../../functions/capture/decoded-packet.js';
import { type RawFrameOptions, toRawFrame } from '../../../support/frame-builder.js';

export interface DecodedView {
  linkType: number;
  ethSrc: string;
  ethDst: string;
  ethType: number;
  vlanIds: number[];
  mplsLabels: number[];
  arpOpcode: number;
  ipVersion: number;
  srcIp: string;
  dstIp: string;
  ipProto: number;
  ttl: number;
  ipTotalLength: number;
  ipHeaderLength: number;
  fragmentOffset: number;
  moreFragments: boolean;
  ipId: number;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  tcpWindow: number;
  l4HeaderLength: number;
  payloadLength: number;
  payloadOffset: number;
  icmpType: number;
  icmpCode: number;
  tunnel: string;
}

export function view(packet: DecodedPacket, frameOffset = 0): DecodedView {
  return {
    linkType: packet.linkType,
    ethSrc: packet.ethSrcOffset >= 0 ? formatMac(packet.data, packet.ethSrcOffset) : '',
    ethDst: packet.ethDstOffset >= 0 ? formatMac(packet.data, packet.ethDstOffset) : '',
    ethType: packet.ethType,
    vlanIds: packet.vlanIds.slice(0, packet.vlanCount),
    mplsLabels: packet.mplsLabels.slice(0, packet.mplsCount),
    arpOpcode: packet.arpOpcode,
    ipVersion: packet.ipVersion,
    srcIp: packetSourceIp(packet),
    dstIp: packetDestinationIp(packet),
    ipProto: packet.ipProto,
    ttl: packet.ttl,
    ipTotalLength: packet.ipTotalLength,
    ipHeaderLength: packet.ipHeaderLength,
    fragmentOffset: packet.fragmentOffset,
    moreFragments: packet.moreFragments,
    ipId: packet.ipId,
    srcPort: packet.srcPort,
    dstPort: packet.dstPort,
    tcpFlags: packet.tcpFlags,
    tcpSeq: packet.tcpSeq,
    tcpAck: packet.tcpAck,
    tcpWindow: packet.tcpWindow,
    l4HeaderLength: packet.l4HeaderLength,
    payloadLength: packet.payloadLength,
    // Relative to the frame start, so tests do not depend on where the frame sits in its buffer.
    payloadOffset: packet.payloadOffset < 0 ? -1 : packet.payloadOffset - frameOffset,
    icmpType: packet.icmpType,
    icmpCode: packet.icmpCode,
    tunnel: packet.tunnel,
  };
}

const shared = new DecodedPacket();

/** Decodes `bytes` as one frame (Ethernet unless `linkType` is given) and returns the decoded values. */
export function decodeBytes(bytes: Uint8Array, options: RawFrameOptions = {}): DecodedView {
  const frame = toRawFrame(bytes, { bufferOffset: 5, ...options });
  decodeFrame(frame, shared);
  return view(shared, frame.offset);
}

/** Every field of a decoded packet as plain data (the VLAN/MPLS arrays up to their counts). */
export function snapshot(p: DecodedPacket): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p)) {
    if (key === 'vlanIds') fields[key] = p.vlanIds.slice(0, p.vlanCount);
    else if (key === 'mplsLabels') fields[key] = p.mplsLabels.slice(0, p.mplsCount);
    else fields[key] = value;
  }
  return fields;
}
