/**
 * The per-packet CSV: one row per frame, written as a stream of large string chunks.
 *
 * Columns are pinned by PACKET_CSV_COLUMNS (version PACKET_CSV_VERSION): the first 32 are the contract
 * (issue #2), the rest are extras. Absent values are empty cells. Numbers are decimal. Text cells that could
 * hold a comma, quote or line break (names from the user-editable protocol maps) are quoted per RFC 4180 §2.
 *
 * Speed: `PacketCsvWriter` writes each row as bytes straight into one reused buffer (digit loops for numbers,
 * byte tables for IPv4/MAC/hex, names encoded once per value) and hands the sink one flat string per chunk;
 * `formatPacketRow` is the string form of the same row, for single rows.
 */
import { formatIpv4, formatIpv6, formatMac, ipv6Layout, layoutIpv6 } from '../capture/address-format.js';
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

  port(protocol: number, port: number): string {
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
  /** Bytes gathered before a chunk is handed to the sink (default 1 MiB). */
  chunkChars?: number;
  /** Write the header line first (default true). */
  header?: boolean;
  /**
   * Receives each chunk as UTF-8 bytes (a copy the receiver may keep) instead of the string sink: for a file or
   * pipe, where decoding the bytes into a string only for the stream to encode it back costs two more passes
   * over every row and a large string per chunk.
   */
  onBytes?: (chunk: Uint8Array) => void;
  /**
   * Hand `onBytes` a view of the writer's buffer, valid only until it returns, instead of a copy: for a
   * receiver that writes each chunk at once (a file written synchronously).
   */
  lendBytes?: boolean;
}

// ---- Byte-level row writing (the writer's hot path) ----
// Rows are written as ASCII/UTF-8 bytes straight into one reused buffer: no per-row strings, no ropes to
// flatten, no garbage per packet. The text is the same as `formatPacketRow` gives (tests compare them).

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const DOT = 0x2e;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const ZERO = 0x30;

/** Per octet value: its decimal digits, 4 bytes per entry (count, then up to 3 digits). */
const DECIMAL_OCTET_BYTES = new Uint8Array(256 * 4);
/** Per octet value: its two lowercase hex digits. */
const HEX_OCTET_BYTES = new Uint8Array(256 * 2);
const HEX_DIGIT = new Uint8Array(16);
for (let n = 0; n < 16; n++) HEX_DIGIT[n] = '0123456789abcdef'.charCodeAt(n);
for (let n = 0; n < 256; n++) {
  const text = String(n);
  DECIMAL_OCTET_BYTES[n * 4] = text.length;
  for (let i = 0; i < text.length; i++) DECIMAL_OCTET_BYTES[n * 4 + 1 + i] = text.charCodeAt(i);
  HEX_OCTET_BYTES[n * 2] = HEX_DIGIT[n >> 4]!;
  HEX_OCTET_BYTES[n * 2 + 1] = HEX_DIGIT[n & 15]!;
}
/** Per value 0..99: two decimal digits. */
const TWO_DIGITS = new Uint8Array(200);
for (let n = 0; n < 100; n++) {
  TWO_DIGITS[n * 2] = ZERO + Math.floor(n / 10);
  TWO_DIGITS[n * 2 + 1] = ZERO + (n % 10);
}

const encoder = new TextEncoder();
/** The flag letters (ASCII) as bytes, built without TextEncoder (its first calls are slow at start-up). */
const TCP_FLAGS_BYTES: readonly Uint8Array[] = TCP_FLAGS_TEXT.map((text) => {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
});

/** Decimal digits of a non-negative integer below 2^31. */
function digitCount(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  if (n < 10000000) return 7;
  if (n < 100000000) return 8;
  if (n < 1000000000) return 9;
  return 10;
}

