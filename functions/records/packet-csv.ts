/**
 * The per-packet CSV: one row per frame, written as a stream of large string chunks.
 *
 * Columns are pinned by PACKET_CSV_COLUMNS (version PACKET_CSV_VERSION): the first 32 are the contract
 * (issue #2), the rest are extras. Absent values are empty cells. Numbers are decimal. Text cells that could
 * hold a comma, quote or line break (names from the user-editable protocol maps) are quoted per RFC 4180 §2.
 *
 * Speed: a row is one template literal appended to a chunk string handed to the sink every `chunkChars`;
 * every per-value string that repeats (names, flags, quoted names) comes from tables built once.
 */
import { formatIpv4, formatIpv6, formatMac } from '../capture/address-format.js';
import type { DecodedPacket } from '../capture/decoded-packet.js';
import { frameTimestampUs, type RawFrame } from '../capture/frame.js';
import type { ProtocolNames } from '../capture/protocol-names.js';

export const PACKET_CSV_VERSION = '1.0';

export const PACKET_CSV_COLUMNS = [
  'index',
  'ts_us',
  'frame_len',
  'cap_len',
  'link_type',
  'eth_src',
  'eth_dst',
  'eth_type',
  'eth_type_name',
  'vlan_ids',
  'ip_version',
  'src_ip',
  'dst_ip',
  'ip_proto',
  'ip_proto_name',
  'ttl',
  'ip_len',
  'frag_offset',
  'more_fragments',
  'src_port',
  'dst_port',
  'service',
  'tcp_flags',
  'tcp_flags_str',
  'tcp_seq',
  'tcp_ack',
  'tcp_window',
  'l4_header_len',
  'payload_len',
  'icmp_type',
  'icmp_code',
  'tunnel',
  // Extras.
  'ts_ns',
  'interface_id',
  'ip_header_len',
  'ip_id',
  'mpls_labels',
  'arp_opcode',
] as const;

export type PacketCsvColumn = (typeof PACKET_CSV_COLUMNS)[number];

/** The header line, with its line break. */
export const PACKET_CSV_HEADER = `${PACKET_CSV_COLUMNS.join(',')}\n`;

