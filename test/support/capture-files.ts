/**
 * In-memory writers for classic pcap and pcapng files, for tests. Every variant the readers accept can be
 * built here (both byte orders, µs/ns magics, the "modified" Kuznetzov record header, every pcapng block
 * type with options, several sections with different byte orders), plus deliberately wrong fields
 * (header caplen overrides, bogus lengths) so tests can build damaged files too.
 *
 * Typical use:
 *   buildPcap({ linkType: 1, packets: [{ tsUs: 1_700_000_000_000_000, data: frameBytes }] })
 *   buildPcapng({ linkType: 1, packets: [{ tsUs, data }] })
 *   buildPcapng({ blocks: [{ type: 'shb' }, { type: 'idb', linkType: 1 }, { type: 'epb', tsUs, data }] })
 *
 * Formats: pcap per draft-ietf-opsawg-pcap §4-5; pcapng per draft-ietf-opsawg-pcapng §4 (blocks) and §3.5 (options).
 */
import { gzipSync } from 'node:zlib';

export type ByteOrder = 'le' | 'be';

/** Grows as needed; integers written in the writer's current byte order. */
class ByteWriter {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  length = 0;
  constructor(public littleEndian: boolean) {}

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(value: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, value & 0xff);
    this.length += 1;
  }
  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, value & 0xffff, this.littleEndian);
    this.length += 2;
  }
  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value >>> 0, this.littleEndian);
    this.length += 4;
  }
  i32(value: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, value | 0, this.littleEndian);
    this.length += 4;
  }
  u64(value: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt.asUintN(64, value), this.littleEndian);
    this.length += 8;
  }
  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }
  zeros(count: number): void {
    this.ensure(count);
    this.buffer.fill(0, this.length, this.length + count);
    this.length += count;
  }
  patchU32(at: number, value: number): void {
    this.view.setUint32(at, value >>> 0, this.littleEndian);
  }
  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** One packet for a writer. Give the time as `tsUs`, or as `tsSec` + `tsNanos`. */
export interface PacketSpec {
  /** Microseconds since the epoch. */
  tsUs?: number;
  tsSec?: number;
  tsNanos?: number;
  /** The captured bytes. */
  data: Uint8Array;
  /** On-the-wire length; defaults to `data.length`. */
  originalLength?: number;
  /** Value written in the record's caplen field (defaults to `data.length`); use to build damaged files. */
  capturedLengthField?: number;
}

function packetTime(packet: PacketSpec): { sec: number; nanos: number } {
  if (packet.tsUs !== undefined) {
    const sec = Math.floor(packet.tsUs / 1_000_000);
    return { sec, nanos: (packet.tsUs - sec * 1_000_000) * 1000 };
  }
  return { sec: packet.tsSec ?? 0, nanos: packet.tsNanos ?? 0 };
}

// ---------------------------------------------------------------------------------------------------------
// Classic pcap
// ---------------------------------------------------------------------------------------------------------

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's "modified" pcap: 24-byte record headers (ifindex, protocol, pkt_type, pad). */
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

export interface BuildPcapOptions {
  /** LINKTYPE_* value (default 1, Ethernet). */
  linkType?: number;
  /** The raw 32-bit link-type field, overriding `linkType` (to set FCS/reserved upper bits). */
  linkTypeField?: number;
  packets: readonly PacketSpec[];
  byteOrder?: ByteOrder;
  /** 'us' (magic a1b2c3d4, default), 'ns' (a1b23c4d) or 'modified' (a1b2cd34, µs, 24-byte record headers). */
  variant?: 'us' | 'ns' | 'modified';
  /** Overrides the magic number written (still in `byteOrder`). */
  magic?: number;
  versionMajor?: number;
  versionMinor?: number;
  /** Default 262144. */
  snapLength?: number;
  thisZone?: number;
  sigFigs?: number;
}

