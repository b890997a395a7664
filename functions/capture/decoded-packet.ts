/**
 * The decoded headers of one frame. One instance is reused for every packet (the decoders overwrite it),
 * so the hot path allocates nothing per packet; addresses are kept as offsets into `data` (IPv6, MAC) or
 * as 32-bit integers (IPv4) and only turned into strings by the CSV writer.
 *
 * Convention: a numeric field is -1 when the packet does not have that header/field.
 * For tunneled packets the IP and transport fields describe the innermost decoded headers and
 * `tunnel` names the encapsulation (outermost first, '+'-joined, e.g. "gre", "vxlan", "ipip", "gre+vxlan").
 */
export class DecodedPacket {
  /**
   * The buffer the offsets below point into (the frame's `bytes`; offsets are absolute indexes in it,
   * so a frame starting at `frame.offset` has its Ethernet destination MAC at `ethDstOffset === frame.offset`).
   */
  data: Uint8Array = new Uint8Array(0);
  /** End (exclusive) of the frame's captured bytes in `data`; decoders never read at or past it. */
  end = 0;
  linkType = -1;

  // Ethernet / 802.11 addresses (offset of the 6-byte MACs in `data`, -1 when absent).
  ethDstOffset = -1;
  ethSrcOffset = -1;
  /** EtherType that selected the network layer (after VLAN/MPLS/PPPoE), -1 when none. */
  ethType = -1;
  /** 802.1Q/802.1ad VLAN ids, outermost first; only the first `vlanCount` entries are valid. */
  readonly vlanIds: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  vlanCount = 0;
  /** MPLS labels, outermost first; only the first `mplsCount` entries are valid. */
  readonly mplsLabels: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  mplsCount = 0;

  // ARP (when ethType is 0x0806)
  arpOpcode = -1;

  // Network layer (innermost IP header)
  /** 4, 6, or 0 when the frame has no decodable IP header. */
  ipVersion = 0;
  /** Offset of the IP header in `data`. */
  ipOffset = -1;
  /** IPv4 header length incl. options, or IPv6 fixed header + extension headers, in bytes. */
  ipHeaderLength = -1;
  /** IPv4 addresses as unsigned 32-bit integers (valid when ipVersion === 4). */
  srcIpv4 = 0;
  dstIpv4 = 0;
  /** Offsets of the 16-byte IPv6 addresses in `data` (valid when ipVersion === 6). */
  srcIpv6Offset = -1;
  dstIpv6Offset = -1;
  /** Transport protocol number (after IPv6 extension headers), -1 when none. */
  ipProto = -1;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl = -1;
  /** IPv4 total length, or IPv6 payload length + 40. */
  ipTotalLength = -1;
  /** Fragment offset in bytes (0 for the first/only fragment). */
  fragmentOffset = -1;
  moreFragments = false;
  ipId = -1;

  // Transport layer
  srcPort = -1;
  dstPort = -1;
  /** TCP flags byte incl. CWR/ECE (low 8 bits) plus NS in bit 8. */
  tcpFlags = -1;
  tcpSeq = -1;
  tcpAck = -1;
  tcpWindow = -1;
  /** TCP header length incl. options, 8 for UDP, 12 for SCTP common header, 8 for ICMP. */
  l4HeaderLength = -1;
  /** Transport payload bytes as the headers state them (not counting Ethernet padding). */
  payloadLength = -1;
  /** Offset of the transport payload in `data` (may be past the captured bytes when truncated). */
  payloadOffset = -1;
  icmpType = -1;
  icmpCode = -1;

  /** Encapsulations passed through, outermost first, joined by '+'; '' when none. */
  tunnel = '';

  constructor() {
    // V8 keeps a numeric field as a small integer until a value needs a double (here: an unsigned 32-bit
    // address, sequence number or IPv6 fragment id of 2^31 or more); switching then deoptimizes all code
    // compiled for the old layout, part-way through a capture (the first IPv6 fragment can come late).
    // Storing 2^31 once gives these fields their final layout before any packet is decoded.
    const double = 2 ** 31;
    this.srcIpv4 = double;
    this.dstIpv4 = double;
    this.ipId = double;
    this.tcpSeq = double;
    this.tcpAck = double;
    this.srcIpv4 = 0;
    this.dstIpv4 = 0;
    this.ipId = -1;
    this.tcpSeq = -1;
    this.tcpAck = -1;
  }

  reset(data: Uint8Array, end: number, linkType: number): void {
    // Stored only when it changes (once per chunk of the capture, not per packet): the chunk's view is a young
    // object and this packet an old one, so each store of it ran V8's write barrier out of line.
    if (this.data !== data) this.data = data;
    this.end = end;
    this.linkType = linkType;
    this.ethDstOffset = -1;
    this.ethSrcOffset = -1;
    this.ethType = -1;
    this.vlanCount = 0;
    this.mplsCount = 0;
    this.arpOpcode = -1;
    this.ipVersion = 0;
    this.ipOffset = -1;
    this.ipHeaderLength = -1;
    this.srcIpv4 = 0;
    this.dstIpv4 = 0;
    this.srcIpv6Offset = -1;
    this.dstIpv6Offset = -1;
    this.ipProto = -1;
    this.ttl = -1;
    this.ipTotalLength = -1;
    this.fragmentOffset = -1;
    this.moreFragments = false;
    this.ipId = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpFlags = -1;
    this.tcpSeq = -1;
    this.tcpAck = -1;
    this.tcpWindow = -1;
    this.l4HeaderLength = -1;
    this.payloadLength = -1;
    this.payloadOffset = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.tunnel = '';
  }
}

export const TCP_FLAG = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
} as const;