/** Writes a non-negative integer below 2^31 in decimal; returns the position after it. */
function writeSmallUint(buf: Uint8Array, pos: number, value: number): number {
  let n = value;
  const end = pos + digitCount(n);
  let p = end;
  while (n >= 100) {
    const q = (n / 100) | 0;
    const r = (n - q * 100) << 1;
    buf[--p] = TWO_DIGITS[r + 1]!;
    buf[--p] = TWO_DIGITS[r]!;
    n = q;
  }
  if (n >= 10) {
    buf[--p] = TWO_DIGITS[(n << 1) + 1]!;
    buf[--p] = TWO_DIGITS[n << 1]!;
  } else {
    buf[--p] = ZERO + n;
  }
  return end;
}

/** Writes `value` (0 ≤ value < 10^width, integer below 2^31) as exactly `width` digits, zero-padded. */
function writePadded(buf: Uint8Array, pos: number, value: number, width: number): number {
  let n = value;
  const end = pos + width;
  for (let p = end - 1; p >= pos; p--) {
    const q = (n / 10) | 0;
    buf[p] = ZERO + n - q * 10;
    n = q;
  }
  return end;
}

/** Writes a non-negative integer (exact up to 2^53) in decimal, as `String(value)` would. */
function writeUint(buf: Uint8Array, pos: number, value: number): number {
  if (value < 2147483648) return writeSmallUint(buf, pos, value);
  const high = Math.floor(value / 1e9);
  return writePadded(buf, writeUint(buf, pos, high), value - high * 1e9, 9);
}

function writeBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  const length = bytes.length;
  for (let i = 0; i < length; i++) buf[pos + i] = bytes[i]!;
  return pos + length;
}

function writeIpv4(buf: Uint8Array, pos: number, address: number): number {
  let p = writeOctet(buf, pos, (address >>> 24) & 0xff);
  buf[p++] = DOT;
  p = writeOctet(buf, p, (address >>> 16) & 0xff);
  buf[p++] = DOT;
  p = writeOctet(buf, p, (address >>> 8) & 0xff);
  buf[p++] = DOT;
  return writeOctet(buf, p, address & 0xff);
}

function writeOctet(buf: Uint8Array, pos: number, octet: number): number {
  const at = octet << 2;
  const length = DECIMAL_OCTET_BYTES[at]!;
  buf[pos] = DECIMAL_OCTET_BYTES[at + 1]!;
  if (length > 1) buf[pos + 1] = DECIMAL_OCTET_BYTES[at + 2]!;
  if (length > 2) buf[pos + 2] = DECIMAL_OCTET_BYTES[at + 3]!;
  return pos + length;
}

function writeMac(buf: Uint8Array, pos: number, bytes: Uint8Array, offset: number): number {
  let p = pos;
  for (let i = 0; i < 6; i++) {
    if (i > 0) buf[p++] = COLON;
    const at = bytes[offset + i]! << 1;
    buf[p++] = HEX_OCTET_BYTES[at]!;
    buf[p++] = HEX_OCTET_BYTES[at + 1]!;
  }
  return p;
}

/** A 16-bit group in lowercase hex without leading zeros. */
function writeHexGroup(buf: Uint8Array, pos: number, group: number): number {
  let p = pos;
  if (group >= 0x1000) buf[p++] = HEX_DIGIT[group >> 12]!;
  if (group >= 0x100) buf[p++] = HEX_DIGIT[(group >> 8) & 15]!;
  if (group >= 0x10) buf[p++] = HEX_DIGIT[(group >> 4) & 15]!;
  buf[p++] = HEX_DIGIT[group & 15]!;
  return p;
}

/** The bytes of `formatIpv6(bytes, offset)` (RFC 5952 text, same rules, embedded IPv4 included). */
function writeIpv6(buf: Uint8Array, pos: number, bytes: Uint8Array, offset: number): number {
  layoutIpv6(bytes, offset);
  const { groups, zeroRunStart: bestStart, zeroRunLength: bestLength, embeddedIpv4 } = ipv6Layout;
  let p = pos;
  const lastGroup = embeddedIpv4 ? 6 : 8;
  for (let i = 0; i < lastGroup; i++) {
    if (i === bestStart) {
      buf[p++] = COLON;
      buf[p++] = COLON;
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) buf[p++] = COLON;
    p = writeHexGroup(buf, p, groups[i]!);
  }
  if (embeddedIpv4) {
    if (lastGroup !== bestStart + bestLength) buf[p++] = COLON;
    p = writeOctet(buf, p, bytes[offset + 12]!);
    buf[p++] = DOT;
    p = writeOctet(buf, p, bytes[offset + 13]!);
    buf[p++] = DOT;
    p = writeOctet(buf, p, bytes[offset + 14]!);
    buf[p++] = DOT;
    p = writeOctet(buf, p, bytes[offset + 15]!);
  }
  return p;
}