/** A classic pcap file (pcap-savefile(5)): 24-byte file header, then 16-byte (or 24-byte) record headers. */
export function buildPcap(options: BuildPcapOptions): Uint8Array {
  const variant = options.variant ?? 'us';
  const writer = new ByteWriter((options.byteOrder ?? 'le') === 'le');
  const magic =
    options.magic ??
    (variant === 'ns' ? PCAP_MAGIC_NS : variant === 'modified' ? PCAP_MAGIC_MODIFIED : PCAP_MAGIC_US);
  writer.u32(magic);
  writer.u16(options.versionMajor ?? 2);
  writer.u16(options.versionMinor ?? 4);
  writer.i32(options.thisZone ?? 0);
  writer.u32(options.sigFigs ?? 0);
  writer.u32(options.snapLength ?? 262144);
  writer.u32(options.linkTypeField ?? options.linkType ?? 1);
  for (const packet of options.packets) {
    const { sec, nanos } = packetTime(packet);
    writer.u32(sec);
    writer.u32(variant === 'ns' ? nanos : Math.floor(nanos / 1000));
    writer.u32(packet.capturedLengthField ?? packet.data.length);
    writer.u32(packet.originalLength ?? packet.data.length);
    if (variant === 'modified') {
      writer.u32(1); // ifindex
      writer.u16(0x0800); // protocol
      writer.u8(0); // pkt_type
      writer.u8(0); // pad
    }
    writer.bytes(packet.data);
  }
  return writer.result();
}

// ---------------------------------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------------------------------

/** An option (pcapng §3.5): code + value (strings are written as UTF-8), padded to 32 bits by the writer. */
export interface PcapngOption {
  code: number;
  value: Uint8Array | string;
}

export type NameResolutionRecordSpec =
  | { kind: 'ipv4'; address: readonly number[]; names: readonly string[] }
  | { kind: 'ipv6'; address: readonly number[]; names: readonly string[] }
  /** Any other record type, body written as given. */
  | { kind: 'raw'; recordType: number; body: Uint8Array };

export type PcapngBlockSpec =
  /** Section Header Block (§4.1). Sets the byte order of every block up to the next SHB. */
  | {
      type: 'shb';
      byteOrder?: ByteOrder;
      versionMajor?: number;
      versionMinor?: number;
      /** Section length; default -1 (unspecified). */
      sectionLength?: bigint;
      options?: readonly PcapngOption[];
    }
  /** Interface Description Block (§4.2). `tsresol` is the raw if_tsresol byte; `tsoffset` is seconds. */
  | {
      type: 'idb';
      linkType: number;
      snapLength?: number;
      tsresol?: number;
      tsoffset?: bigint | number;
      name?: string;
      options?: readonly PcapngOption[];
    }
  /**
   * Enhanced Packet Block (§4.3). Time: `timestamp` in the interface's units (raw 64-bit), or a
   * `PacketSpec` time converted with the interface's if_tsresol.
   */
  | ({
      type: 'epb';
      interfaceId?: number;
      timestamp?: bigint;
      options?: readonly PcapngOption[];
    } & PacketSpec)
  /** Simple Packet Block (§4.4): original length only, captured = min(snaplen, len) is implied. */
  | { type: 'spb'; data: Uint8Array; originalLength?: number }
  /** Obsolete Packet Block (Appendix A, block type 2). */
  | ({
      type: 'pb';
      interfaceId?: number;
      dropsCount?: number;
      timestamp?: bigint;
      options?: readonly PcapngOption[];
    } & PacketSpec)
  /** Interface Statistics Block (§4.6). */
  | { type: 'isb'; interfaceId?: number; timestamp?: bigint; options?: readonly PcapngOption[] }
  /** Name Resolution Block (§4.5). */
  | { type: 'nrb'; records: readonly NameResolutionRecordSpec[]; options?: readonly PcapngOption[] }
  /** Decryption Secrets Block (§4.7). */
  | { type: 'dsb'; secretsType: number; data: Uint8Array; options?: readonly PcapngOption[] }
  /** Custom Block (§4.8): block type 0x00000BAD (copyable) or 0x40000BAD. */
  | { type: 'custom'; copyable?: boolean; pen: number; data: Uint8Array }
  /** Any block type with a raw body (padded to 32 bits unless `noPadding`), e.g. unknown or damaged. */
  | { type: 'raw'; blockType: number; body: Uint8Array; noPadding?: boolean; trailingLength?: number };

export interface BuildPcapngOptions {
  /** Explicit blocks; when absent a single section with one interface and one EPB per packet is built. */
  blocks?: readonly PcapngBlockSpec[];
  /** With `packets`: the one interface's link type (default 1). */
  linkType?: number;
  /** With `packets`: the one interface's if_tsresol byte (default: option absent = µs). */
  tsresol?: number;
  packets?: readonly PacketSpec[];
  /** With `packets`: byte order of the single section (default 'le'). */
  byteOrder?: ByteOrder;
}

