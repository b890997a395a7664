/**
 * Classic pcap (pcap-savefile(5); draft-ietf-opsawg-pcap §4 file header, §5 packet record) as a push
 * parser: `parse()` is handed whatever bytes are held and consumes every complete record, delivering each
 * as the reader's one reused `RawFrame` (no allocation per packet: the frame points into the caller's
 * buffer).
 *
 * What libpcap accepts (sf-pcap.c, pcap_check_header / pcap_next_packet) is the reference:
 * - magics a1b2c3d4 (µs), a1b23c4d (ns), a1b2cd34 (Kuznetzov "modified" pcap, µs, 24-byte record headers),
 *   each in either byte order;
 * - versions 2.0–2.4 and 543.0 (DG/UX); caplen and len are swapped in files older than 2.3 and in 543.0,
 *   and "maybe swapped" (swap when caplen > len) in 2.3. Other versions libpcap rejects; we read them with
 *   the 2.4 layout and a warning, as Wireshark does, since the record format never changed after 2.3;
 * - link-type field: low 16 bits are the LINKTYPE (LT_LINKTYPE), bits 16–25 reserved (LT_RESERVED1),
 *   bit 26 "FCS length present" with the FCS length in 32-bit words in bits 28–31 (LT_FCS_LENGTH);
 * - snaplen 0 or above the link type's maximum means "the maximum" (pcap_adjust_snapshot); for the
 *   modified magic on Ethernet the snapshot grows by 14 (a cooked capture adds a fake Ethernet header);
 * - a record whose caplen exceeds the link type's maximum is damage; one whose caplen exceeds the
 *   snapshot (but not the maximum) is cut to the snapshot length and the rest skipped.
 */
import { NotACaptureError, PcapFormatError } from '../platform/errors.js';
import { BinaryCursor } from './binary-cursor.js';
import type { CaptureInterface, ContainerParser, ReaderContext } from './capture-reader.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

const FILE_HEADER_BYTES = 24;
const LINKTYPE_ETHERNET = 1;

/** How the caplen/len fields are ordered in the records (sf-pcap.c `lengths_swapped`). */
const LengthOrder = {
  Normal: 0,
  /** 2.3 files: some writers swapped, some did not; swap only when caplen > len. */
  MaybeSwapped: 1,
  /** Pre-2.3 and DG/UX 543.0: always swapped. */
  Swapped: 2,
} as const;
type LengthOrder = (typeof LengthOrder)[keyof typeof LengthOrder];

/** libpcap's max_snaplen_for_dlt: link types whose frames may legitimately exceed 262144 bytes. */
const LARGE_SNAPLEN_LINKTYPES: ReadonlyMap<number, number> = new Map([
  [231, 128 * 1024 * 1024], // LINKTYPE_DBUS: a D-Bus message can be up to 128 MiB
  [249, 1024 * 1024], // LINKTYPE_USBPCAP
  [279, 8 * 1024 * 1024], // LINKTYPE_EBHSCR
]);

/**
 * The largest captured length accepted for a link type: `maxSnapLength` (default libpcap's 262144), or
 * libpcap's larger per-type maximum — never more than the block limit.
 */
export function maxCapturedLengthFor(linkType: number, maxSnapLength: number, maxBlockBytes: number): number {
  const special = LARGE_SNAPLEN_LINKTYPES.get(linkType);
  const limit = special === undefined ? maxSnapLength : Math.max(maxSnapLength, special);
  return Math.min(limit, maxBlockBytes);
}

export interface PcapHeaderInfo {
  littleEndian: boolean;
  variant: 'microseconds' | 'nanoseconds' | 'modified';
  versionMajor: number;
  versionMinor: number;
  snapLength: number;
  linkTypeField: number;
}

/** Reads the magic at `at` (4 bytes must be present); undefined when it is not a pcap magic. */
export function pcapMagicByteOrder(bytes: Uint8Array, at: number): boolean | undefined {
  const little = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  if (isPcapMagic(little)) return true;
  const big = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  if (isPcapMagic(big)) return false;
  return undefined;
}

function isPcapMagic(value: number): boolean {
  return (
    value === PCAP_MAGIC_MICROSECONDS || value === PCAP_MAGIC_NANOSECONDS || value === PCAP_MAGIC_MODIFIED
  );
}

export class PcapParser implements ContainerParser {
  readonly format = 'pcap' as const;
  bytesNeeded = FILE_HEADER_BYTES;
  header: PcapHeaderInfo | undefined;