/**
 * `writeCell` with a fast path for one- and two-digit values, for the fields that are usually small (ports,
 * TTL, flags, header fields); any value is still written right.
 */
function writeShortCell(buf: Uint8Array, pos: number, value: number): number {
  let p = pos;
  if (value >= 0) {
    if (value < 10) {
      buf[p++] = ZERO + value;
    } else if (value < 100) {
      buf[p++] = TWO_DIGITS[value << 1]!;
      buf[p++] = TWO_DIGITS[(value << 1) + 1]!;
    } else {
      p = writeUint(buf, p, value);
    }
  }
  buf[p] = COMMA;
  return p + 1;
}

/** `num(value)` as bytes: nothing for absent (-1) values, then the comma that ends the cell. */
function writeCell(buf: Uint8Array, pos: number, value: number): number {
  const p = value < 0 ? pos : writeUint(buf, pos, value);
  buf[p] = COMMA;
  return p + 1;
}

function writeIds(buf: Uint8Array, pos: number, ids: readonly number[], count: number): number {
  let p = pos;
  for (let i = 0; i < count; i++) {
    if (i > 0) buf[p++] = SEMICOLON;
    p = writeUint(buf, p, ids[i]!);
  }
  return p;
}

const EMPTY_BYTES = new Uint8Array(0);

function hasNonAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return true;
  return false;
}

/** Per-number caches of the CSV-escaped names as UTF-8 bytes, filled on first use. */
class NameBytes {
  private readonly ether = new Array<Uint8Array | undefined>(0x10000).fill(undefined);
  private readonly ip = new Array<Uint8Array | undefined>(0x100).fill(undefined);
  private readonly tcp = new Array<Uint8Array | undefined>(0x10000).fill(undefined);
  private readonly udp = new Array<Uint8Array | undefined>(0x10000).fill(undefined);
  private readonly other = new Array<Uint8Array | undefined>(0x10000).fill(undefined);
  private readonly tunnels = new Map<string, Uint8Array>();
  /** Whether any name handed out holds non-ASCII bytes (then chunks are decoded as UTF-8). */
  nonAscii = false;

  constructor(private readonly cells: NameCells) {}

  private encode(text: string): Uint8Array {
    if (text === '') return EMPTY_BYTES;
    const bytes = encoder.encode(text);
    if (hasNonAscii(bytes)) this.nonAscii = true;
    return bytes;
  }

  etherType(etherType: number): Uint8Array {
    if (etherType < 0) return EMPTY_BYTES;
    let bytes = this.ether[etherType];
    if (bytes === undefined) {
      bytes = this.encode(this.cells.etherType(etherType));
      this.ether[etherType] = bytes;
    }
    return bytes;
  }

  ipProtocol(protocol: number): Uint8Array {
    if (protocol < 0) return EMPTY_BYTES;
    let bytes = this.ip[protocol];
    if (bytes === undefined) {
      bytes = this.encode(this.cells.ipProtocol(protocol));
      this.ip[protocol] = bytes;
    }
    return bytes;
  }

  private port(protocol: number, port: number): Uint8Array {
    const table = protocol === 6 ? this.tcp : protocol === 17 ? this.udp : this.other;
    let bytes = table[port];
    if (bytes === undefined) {
      bytes = this.encode(this.cells.port(protocol, port));
      table[port] = bytes;
    }
    return bytes;
  }

