/**
 * pcapng (draft-ietf-opsawg-pcapng) as a push parser: `parse()` consumes every complete block in the bytes
 * it is handed and delivers packets through the reader's one reused `RawFrame`.
 *
 * Blocks (§4, general structure §3.1: type, total length, body, total length again):
 * - SHB (§4.1) starts a section; its byte-order magic sets the byte order of every block up to the next
 *   SHB, and interface ids restart at 0. Several sections of different byte orders may follow each other.
 * - IDB (§4.2): link type, snaplen, options if_name, if_description, if_tsresol (§4.2, 10^-n or 2^-n),
 *   if_tsoffset (seconds added to every timestamp), if_fcslen.
 * - EPB (§4.3), SPB (§4.4, no timestamp; captured = min(original, snaplen of interface 0, block room)),
 *   obsolete PB (Appendix A) deliver packets.
 * - NRB (§4.5) entries are surfaced as metadata; ISB (§4.6), DSB (§4.7), Custom Blocks (§4.8) and any
 *   unknown block type are skipped by their length.
 * A packet block naming an interface with no IDB, a total length that is not a multiple of 4 or differs
 * from the trailing copy, or a captured length larger than the block are damage (`PcapFormatError` with the
 * block's offset and type); reading stops there, after every earlier packet was delivered.
 */
import { NotACaptureError, PcapFormatError } from '../platform/errors.js';
import { formatIpv4, formatIpv6 } from './address-format.js';
import { BinaryCursor, readU32, readU32LE } from './binary-cursor.js';
import type { CaptureInterface, ContainerParser, ReaderContext } from './capture-reader.js';
import { maxCapturedLengthFor } from './pcap-reader.js';

export const PCAPNG_SHB_TYPE = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

const BLOCK_IDB = 0x00000001;
const BLOCK_PB = 0x00000002;
const BLOCK_SPB = 0x00000003;
const BLOCK_NRB = 0x00000004;
const BLOCK_ISB = 0x00000005;
const BLOCK_EPB = 0x00000006;
const BLOCK_DSB = 0x0000000a;

/** The smallest block (§3.1: type + total length + total length). */
const MIN_BLOCK_BYTES = 12;

const BLOCK_NAMES: ReadonlyMap<number, string> = new Map([
  [PCAPNG_SHB_TYPE, 'SHB'],
  [BLOCK_IDB, 'IDB'],
  [BLOCK_PB, 'PB'],
  [BLOCK_SPB, 'SPB'],
  [BLOCK_NRB, 'NRB'],
  [BLOCK_ISB, 'ISB'],
  [BLOCK_EPB, 'EPB'],
  [BLOCK_DSB, 'DSB'],
  [0x00000bad, 'custom block'],
  [0x40000bad, 'custom block'],
]);

export function pcapngBlockName(type: number): string {
  return BLOCK_NAMES.get(type) ?? `block type 0x${type.toString(16).padStart(8, '0')}`;
}

/** How an interface's timestamps become (seconds, nanoseconds). */
const TimestampMode = {
  /** 10^-n with n ≤ 9: nanoseconds = remainder × 10^(9-n), exact in doubles while ts < 2^53. */
  PowerOfTen: 0,
  /** 2^-n with n ≤ 52: seconds and remainder exact in doubles; nanoseconds exact while remainder is small. */
  PowerOfTwo: 1,
  /** Anything else (10^-n with n > 9, 2^-n with n > 52): bigint arithmetic. */
  BigInt: 2,
} as const;
type TimestampMode = (typeof TimestampMode)[keyof typeof TimestampMode];

interface InterfaceState {
  readonly linkType: number;
  readonly snapLength: number;
  readonly maxCapturedLength: number;
  readonly mode: TimestampMode;
  /** Ticks per second (exact when mode is not BigInt). */
  readonly ticksPerSecond: number;
  readonly ticksPerSecondBig: bigint;
  /** 10^9 / ticksPerSecond for PowerOfTen. */
  readonly nanosPerTick: number;
  readonly offsetSec: number;
  readonly offsetSecBig: bigint;
}