/** RFC 4180 §2 (6, 7): quote a field holding a comma, quote or line break, doubling inner quotes. */
export function csvEscape(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * TCP flag letters, lowest bit first (F S R P A U E C, then N for the NS bit, RFC 3540): SYN+ACK is "SA",
 * PSH+ACK "PA". One precomputed string per flag combination.
 */
const TCP_FLAG_LETTERS = 'FSRPAUECN';
export const TCP_FLAGS_TEXT: readonly string[] = Array.from({ length: 512 }, (_, bits) => {
  let text = '';
  for (let bit = 0; bit < 9; bit++) if ((bits & (1 << bit)) !== 0) text += TCP_FLAG_LETTERS[bit];
  return text;
});

const NANOS_PADDED: (n: number) => string = (n) => String(n).padStart(9, '0');

/** An empty cell for absent (-1) numbers. */
function num(value: number): string | number {
  return value < 0 ? '' : value;
}

function joinIds(ids: readonly number[], count: number): string {
  if (count === 0) return '';
  let text = String(ids[0]);
  for (let i = 1; i < count; i++) text += `;${ids[i]}`;
  return text;
}

/** Per-number caches of CSV-escaped names, filled on first use. */
class NameCells {
  private readonly ether = new Array<string | undefined>(0x10000).fill(undefined);
  private readonly ip = new Array<string | undefined>(0x100).fill(undefined);
  private readonly tcp = new Array<string | undefined>(0x10000).fill(undefined);
  private readonly udp = new Array<string | undefined>(0x10000).fill(undefined);
  private readonly other = new Array<string | undefined>(0x10000).fill(undefined);

  constructor(private readonly names: ProtocolNames) {}

  etherType(etherType: number): string {
    if (etherType < 0) return '';
    let cell = this.ether[etherType];
    if (cell === undefined) {
      cell = csvEscape(this.names.etherTypeName(etherType));
      this.ether[etherType] = cell;
    }
    return cell;
  }

  ipProtocol(protocol: number): string {
    if (protocol < 0) return '';
    let cell = this.ip[protocol];
    if (cell === undefined) {
      cell = csvEscape(this.names.ipProtocolName(protocol));
      this.ip[protocol] = cell;
    }
    return cell;
  }

  private port(protocol: number, port: number): string {
    const table = protocol === 6 ? this.tcp : protocol === 17 ? this.udp : this.other;
    let cell = table[port];
    if (cell === undefined) {
      cell = csvEscape(this.names.serviceName(protocol, port));
      table[port] = cell;
    }
    return cell;
  }

  /**
   * The service of a conversation: the name of the lower port when it has one (servers usually listen on
   * the well-known, lower port, whichever direction the packet goes), else the name of the other port.
   */
  service(protocol: number, srcPort: number, dstPort: number): string {
    if (srcPort < 0 || dstPort < 0) return '';
    const low = Math.min(srcPort, dstPort);
    const high = Math.max(srcPort, dstPort);
    const lowName = this.port(protocol, low);
    return lowName !== '' ? lowName : this.port(protocol, high);
  }
}

/** One CSV row (without line break) for a decoded frame. */
export function formatPacketRow(frame: RawFrame, packet: DecodedPacket, cells: NameCells): string {
  const data = packet.data;
  const ipVersion = packet.ipVersion;
  let srcIp = '';
  let dstIp = '';
  if (ipVersion === 4) {
    srcIp = formatIpv4(packet.srcIpv4);
    dstIp = formatIpv4(packet.dstIpv4);
  } else if (ipVersion === 6) {
    srcIp = formatIpv6(data, packet.srcIpv6Offset);
    dstIp = formatIpv6(data, packet.dstIpv6Offset);
  }
  const fragmentOffset = packet.fragmentOffset;
  const tcpFlags = packet.tcpFlags;
  const ipProto = packet.ipProto;
  return `${frame.index},${frameTimestampUs(frame)},${frame.originalLength},${frame.capturedLength},${frame.linkType},${
    packet.ethSrcOffset >= 0 ? formatMac(data, packet.ethSrcOffset) : ''
  },${packet.ethDstOffset >= 0 ? formatMac(data, packet.ethDstOffset) : ''},${num(packet.ethType)},${cells.etherType(
    packet.ethType,
  )},${joinIds(packet.vlanIds, packet.vlanCount)},${ipVersion === 0 ? '' : ipVersion},${srcIp},${dstIp},${num(
    ipProto,
  )},${cells.ipProtocol(ipProto)},${num(packet.ttl)},${num(packet.ipTotalLength)},${num(fragmentOffset)},${
    fragmentOffset < 0 ? '' : packet.moreFragments ? 1 : 0
  },${num(packet.srcPort)},${num(packet.dstPort)},${cells.service(ipProto, packet.srcPort, packet.dstPort)},${num(
    tcpFlags,
  )},${tcpFlags < 0 ? '' : TCP_FLAGS_TEXT[tcpFlags & 0x1ff]},${num(packet.tcpSeq)},${num(packet.tcpAck)},${num(
    packet.tcpWindow,
  )},${num(packet.l4HeaderLength)},${num(packet.payloadLength)},${num(packet.icmpType)},${num(packet.icmpCode)},${
    packet.tunnel
  },${frame.tsSec === 0 ? frame.tsNanos : `${frame.tsSec}${NANOS_PADDED(frame.tsNanos)}`},${frame.interfaceId},${num(
    packet.ipHeaderLength,
  )},${num(packet.ipId)},${joinIds(packet.mplsLabels, packet.mplsCount)},${num(packet.arpOpcode)}`;
}

export interface PacketCsvWriterOptions {
  /** Characters gathered before a chunk is handed to the sink (default 1 MiB). */
  chunkChars?: number;
  /** Write the header line first (default true). */
  header?: boolean;
}

/**
 * Streams CSV rows to `sink` in large chunks. Call `writePacket` per frame (after `decodeFrame`), then
 * `end()` to hand over the last partial chunk.
 */
export class PacketCsvWriter {
  private readonly cells: NameCells;
  private readonly chunkChars: number;
  // Rows are gathered in an array and joined once per chunk: appending to one growing string makes V8
  // flatten the whole rope again and again once it is deep (quadratic), joining is linear.
  private readonly pending: string[] = [];
  private pendingChars = 0;
  /** Rows written so far (not counting the header). */
  rows = 0;

  constructor(
    names: ProtocolNames,
    private readonly sink: (chunk: string) => void,
    options: PacketCsvWriterOptions = {},
  ) {
    this.cells = new NameCells(names);
    this.chunkChars = options.chunkChars ?? 1 << 20;
    if (options.header ?? true) {
      this.pending.push(PACKET_CSV_HEADER);
      this.pendingChars = PACKET_CSV_HEADER.length;
    }
  }

  writePacket(frame: RawFrame, packet: DecodedPacket): void {
    const row = formatPacketRow(frame, packet, this.cells);
    // Reading a character makes V8 flatten the row's rope of ~80 pieces now, while those pieces are still
    // young garbage; keeping thousands of unflattened ropes per chunk would move them all to the old
    // generation and make every garbage collection slow.
    row.charCodeAt(0);
    this.pending.push(row);
    this.pendingChars += row.length + 1;
    this.rows++;
    if (this.pendingChars >= this.chunkChars) this.flush();
  }

  /** Hands the gathered rows to the sink now (e.g. before awaiting backpressure). */
  flush(): void {
    if (this.pending.length === 0) return;
    const startsWithHeader = this.pending[0] === PACKET_CSV_HEADER;
    const chunk = startsWithHeader
      ? `${PACKET_CSV_HEADER}${this.pending.slice(1).join('\n')}${this.pending.length > 1 ? '\n' : ''}`
      : `${this.pending.join('\n')}\n`;
    this.pending.length = 0;
    this.pendingChars = 0;
    this.sink(chunk);
  }

  end(): void {
    this.flush();
  }
}

/** The escaped-name caches used by `formatPacketRow`, for callers formatting single rows. */
export function packetNameCells(names: ProtocolNames): NameCells {
  return new NameCells(names);
}

export type { NameCells };