  /** Same rule as `NameCells.service`. */
  service(protocol: number, srcPort: number, dstPort: number): Uint8Array {
    if (srcPort < 0 || dstPort < 0) return EMPTY_BYTES;
    const low = Math.min(srcPort, dstPort);
    const high = Math.max(srcPort, dstPort);
    const lowName = this.port(protocol, low);
    return lowName.length !== 0 ? lowName : this.port(protocol, high);
  }

  tunnel(text: string): Uint8Array {
    if (text === '') return EMPTY_BYTES;
    let bytes = this.tunnels.get(text);
    if (bytes === undefined) {
      bytes = this.encode(text);
      this.tunnels.set(text, bytes);
    }
    return bytes;
  }
}

/** Room kept free for one row besides its names: 38 cells of at most 20 digits, 2 IPv6, 2 MACs, 16 ids. */
const ROW_FIXED_BYTES = 2048;

/**
 * Streams CSV rows to `sink` in large chunks. Call `writePacket` per frame (after `decodeFrame`), then
 * `end()` to hand over the last partial chunk.
 */
export class PacketCsvWriter {
  private readonly names: NameBytes;
  private readonly chunkBytes: number;
  private buffer: Buffer;
  private position = 0;
  /** Rows written so far (not counting the header). */
  rows = 0;

  private readonly onBytes: ((chunk: Uint8Array) => void) | undefined;
  private readonly lendBytes: boolean;

  constructor(
    names: ProtocolNames,
    private readonly sink: (chunk: string) => void,
    options: PacketCsvWriterOptions = {},
  ) {
    this.onBytes = options.onBytes;
    this.lendBytes = options.lendBytes ?? false;
    this.names = new NameBytes(new NameCells(names));
    this.chunkBytes = Math.max(1, options.chunkChars ?? 1 << 20);
    this.buffer = Buffer.allocUnsafe(this.chunkBytes + ROW_FIXED_BYTES + PACKET_CSV_HEADER.length);
    if (options.header ?? true) {
      this.position = this.buffer.write(PACKET_CSV_HEADER, 0, 'latin1');
    }
  }

  writePacket(frame: RawFrame, packet: DecodedPacket): void {
    const names = this.names;
    const ipProto = packet.ipProto;
    const etherName = names.etherType(packet.ethType);
    const protoName = names.ipProtocol(ipProto);
    const service = names.service(ipProto, packet.srcPort, packet.dstPort);
    const tunnel = names.tunnel(packet.tunnel);
    const room = ROW_FIXED_BYTES + etherName.length + protoName.length + service.length + tunnel.length;
    if (this.position + room > this.buffer.length) {
      this.flush();
      if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room + this.chunkBytes);
    }
    const buf = this.buffer;
    const data = packet.data;
    let p = this.position;