/** Largest 64-bit timestamp high word for which high × 2^32 + low stays well inside 2^53. */
const FAST_TIMESTAMP_HIGH_LIMIT = 0x1fffff;
/** Largest remainder r for which r × 10^9 is exact in a double. */
const FAST_REMAINDER_LIMIT = 9_007_199;

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const MAX_NAME_CHARS = 256;

export class PcapngParser implements ContainerParser {
  readonly format = 'pcapng' as const;
  bytesNeeded = MIN_BLOCK_BYTES;
  /** Sections seen so far. */
  sections = 0;
  /** Byte order of each section in order ('le' | 'be'). */
  readonly sectionByteOrders: ('le' | 'be')[] = [];

  private littleEndian = true;
  private interfaces: InterfaceState[] = [];
  private pendingBlockType = -1;

  constructor(private readonly context: ReaderContext) {}

  parse(bytes: Uint8Array, start: number, end: number, fileOffset: number): number {
    const context = this.context;
    const frame = context.frame;
    const onFrame = context.onFrame;
    const maxBlockBytes = context.limits.maxBlockBytes;
    const base = fileOffset - start;
    let position = start;
    frame.bytes = bytes;

    while (true) {
      if (this.littleEndian) position = this.enhancedPacketRunLittleEndian(bytes, position, end, base);
      const available = end - position;
      // Every block is at least 12 bytes, and 12 are enough to know an SHB's byte order and length.
      if (available < MIN_BLOCK_BYTES) {
        this.bytesNeeded = MIN_BLOCK_BYTES;
        this.pendingBlockType = -1;
        break;
      }
      let littleEndian = this.littleEndian;
      const type = readU32(bytes, position, littleEndian);
      if (type === PCAPNG_SHB_TYPE) {
        // §4.1: the SHB type is a palindrome; its byte-order magic tells how to read everything else.
        const magic = readU32LE(bytes, position + 8);
        if (magic === BYTE_ORDER_MAGIC) littleEndian = true;
        else if (magic === BYTE_ORDER_MAGIC_SWAPPED) littleEndian = false;
        else if (this.sections === 0) {
          throw new NotACaptureError('not a pcapng file: bad byte-order magic in the section header block');
        } else {
          throw new PcapFormatError(
            `section header block has an invalid byte-order magic 0x${magic.toString(16)}`,
            base + position,
            'SHB',
          );
        }
      } else if (this.sections === 0) {
        throw new NotACaptureError('not a pcapng file: does not start with a section header block');
      }
      const length = readU32(bytes, position + 4, littleEndian);
      if (length < MIN_BLOCK_BYTES || (length & 3) !== 0) {
        throw new PcapFormatError(
          `invalid block total length ${length} (must be a multiple of 4, at least ${MIN_BLOCK_BYTES})`,
          base + position,
          pcapngBlockName(type),
        );
      }
      if (length > maxBlockBytes) {
        throw new PcapFormatError(
          `block total length ${length} exceeds the limit maxBlockBytes=${maxBlockBytes}`,
          base + position,
          pcapngBlockName(type),
        );
      }
      if (available < length) {
        this.bytesNeeded = length;
        this.pendingBlockType = type;
        break;
      }
      const trailer = readU32(bytes, position + length - 4, littleEndian);
      if (trailer !== length) {
        throw new PcapFormatError(
          `trailing block total length ${trailer} does not match the leading ${length}`,
          base + position,
          pcapngBlockName(type),
        );
      }

      if (type === BLOCK_EPB) {
        // §4.3 Enhanced Packet Block: interface id, timestamp (high, low), captured length, original
        // length, packet data (padded to 32 bits), options. The hot path: no allocation.
        if (length < 32) throw this.blockError('EPB shorter than 32 bytes', base + position, type);
        const interfaceId = readU32(bytes, position + 8, littleEndian);
        const state = this.interfaces[interfaceId];
        if (state === undefined) throw this.missingInterface(interfaceId, base + position, type);
        const capturedLength = readU32(bytes, position + 20, littleEndian);
        if (capturedLength > length - 32) {
          throw this.blockError(
            `captured length ${capturedLength} exceeds the block's packet data room of ${length - 32} bytes`,
            base + position,
            type,
          );
        }
        if (capturedLength > state.maxCapturedLength) {
          throw this.blockError(
            `implausible captured length ${capturedLength} (limit ${state.maxCapturedLength} for link type ${state.linkType})`,
            base + position,
            type,
          );
        }
        this.setTimestamp(
          state,
          readU32(bytes, position + 12, littleEndian),
          readU32(bytes, position + 16, littleEndian),
        );
        frame.index = ++context.packets;
        frame.linkType = state.linkType;
        frame.interfaceId = interfaceId;
        frame.capturedLength = capturedLength;
        frame.originalLength = readU32(bytes, position + 24, littleEndian);
        frame.offset = position + 28;
        frame.fileOffset = base + position;
        onFrame(frame);
      } else {
        this.readOtherBlock(type, bytes, position, length, base + position, littleEndian);
      }
      position += length;
    }
    return position;
  }