  private littleEndian = true;
  private recordHeaderBytes = 16;
  /** Multiplier from the file's fraction unit to nanoseconds (1000 for µs, 1 for ns). */
  private nanosPerTick = 1000;
  /** Ticks per second of the fraction field (1e6 or 1e9). */
  private ticksPerSecond = 1_000_000;
  private lengthOrder: LengthOrder = LengthOrder.Normal;
  /** Effective snapshot length (pcap_adjust_snapshot). */
  private snapshot = 0;
  /** Largest caplen accepted before the file is called damaged. */
  private maxCapturedLength = 0;
  private linkType = 0;
  private warnedOverSnapshot = false;
  private warnedFractionOverflow = false;

  constructor(private readonly context: ReaderContext) {}

  parse(bytes: Uint8Array, start: number, end: number, fileOffset: number): number {
    let position = start;
    if (this.header === undefined) {
      if (end - start < FILE_HEADER_BYTES) {
        this.bytesNeeded = FILE_HEADER_BYTES;
        return start;
      }
      this.readFileHeader(bytes, start, fileOffset);
      position += FILE_HEADER_BYTES;
    }
    return this.readRecords(bytes, position, end, fileOffset - start);
  }

  finish(leftover: number, fileOffset: number): PcapFormatError | undefined {
    if (leftover === 0) return undefined;
    if (this.header === undefined) {
      return new PcapFormatError(
        `truncated pcap file header: ${leftover} of ${FILE_HEADER_BYTES} bytes`,
        fileOffset,
        'file header',
      );
    }
    if (leftover < this.recordHeaderBytes) {
      return new PcapFormatError(
        `truncated record header: ${leftover} of ${this.recordHeaderBytes} bytes`,
        fileOffset,
        'record header',
      );
    }
    return new PcapFormatError(
      `truncated packet data: record needs ${this.bytesNeeded} bytes, only ${leftover} present`,
      fileOffset,
      'packet record',
    );
  }

  /** §4 File Header: magic, version, (thiszone, sigfigs: unused), snaplen, link-type field. */
  private readFileHeader(bytes: Uint8Array, start: number, fileOffset: number): void {
    const littleEndian = pcapMagicByteOrder(bytes, start);
    if (littleEndian === undefined) throw new NotACaptureError('not a pcap file: unknown magic number');
    const cursor = new BinaryCursor(
      bytes,
      start,
      start + FILE_HEADER_BYTES,
      start + FILE_HEADER_BYTES,
      fileOffset,
      littleEndian,
      'file header',
    );
    const magic = cursor.u32();
    const versionMajor = cursor.u16();
    const versionMinor = cursor.u16();
    cursor.skip(8); // thiszone, sigfigs: "always 0", ignored by libpcap
    const snapLength = cursor.u32();
    const linkTypeField = cursor.u32();

    const variant =
      magic === PCAP_MAGIC_NANOSECONDS
        ? 'nanoseconds'
        : magic === PCAP_MAGIC_MODIFIED
          ? 'modified'
          : 'microseconds';
    this.header = { littleEndian, variant, versionMajor, versionMinor, snapLength, linkTypeField };
    this.littleEndian = littleEndian;
    if (variant === 'nanoseconds') {
      this.nanosPerTick = 1;
      this.ticksPerSecond = 1_000_000_000;
    }

    if (versionMajor === 2 && versionMinor < 3) this.lengthOrder = LengthOrder.Swapped;
    else if (versionMajor === 2 && versionMinor === 3) this.lengthOrder = LengthOrder.MaybeSwapped;
    else if (versionMajor === 543 && versionMinor === 0) this.lengthOrder = LengthOrder.Swapped;
    else if (versionMajor !== 2) {
      this.context.warn(
        `pcap version ${versionMajor}.${versionMinor} is not one libpcap reads; read with the version 2.4 layout`,
      );
    } else if (versionMinor > 4) {
      this.context.warn(`pcap version 2.${versionMinor} is newer than 2.4; read with the version 2.4 layout`);
    }

    // LT_LINKTYPE / LT_RESERVED1 / LT_FCS_LENGTH_PRESENT / LT_FCS_LENGTH (pcap/pcap.h).
    this.linkType = linkTypeField & 0xffff;
    if ((linkTypeField & 0x03ff0000) !== 0) {
      this.context.warn(
        `pcap link-type field 0x${linkTypeField.toString(16).padStart(8, '0')} has reserved bits set; using link type ${this.linkType}`,
      );
    }
    const fcsLength = (linkTypeField & 0x04000000) !== 0 ? ((linkTypeField >>> 28) & 0xf) * 2 : -1;

    const limits = this.context.limits;
    this.maxCapturedLength = maxCapturedLengthFor(this.linkType, limits.maxSnapLength, limits.maxBlockBytes);
    // pcap_adjust_snapshot: 0 or an implausibly large snaplen means "the largest for this link type".
    let snapshot =
      snapLength === 0 || snapLength > this.maxCapturedLength ? this.maxCapturedLength : snapLength;
    if (variant === 'modified') {
      this.recordHeaderBytes = 24;
      if (this.linkType === LINKTYPE_ETHERNET) snapshot += 14;
    }
    this.snapshot = snapshot;

    const info: CaptureInterface = {
      section: 0,
      interfaceId: 0,
      linkType: this.linkType,
      linkTypeField,
      snapLength,
      tsResolution: variant === 'nanoseconds' ? '1e-9' : '1e-6',
      tsOffsetSec: 0,
      name: '',
      description: '',
      fcsLength,
    };
    this.context.addInterface(info);
    this.context.frame.linkType = this.linkType;
    this.context.frame.interfaceId = 0;
  }