    p = writeCell(buf, p, frame.index);
    const tsSec = frame.tsSec;
    const tsNanos = frame.tsNanos;
    // ts_us = tsSec * 10^6 + floor(tsNanos / 1000): the seconds' digits then six microsecond digits.
    if (tsSec === 0) p = writeSmallUint(buf, p, (tsNanos / 1000) | 0);
    else p = writePadded(buf, writeUint(buf, p, tsSec), (tsNanos / 1000) | 0, 6);
    buf[p++] = COMMA;
    p = writeCell(buf, p, frame.originalLength);
    p = writeCell(buf, p, frame.capturedLength);
    p = writeShortCell(buf, p, frame.linkType);
    if (packet.ethSrcOffset >= 0) p = writeMac(buf, p, data, packet.ethSrcOffset);
    buf[p++] = COMMA;
    if (packet.ethDstOffset >= 0) p = writeMac(buf, p, data, packet.ethDstOffset);
    buf[p++] = COMMA;
    p = writeShortCell(buf, p, packet.ethType);
    p = writeBytes(buf, p, etherName);
    buf[p++] = COMMA;
    p = writeIds(buf, p, packet.vlanIds, packet.vlanCount);
    buf[p++] = COMMA;
    const ipVersion = packet.ipVersion;
    if (ipVersion === 4) {
      buf[p++] = 0x34;
      buf[p++] = COMMA;
      p = writeIpv4(buf, p, packet.srcIpv4);
      buf[p++] = COMMA;
      p = writeIpv4(buf, p, packet.dstIpv4);
    } else if (ipVersion === 6) {
      buf[p++] = 0x36;
      buf[p++] = COMMA;
      p = writeIpv6(buf, p, data, packet.srcIpv6Offset);
      buf[p++] = COMMA;
      p = writeIpv6(buf, p, data, packet.dstIpv6Offset);
    } else {
      if (ipVersion !== 0) p = writeUint(buf, p, ipVersion);
      buf[p++] = COMMA;
      buf[p++] = COMMA;
    }
    buf[p++] = COMMA;
    p = writeShortCell(buf, p, ipProto);
    p = writeBytes(buf, p, protoName);
    buf[p++] = COMMA;
    p = writeShortCell(buf, p, packet.ttl);
    p = writeCell(buf, p, packet.ipTotalLength);
    const fragmentOffset = packet.fragmentOffset;
    p = writeCell(buf, p, fragmentOffset);
    if (fragmentOffset >= 0) buf[p++] = packet.moreFragments ? 0x31 : ZERO;
    buf[p++] = COMMA;
    p = writeShortCell(buf, p, packet.srcPort);
    p = writeShortCell(buf, p, packet.dstPort);
    p = writeBytes(buf, p, service);
    buf[p++] = COMMA;
    const tcpFlags = packet.tcpFlags;
    p = writeShortCell(buf, p, tcpFlags);
    if (tcpFlags >= 0) p = writeBytes(buf, p, TCP_FLAGS_BYTES[tcpFlags & 0x1ff]!);
    buf[p++] = COMMA;
    p = writeCell(buf, p, packet.tcpSeq);
    p = writeCell(buf, p, packet.tcpAck);
    p = writeShortCell(buf, p, packet.tcpWindow);
    p = writeShortCell(buf, p, packet.l4HeaderLength);
    p = writeCell(buf, p, packet.payloadLength);
    p = writeShortCell(buf, p, packet.icmpType);
    p = writeShortCell(buf, p, packet.icmpCode);
    p = writeBytes(buf, p, tunnel);
    buf[p++] = COMMA;
    // ts_ns: the seconds' digits then nine nanosecond digits (just the nanoseconds when tsSec is 0).
    if (tsSec === 0) p = writeUint(buf, p, tsNanos);
    else p = writePadded(buf, writeUint(buf, p, tsSec), tsNanos, 9);
    buf[p++] = COMMA;
    p = writeCell(buf, p, frame.interfaceId);
    p = writeShortCell(buf, p, packet.ipHeaderLength);
    p = writeShortCell(buf, p, packet.ipId);
    p = writeIds(buf, p, packet.mplsLabels, packet.mplsCount);
    buf[p++] = COMMA;
    const arpOpcode = packet.arpOpcode;
    if (arpOpcode >= 0) p = writeUint(buf, p, arpOpcode);
    buf[p++] = NEWLINE;

    this.position = p;
    this.rows++;
    if (p >= this.chunkBytes) this.flush();
  }

  /** Hands the gathered rows to the sink now (e.g. before awaiting backpressure). */
  flush(): void {
    if (this.position === 0) return;
    if (this.onBytes !== undefined) {
      // The buffer always holds UTF-8 (names are written UTF-8 encoded). A copy outlives the next rows; a
      // lent view (lendBytes) is used by the receiver before it returns.
      let bytes: Uint8Array;
      if (this.lendBytes) {
        bytes = this.buffer.subarray(0, this.position);
      } else {
        bytes = new Uint8Array(this.position);
        bytes.set(this.buffer.subarray(0, this.position));
      }
      this.position = 0;
      this.onBytes(bytes);
      return;
    }
    const chunk = this.names.nonAscii
      ? this.buffer.toString('utf8', 0, this.position)
      : this.buffer.toString('latin1', 0, this.position);
    this.position = 0;
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