  /**
   * The hot path: consecutive well-formed little-endian EPBs (the overwhelmingly common case), with
   * inlined reads and the µs/ns timestamp conversion, no allocation. Stops at the first block that is not
   * a complete, valid EPB and returns its position; the general loop then handles (or reports) it.
   */
  private enhancedPacketRunLittleEndian(
    bytes: Uint8Array,
    position: number,
    end: number,
    base: number,
  ): number {
    const context = this.context;
    const frame = context.frame;
    const onFrame = context.onFrame;
    const interfaces = this.interfaces;
    const maxBlockBytes = context.limits.maxBlockBytes;
    let packets = context.packets;
    while (end - position >= 32) {
      const p = position;
      if (bytes[p] !== BLOCK_EPB || bytes[p + 1] !== 0 || bytes[p + 2] !== 0 || bytes[p + 3] !== 0) break;
      const length =
        (bytes[p + 4]! | (bytes[p + 5]! << 8) | (bytes[p + 6]! << 16) | (bytes[p + 7]! << 24)) >>> 0;
      if (length < 32 || (length & 3) !== 0 || length > maxBlockBytes || length > end - p) break;
      const t = p + length - 4;
      if ((bytes[t]! | (bytes[t + 1]! << 8) | (bytes[t + 2]! << 16) | (bytes[t + 3]! << 24)) >>> 0 !== length)
        break;
      const interfaceId =
        (bytes[p + 8]! | (bytes[p + 9]! << 8) | (bytes[p + 10]! << 16) | (bytes[p + 11]! << 24)) >>> 0;
      const state = interfaces[interfaceId];
      if (state === undefined) break;
      const capturedLength =
        (bytes[p + 20]! | (bytes[p + 21]! << 8) | (bytes[p + 22]! << 16) | (bytes[p + 23]! << 24)) >>> 0;
      if (capturedLength > length - 32 || capturedLength > state.maxCapturedLength) break;
      const high =
        (bytes[p + 12]! | (bytes[p + 13]! << 8) | (bytes[p + 14]! << 16) | (bytes[p + 15]! << 24)) >>> 0;
      const low =
        (bytes[p + 16]! | (bytes[p + 17]! << 8) | (bytes[p + 18]! << 16) | (bytes[p + 19]! << 24)) >>> 0;
      if (state.mode === TimestampMode.PowerOfTen && high <= FAST_TIMESTAMP_HIGH_LIMIT) {
        const ticks = state.ticksPerSecond;
        const timestamp = high * 4294967296 + low;
        let seconds = Math.floor(timestamp / ticks);
        let remainder = timestamp - seconds * ticks;
        if (remainder < 0) {
          seconds -= 1;
          remainder += ticks;
        } else if (remainder >= ticks) {
          seconds += 1;
          remainder -= ticks;
        }
        frame.tsSec = seconds + state.offsetSec;
        frame.tsNanos = remainder * state.nanosPerTick;
      } else {
        this.setTimestamp(state, high, low);
      }
      frame.index = ++packets;
      frame.linkType = state.linkType;
      frame.interfaceId = interfaceId;
      frame.capturedLength = capturedLength;
      frame.originalLength =
        (bytes[p + 24]! | (bytes[p + 25]! << 8) | (bytes[p + 26]! << 16) | (bytes[p + 27]! << 24)) >>> 0;
      frame.offset = p + 28;
      frame.fileOffset = base + p;
      context.packets = packets;
      onFrame(frame);
      position = p + length;
    }
    return position;
  }