export const PCAPNG_BLOCK = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  PB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
  CB_COPY: 0x00000bad,
  CB_NOCOPY: 0x40000bad,
} as const;

const encoder = new TextEncoder();

function optionBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function writeOptions(writer: ByteWriter, options: readonly PcapngOption[]): void {
  if (options.length === 0) return;
  for (const option of options) {
    const value = optionBytes(option.value);
    writer.u16(option.code);
    writer.u16(value.length);
    writer.bytes(value);
    writer.zeros(pad4(value.length));
  }
  writer.u16(0); // opt_endofopt
  writer.u16(0);
}

/** Ticks per second of an if_tsresol byte (§4.2): MSB clear = 10^-n, MSB set = 2^-n. */
function ticksPerSecond(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1_000_000n;
  return (tsresol & 0x80) !== 0 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

function packetTimestamp(packet: PacketSpec & { timestamp?: bigint }, tsresol: number | undefined): bigint {
  if (packet.timestamp !== undefined) return packet.timestamp;
  const { sec, nanos } = packetTime(packet);
  const ticks = ticksPerSecond(tsresol);
  return BigInt(sec) * ticks + (BigInt(nanos) * ticks) / 1_000_000_000n;
}

/** A pcapng file. Each block is written in the byte order of the SHB that precedes it. */
export function buildPcapng(options: BuildPcapngOptions): Uint8Array {
  const blocks: readonly PcapngBlockSpec[] = options.blocks ?? [
    { type: 'shb', byteOrder: options.byteOrder ?? 'le' },
    {
      type: 'idb',
      linkType: options.linkType ?? 1,
      ...(options.tsresol === undefined ? {} : { tsresol: options.tsresol }),
    },
    ...(options.packets ?? []).map((packet): PcapngBlockSpec => ({ type: 'epb', ...packet })),
  ];
  const writer = new ByteWriter(true);
  let interfaceResolutions: (number | undefined)[] = [];
  for (const block of blocks) {
    if (block.type === 'shb') {
      writer.littleEndian = (block.byteOrder ?? 'le') === 'le';
      interfaceResolutions = [];
    }
    const start = writer.length;
    const blockType = writeBlockBody(writer, block, interfaceResolutions);
    const end = writer.length;
    const totalLength = end - start + 4;
    writer.patchU32(start, blockType);
    writer.patchU32(start + 4, totalLength);
    writer.u32(
      block.type === 'raw' && block.trailingLength !== undefined ? block.trailingLength : totalLength,
    );
  }
  return writer.result();
}

/** Writes type + length placeholders and the body; returns the block type. */
function writeBlockBody(
  writer: ByteWriter,
  block: PcapngBlockSpec,
  interfaceResolutions: (number | undefined)[],
): number {
  writer.u32(0);
  writer.u32(0);
  switch (block.type) {
    case 'shb':
      // §4.1: byte-order magic written in the section's own order is how readers detect it.
      writer.u32(0x1a2b3c4d);
      writer.u16(block.versionMajor ?? 1);
      writer.u16(block.versionMinor ?? 0);
      writer.u64(block.sectionLength ?? -1n);
      writeOptions(writer, block.options ?? []);
      return PCAPNG_BLOCK.SHB;
    case 'idb': {
      writer.u16(block.linkType);
      writer.u16(0);
      writer.u32(block.snapLength ?? 0);
      const options: PcapngOption[] = [];
      if (block.name !== undefined) options.push({ code: 2, value: block.name });
      if (block.tsresol !== undefined) options.push({ code: 9, value: Uint8Array.of(block.tsresol) });
      if (block.tsoffset !== undefined) {
        const value = new ByteWriter(writer.littleEndian);
        value.u64(BigInt(block.tsoffset));
        options.push({ code: 14, value: value.result() });
      }
      options.push(...(block.options ?? []));
      writeOptions(writer, options);
      interfaceResolutions.push(block.tsresol);
      return PCAPNG_BLOCK.IDB;
    }
    case 'epb':
    case 'pb': {
      const interfaceId = block.interfaceId ?? 0;
      const timestamp = packetTimestamp(block, interfaceResolutions[interfaceId]);
      if (block.type === 'epb') writer.u32(interfaceId);
      else {
        writer.u16(interfaceId);
        writer.u16(block.dropsCount ?? 0);
      }
      writer.u32(Number((timestamp >> 32n) & 0xffffffffn));
      writer.u32(Number(timestamp & 0xffffffffn));
      writer.u32(block.capturedLengthField ?? block.data.length);
      writer.u32(block.originalLength ?? block.data.length);
      writer.bytes(block.data);
      writer.zeros(pad4(block.data.length));
      writeOptions(writer, block.options ?? []);
      return block.type === 'epb' ? PCAPNG_BLOCK.EPB : PCAPNG_BLOCK.PB;
    }
    case 'spb':
      writer.u32(block.originalLength ?? block.data.length);
      writer.bytes(block.data);
      writer.zeros(pad4(block.data.length));
      return PCAPNG_BLOCK.SPB;
    case 'isb': {
      const timestamp = block.timestamp ?? 0n;
      writer.u32(block.interfaceId ?? 0);
      writer.u32(Number((timestamp >> 32n) & 0xffffffffn));
      writer.u32(Number(timestamp & 0xffffffffn));
      writeOptions(writer, block.options ?? []);
      return PCAPNG_BLOCK.ISB;
    }
    case 'nrb': {
      for (const record of block.records) {
        if (record.kind === 'raw') {
          writer.u16(record.recordType);
          writer.u16(record.body.length);
          writer.bytes(record.body);
          writer.zeros(pad4(record.body.length));
          continue;
        }
        const names = record.names.map((name) => encoder.encode(name));
        const valueLength = record.address.length + names.reduce((sum, name) => sum + name.length + 1, 0);
        writer.u16(record.kind === 'ipv4' ? 1 : 2);
        writer.u16(valueLength);
        writer.bytes(Uint8Array.from(record.address));
        for (const name of names) {
          writer.bytes(name);
          writer.u8(0);
        }
        writer.zeros(pad4(valueLength));
      }
      writer.u16(0); // nrb_record_end
      writer.u16(0);
      writeOptions(writer, block.options ?? []);
      return PCAPNG_BLOCK.NRB;
    }
    case 'dsb':
      writer.u32(block.secretsType);
      writer.u32(block.data.length);
      writer.bytes(block.data);
      writer.zeros(pad4(block.data.length));
      writeOptions(writer, block.options ?? []);
      return PCAPNG_BLOCK.DSB;
    case 'custom':
      writer.u32(block.pen);
      writer.bytes(block.data);
      writer.zeros(pad4(block.data.length));
      return block.copyable === false ? PCAPNG_BLOCK.CB_NOCOPY : PCAPNG_BLOCK.CB_COPY;
    case 'raw':
      writer.bytes(block.body);
      if (!block.noPadding) writer.zeros(pad4(block.body.length));
      return block.blockType;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** gzip-compress a capture; `members` > 1 concatenates that many gzip members (each a slice of the data). */
export function gzipCapture(data: Uint8Array, members = 1): Uint8Array {
  if (members <= 1) return new Uint8Array(gzipSync(data));
  const parts: Uint8Array[] = [];
  const step = Math.ceil(data.length / members);
  for (let at = 0; at < data.length; at += step)
    parts.push(new Uint8Array(gzipSync(data.subarray(at, at + step))));
  return concatBytes(parts);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Delivers `data` as an async iterable of chunks of the given size (the last one shorter). */
export async function* chunksOf(data: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  const size = Math.max(1, chunkSize);
  for (let at = 0; at < data.length; at += size) yield data.slice(at, at + size);
}

/** Delivers `data` split at the given offsets (sorted ascending), as separate copies. */
export async function* splitAt(data: Uint8Array, offsets: readonly number[]): AsyncGenerator<Uint8Array> {
  let previous = 0;
  for (const offset of offsets) {
    if (offset > previous && offset < data.length) {
      yield data.slice(previous, offset);
      previous = offset;
    }
  }
  yield data.slice(previous);
}

/** A minimal Ethernet + IPv4 + UDP frame of `length` bytes (≥ 42), for tests that need plausible packets. */
export function ethernetUdpFrame(length = 60, seed = 0): Uint8Array {
  const frame = new Uint8Array(Math.max(42, length));
  frame.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  const ipLength = frame.length - 14;
  frame.set([0x45, 0, ipLength >> 8, ipLength & 0xff, 0, seed & 0xff, 0, 0, 64, 17, 0, 0], 14);
  frame.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  const udpLength = ipLength - 20;
  frame.set([0x30, 0x39, 0x00, 0x35, udpLength >> 8, udpLength & 0xff, 0, 0], 34);
  for (let i = 42; i < frame.length; i++) frame[i] = (i + seed) & 0xff;
  return frame;
}
