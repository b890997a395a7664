/**
 * The one cursor the container readers use for structured (non hot-path) fields: file headers, pcapng
 * block bodies, options, name-resolution records.
 *
 * - Explicit endianness: every multi-byte read uses the cursor's `littleEndian` (a capture's byte order is
 *   a property of the file or the pcapng section, never of the machine).
 * - Bounds are checked before every read, against two ends:
 *   `limit` — where the structure being read ends (block end, option end). Reading past it means the
 *             file is malformed → `PcapFormatError` with the absolute byte offset and the block type.
 *   `available` — where the bytes we hold end (a stream chunk may stop mid-structure). Reading past it
 *             (but within `limit`) means "need more data" → `NeedMoreDataError`, which a streaming reader
 *             answers by waiting for the next chunk; it is never reported as damage.
 * - Values come out as numbers (u64 as bigint or, when exact, as number) and payloads as zero-copy views.
 *
 * Pure module: no I/O, no allocation per read except the bigint of `u64()`.
 */
import { PcapFormatError } from '../platform/errors.js';

/**
 * Signals that the bytes held stop before the structure does: not damage, just "feed me more".
 * `needed` is the number of bytes, counted from the cursor's `start`, that would let the read succeed.
 */
export class NeedMoreDataError extends Error {
  constructor(readonly needed: number) {
    super(`need ${needed} bytes`);
    this.name = 'NeedMoreDataError';
  }
}

export class BinaryCursor {
  /** Current read index in `bytes`. */
  position: number;

  /**
   * @param bytes buffer holding the data
   * @param start index in `bytes` of the structure's first byte
   * @param limit index one past the structure's last byte (may exceed `available` while streaming)
   * @param available index one past the last byte actually held
   * @param fileOffset absolute offset (in the decompressed capture) of `bytes[start]`, for error messages
   * @param littleEndian byte order of multi-byte fields
   * @param blockType name of the structure, for error messages ("SHB", "IDB", "file header", ...)
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly start: number,
    readonly limit: number,
    readonly available: number,
    readonly fileOffset: number,
    readonly littleEndian: boolean,
    readonly blockType: string,
  ) {
    this.position = start;
  }

  /** Bytes left before the structure's end (not counting what is not yet held). */
  get remaining(): number {
    return this.limit - this.position;
  }

  /** Absolute file offset of the current position. */
  get absolutePosition(): number {
    return this.fileOffset + (this.position - this.start);
  }

  /**
   * Checks that `count` bytes can be read at the current position: throws `PcapFormatError` when the
   * structure is too short (malformed), `NeedMoreDataError` when only the held data is.
   */
  ensure(count: number, what = 'field'): void {
    const end = this.position + count;
    if (count < 0 || end > this.limit) {
      throw new PcapFormatError(
        `${this.blockType} too short: ${what} needs ${count} bytes, ${Math.max(0, this.limit - this.position)} left`,
        this.absolutePosition,
        this.blockType,
      );
    }
    if (end > this.available) throw new NeedMoreDataError(end - this.start);
  }

  /** Builds a malformed-input error at the current position (or at `relative` bytes from `start`). */
  malformed(message: string, relative?: number): PcapFormatError {
    const at = relative === undefined ? this.absolutePosition : this.fileOffset + relative;
    return new PcapFormatError(message, at, this.blockType);
  }

  u8(): number {
    this.ensure(1);
    const value = this.bytes[this.position]!;
    this.position += 1;
    return value;
  }

  u16(): number {
    this.ensure(2);
    const b = this.bytes;
    const p = this.position;
    this.position = p + 2;
    return this.littleEndian ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!;
  }

  u32(): number {
    this.ensure(4);
    const value = readU32(this.bytes, this.position, this.littleEndian);
    this.position += 4;
    return value;
  }

  i32(): number {
    return this.u32() | 0;
  }

  /** Unsigned 64-bit value as a bigint (off the hot path only). */
  u64(): bigint {
    this.ensure(8);
    const first = readU32(this.bytes, this.position, this.littleEndian);
    const second = readU32(this.bytes, this.position + 4, this.littleEndian);
    this.position += 8;
    const high = this.littleEndian ? second : first;
    const low = this.littleEndian ? first : second;
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** Signed 64-bit value as a bigint. */
  i64(): bigint {
    return BigInt.asIntN(64, this.u64());
  }

  /** Zero-copy view of the next `count` bytes. */
  view(count: number): Uint8Array {
    this.ensure(count, 'data');
    const view = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return view;
  }

  skip(count: number): void {
    this.ensure(count, 'data');
    this.position += count;
  }

  /** A cursor over the next `count` bytes (same byte order), advancing this one past them. */
  sub(count: number, blockType = this.blockType): BinaryCursor {
    this.ensure(count, blockType);
    const child = new BinaryCursor(
      this.bytes,
      this.position,
      this.position + count,
      this.available,
      this.absolutePosition,
      this.littleEndian,
      blockType,
    );
    this.position += count;
    return child;
  }
}

/** Unsigned 32-bit read with explicit byte order; callers have checked bounds. */
export function readU32(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian
    ? (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
    : ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** Unsigned 32-bit little-endian read; callers have checked bounds. */
export function readU32LE(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}