  finish(leftover: number, fileOffset: number): PcapFormatError | undefined {
    if (leftover === 0) return undefined;
    if (leftover < MIN_BLOCK_BYTES || this.pendingBlockType === -1) {
      return new PcapFormatError(
        `truncated block header: ${leftover} of at least ${MIN_BLOCK_BYTES} bytes`,
        fileOffset,
        'block header',
      );
    }
    return new PcapFormatError(
      `truncated block: ${leftover} of ${this.bytesNeeded} bytes`,
      fileOffset,
      pcapngBlockName(this.pendingBlockType),
    );
  }

  /** Every block but the EPB; `fileOffset` is the block's absolute offset. */
  private readOtherBlock(
    type: number,
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    switch (type) {
      case PCAPNG_SHB_TYPE:
        this.readSectionHeader(bytes, position, length, fileOffset, littleEndian);
        return;
      case BLOCK_IDB:
        this.readInterfaceDescription(bytes, position, length, fileOffset, littleEndian);
        return;
      case BLOCK_PB:
        this.readObsoletePacket(bytes, position, length, fileOffset, littleEndian);
        return;
      case BLOCK_SPB:
        this.readSimplePacket(bytes, position, length, fileOffset, littleEndian);
        return;
      case BLOCK_NRB:
        this.readNameResolution(bytes, position, length, fileOffset, littleEndian);
        return;
      default:
        // ISB, DSB, custom blocks, and block types this reader does not know: skipped by length
        // (§3.1 lets a reader skip any block it does not understand).
        return;
    }
  }

  /** §4.1: byte-order magic, major, minor, section length (ignored: -1 is allowed), options. */
  private readSectionHeader(
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    if (length < 28) throw this.blockError('SHB shorter than 28 bytes', fileOffset, PCAPNG_SHB_TYPE);
    const cursor = new BinaryCursor(
      bytes,
      position,
      position + length - 4,
      position + length,
      fileOffset,
      littleEndian,
      'SHB',
    );
    cursor.skip(12);
    const major = cursor.u16();
    const minor = cursor.u16();
    // libpcap reads 1.0 and 1.2 (1.2 only ever differed in ISB options); others we read with a warning.
    if (!(major === 1 && (minor === 0 || minor === 2))) {
      this.context.warn(`pcapng section version ${major}.${minor} is not 1.0; read with the 1.0 layout`);
    }
    this.littleEndian = littleEndian;
    this.interfaces = [];
    this.sections += 1;
    this.sectionByteOrders.push(littleEndian ? 'le' : 'be');
  }