  /**
   * §5 Packet Record: ts_sec, ts_frac, caplen, len (+ ifindex, protocol, pkt_type, pad for the modified
   * format). The hot loop: manual byte arithmetic, no allocation, one reused frame.
   */
  private readRecords(bytes: Uint8Array, position: number, end: number, base: number): number {
    const context = this.context;
    const frame = context.frame;
    const onFrame = context.onFrame;
    const littleEndian = this.littleEndian;
    const headerBytes = this.recordHeaderBytes;
    const maxCaptured = this.maxCapturedLength;
    const snapshot = this.snapshot;
    const nanosPerTick = this.nanosPerTick;
    const ticksPerSecond = this.ticksPerSecond;
    const lengthOrder = this.lengthOrder;
    let index = context.packets;
    frame.bytes = bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

    while (true) {
      if (end - position < headerBytes) {
        this.bytesNeeded = headerBytes;
        break;
      }
      const p = position;
      // One unaligned 32-bit load per field (DataView reads compile to a single load) instead of four byte
      // loads and shifts: the record header is read for every packet.
      let seconds = view.getUint32(p, littleEndian);
      let fraction = view.getUint32(p + 4, littleEndian);
      let capturedLength = view.getUint32(p + 8, littleEndian);
      let originalLength = view.getUint32(p + 12, littleEndian);
      if (lengthOrder !== LengthOrder.Normal) {
        if (lengthOrder === LengthOrder.Swapped || capturedLength > originalLength) {
          const swap = capturedLength;
          capturedLength = originalLength;
          originalLength = swap;
        }
      }
      if (capturedLength > maxCaptured) {
        context.packets = index;
        throw new PcapFormatError(
          `implausible captured length ${capturedLength} (limit ${maxCaptured} for link type ${this.linkType})`,
          base + p,
          'record header',
        );
      }
      const recordBytes = headerBytes + capturedLength;
      if (end - position < recordBytes) {
        this.bytesNeeded = recordBytes;
        break;
      }
      if (fraction >= ticksPerSecond) {
        // Not valid per §5, but seen in the wild: carry whole seconds so tsNanos stays below 1e9.
        seconds += Math.floor(fraction / ticksPerSecond);
        fraction %= ticksPerSecond;
        this.warnFractionOverflow();
      }
      let delivered = capturedLength;
      if (capturedLength > snapshot) {
        delivered = snapshot;
        this.warnOverSnapshot(capturedLength);
      }
      frame.index = ++index;
      frame.tsSec = seconds;
      frame.tsNanos = fraction * nanosPerTick;
      frame.capturedLength = delivered;
      frame.originalLength = originalLength;
      frame.offset = p + headerBytes;
      frame.fileOffset = base + p;
      onFrame(frame);
      position = p + recordBytes;
    }
    context.packets = index;
    return position;
  }

  private warnOverSnapshot(capturedLength: number): void {
    if (this.warnedOverSnapshot) return;
    this.warnedOverSnapshot = true;
    this.context.warn(
      `a record's captured length ${capturedLength} exceeds the snapshot length ${this.snapshot}; cut to the snapshot length as libpcap does`,
    );
  }

  private warnFractionOverflow(): void {
    if (this.warnedFractionOverflow) return;
    this.warnedFractionOverflow = true;
    this.context.warn(
      'a record has a sub-second timestamp field of one second or more; carried into seconds',
    );
  }
}