  /** §4.2: link type (16 bits), reserved, snaplen, options. */
  private readInterfaceDescription(
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    if (length < 20) throw this.blockError('IDB shorter than 20 bytes', fileOffset, BLOCK_IDB);
    const limits = this.context.limits;
    if (this.interfaces.length >= limits.maxInterfaces) {
      throw this.blockError(
        `more than maxInterfaces=${limits.maxInterfaces} interfaces in one section`,
        fileOffset,
        BLOCK_IDB,
      );
    }
    const cursor = new BinaryCursor(
      bytes,
      position,
      position + length - 4,
      position + length,
      fileOffset,
      littleEndian,
      'IDB',
    );
    cursor.skip(8);
    const linkType = cursor.u16();
    cursor.skip(2); // reserved
    const snapLength = cursor.u32();
    let tsresol = 6;
    let offsetSecBig = 0n;
    let name = '';
    let description = '';
    let fcsLength = -1;
    forEachOption(cursor, (code, value) => {
      switch (code) {
        case 2: // if_name
          name = decodeText(value);
          break;
        case 3: // if_description
          description = decodeText(value);
          break;
        case 9: // if_tsresol: one byte
          if (value.length >= 1) tsresol = value[0]!;
          else this.context.warn('IDB if_tsresol option has no value; using microseconds');
          break;
        case 13: // if_fcslen: one byte, FCS length in bytes
          if (value.length >= 1) fcsLength = value[0]!;
          break;
        case 14: // if_tsoffset: signed 64-bit seconds
          if (value.length === 8) {
            const valueCursor = new BinaryCursor(value, 0, 8, 8, 0, littleEndian, 'if_tsoffset');
            offsetSecBig = valueCursor.i64();
          } else {
            this.context.warn(`IDB if_tsoffset option has ${value.length} bytes instead of 8; ignored`);
          }
          break;
      }
    });

    const state = interfaceState(linkType, snapLength, tsresol, offsetSecBig, limits);
    this.interfaces.push(state);
    const info: CaptureInterface = {
      section: this.sections - 1,
      interfaceId: this.interfaces.length - 1,
      linkType,
      linkTypeField: linkType,
      snapLength,
      tsResolution: (tsresol & 0x80) !== 0 ? `2^-${tsresol & 0x7f}` : `1e-${tsresol}`,
      tsOffsetSec: state.offsetSec,
      name,
      description,
      fcsLength,
    };
    this.context.addInterface(info);
  }

  /** Appendix A (obsolete Packet Block): 16-bit interface id, drops count, then as the EPB. */
  private readObsoletePacket(
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    if (length < 32) throw this.blockError('PB shorter than 32 bytes', fileOffset, BLOCK_PB);
    const interfaceId = littleEndian
      ? bytes[position + 8]! | (bytes[position + 9]! << 8)
      : (bytes[position + 8]! << 8) | bytes[position + 9]!;
    const state = this.interfaces[interfaceId];
    if (state === undefined) throw this.missingInterface(interfaceId, fileOffset, BLOCK_PB);
    const capturedLength = readU32(bytes, position + 20, littleEndian);
    if (capturedLength > length - 32) {
      throw this.blockError(
        `captured length ${capturedLength} exceeds the block's packet data room of ${length - 32} bytes`,
        fileOffset,
        BLOCK_PB,
      );
    }
    if (capturedLength > state.maxCapturedLength) {
      throw this.blockError(`implausible captured length ${capturedLength}`, fileOffset, BLOCK_PB);
    }
    this.setTimestamp(
      state,
      readU32(bytes, position + 12, littleEndian),
      readU32(bytes, position + 16, littleEndian),
    );
    this.deliver(
      bytes,
      interfaceId,
      state.linkType,
      capturedLength,
      readU32(bytes, position + 24, littleEndian),
      position + 28,
      fileOffset,
    );
  }

  /**
   * §4.4 Simple Packet Block: original length then data; it belongs to interface 0 and has no timestamp
   * (the frame gets 0 s). Captured length = min(original length, interface 0's snaplen when set, room).
   */
  private readSimplePacket(
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    if (length < 16) throw this.blockError('SPB shorter than 16 bytes', fileOffset, BLOCK_SPB);
    const state = this.interfaces[0];
    if (state === undefined) throw this.missingInterface(0, fileOffset, BLOCK_SPB);
    const originalLength = readU32(bytes, position + 8, littleEndian);
    let capturedLength = Math.min(originalLength, length - 16);
    if (state.snapLength > 0 && capturedLength > state.snapLength) capturedLength = state.snapLength;
    if (capturedLength > state.maxCapturedLength) {
      throw this.blockError(`implausible captured length ${capturedLength}`, fileOffset, BLOCK_SPB);
    }
    this.context.frame.tsSec = 0;
    this.context.frame.tsNanos = 0;
    this.deliver(bytes, 0, state.linkType, capturedLength, originalLength, position + 12, fileOffset);
  }

  private deliver(
    bytes: Uint8Array,
    interfaceId: number,
    linkType: number,
    capturedLength: number,
    originalLength: number,
    offset: number,
    fileOffset: number,
  ): void {
    const frame = this.context.frame;
    frame.index = ++this.context.packets;
    frame.linkType = linkType;
    frame.interfaceId = interfaceId;
    frame.capturedLength = capturedLength;
    frame.originalLength = originalLength;
    frame.bytes = bytes;
    frame.offset = offset;
    frame.fileOffset = fileOffset;
    this.context.onFrame(frame);
  }

  /**
   * §4.5 Name Resolution Block: records (type, value length, value padded to 32 bits) up to nrb_record_end.
   * A malformed record ends this block's records with a warning: names are metadata, not packets, and
   * the block's framing (already checked) still lets the next block be read.
   */
  private readNameResolution(
    bytes: Uint8Array,
    position: number,
    length: number,
    fileOffset: number,
    littleEndian: boolean,
  ): void {
    const cursor = new BinaryCursor(
      bytes,
      position,
      position + length - 4,
      position + length,
      fileOffset,
      littleEndian,
      'NRB',
    );
    cursor.skip(8);
    while (cursor.remaining >= 4) {
      const recordType = cursor.u16();
      const valueLength = cursor.u16();
      if (recordType === 0) return; // nrb_record_end
      if (valueLength > cursor.remaining) {
        this.context.warn(`NRB at byte offset ${fileOffset}: a record runs past the block; rest ignored`);
        return;
      }
      const valueStart = cursor.position;
      cursor.skip(valueLength);
      cursor.skip(Math.min((4 - (valueLength % 4)) % 4, cursor.remaining));
      if (recordType === 1 && valueLength >= 4) {
        // nrb_record_ipv4: 4-byte address, then one or more zero-terminated names.
        const address =
          ((bytes[valueStart]! << 24) |
            (bytes[valueStart + 1]! << 16) |
            (bytes[valueStart + 2]! << 8) |
            bytes[valueStart + 3]!) >>>
          0;
        this.context.addNameResolution({
          type: 'ipv4',
          address: formatIpv4(address),
          names: splitNames(bytes, valueStart + 4, valueStart + valueLength),
        });
      } else if (recordType === 2 && valueLength >= 16) {
        // nrb_record_ipv6: 16-byte address, then names.
        this.context.addNameResolution({
          type: 'ipv6',
          address: formatIpv6(bytes, valueStart),
          names: splitNames(bytes, valueStart + 16, valueStart + valueLength),
        });
      }
    }
  }

  /** Sets the frame's (tsSec, tsNanos) from a 64-bit timestamp in the interface's units, rounding down. */
  private setTimestamp(state: InterfaceState, high: number, low: number): void {
    const frame = this.context.frame;
    if (high <= FAST_TIMESTAMP_HIGH_LIMIT && state.mode !== TimestampMode.BigInt) {
      const ticks = state.ticksPerSecond;
      const timestamp = high * 4294967296 + low;
      let seconds = Math.floor(timestamp / ticks);
      let remainder = timestamp - seconds * ticks;
      // The quotient is correctly rounded, so floor() can be one off near an integer: fix it exactly.
      if (remainder < 0) {
        seconds -= 1;
        remainder += ticks;
      } else if (remainder >= ticks) {
        seconds += 1;
        remainder -= ticks;
      }
      if (state.mode === TimestampMode.PowerOfTen) {
        frame.tsSec = seconds + state.offsetSec;
        frame.tsNanos = remainder * state.nanosPerTick;
        return;
      }
      if (remainder <= FAST_REMAINDER_LIMIT) {
        frame.tsSec = seconds + state.offsetSec;
        frame.tsNanos = Math.floor((remainder * 1_000_000_000) / ticks);
        return;
      }
    }
    const timestamp = (BigInt(high) << 32n) | BigInt(low);
    const ticks = state.ticksPerSecondBig;
    frame.tsSec = Number(timestamp / ticks + state.offsetSecBig);
    frame.tsNanos = Number(((timestamp % ticks) * 1_000_000_000n) / ticks);
  }

  private blockError(message: string, fileOffset: number, type: number): PcapFormatError {
    return new PcapFormatError(message, fileOffset, pcapngBlockName(type));
  }

  private missingInterface(interfaceId: number, fileOffset: number, type: number): PcapFormatError {
    return this.blockError(
      `packet refers to interface ${interfaceId}, but section ${this.sections} has ${this.interfaces.length} interface description block(s)`,
      fileOffset,
      type,
    );
  }
}

/** Precomputes an interface's timestamp conversion (§4.2 if_tsresol, if_tsoffset) and limits. */
function interfaceState(
  linkType: number,
  snapLength: number,
  tsresol: number,
  offsetSecBig: bigint,
  limits: ReaderContext['limits'],
): InterfaceState {
  const exponent = tsresol & 0x7f;
  const powerOfTwo = (tsresol & 0x80) !== 0;
  const ticksPerSecondBig = powerOfTwo ? 1n << BigInt(exponent) : 10n ** BigInt(exponent);
  let mode: TimestampMode = TimestampMode.BigInt;
  if (!powerOfTwo && exponent <= 9) mode = TimestampMode.PowerOfTen;
  else if (powerOfTwo && exponent <= 52) mode = TimestampMode.PowerOfTwo;
  const ticksPerSecond = Number(ticksPerSecondBig);
  return {
    linkType,
    snapLength,
    maxCapturedLength: maxCapturedLengthFor(linkType, limits.maxSnapLength, limits.maxBlockBytes),
    mode,
    ticksPerSecond,
    ticksPerSecondBig,
    nanosPerTick: mode === TimestampMode.PowerOfTen ? 10 ** (9 - exponent) : 0,
    offsetSec: Number(offsetSecBig),
    offsetSecBig,
  };
}

/**
 * §3.5 options: code, length, value padded to 32 bits, until opt_endofopt or the end of the block.
 * An option longer than what is left of the block is damage (libpcap rejects such files too).
 */
function forEachOption(cursor: BinaryCursor, visit: (code: number, value: Uint8Array) => void): void {
  while (cursor.remaining >= 4) {
    const code = cursor.u16();
    const length = cursor.u16();
    if (code === 0) return; // opt_endofopt
    if (length > cursor.remaining) {
      throw cursor.malformed(
        `option ${code} has length ${length} but only ${cursor.remaining} bytes are left`,
      );
    }
    const value = cursor.view(length);
    cursor.skip(Math.min((4 - (length % 4)) % 4, cursor.remaining));
    visit(code, value);
  }
}

function decodeText(value: Uint8Array): string {
  let end = value.indexOf(0);
  if (end < 0) end = value.length;
  const text = textDecoder.decode(value.subarray(0, end));
  return text.length > MAX_NAME_CHARS ? text.slice(0, MAX_NAME_CHARS) : text;
}

/** Zero-terminated UTF-8 names in bytes[start, end); a last name without terminator is kept too. */
function splitNames(bytes: Uint8Array, start: number, end: number): string[] {
  const names: string[] = [];
  let nameStart = start;
  for (let i = start; i <= end; i++) {
    if (i === end || bytes[i] === 0) {
      if (i > nameStart) names.push(decodeText(bytes.subarray(nameStart, i)));
      nameStart = i + 1;
      if (names.length >= 16) break;
    }
  }
  return names;
}
