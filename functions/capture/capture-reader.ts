/**
 * The capture reader: any pcap or pcapng file (optionally gzip-compressed), from a whole buffer or a
 * stream of chunks, delivered frame by frame through one reused `RawFrame`.
 *
 * - Sniffs the magic: gzip (1f 8b, decompressed with node:zlib as a stream, several members allowed),
 *   classic pcap (any byte order, µs/ns/modified), pcapng (SHB). Anything else, or nothing, is
 *   `NotACaptureError`.
 * - Streaming push parsing: each chunk is parsed in place; only the incomplete record or block at its end
 *   is carried to the next chunk (copied into one reusable "tail" buffer, at most `maxBlockBytes`), so
 *   memory does not grow with the file. A whole buffer is parsed in place with no copy at all.
 * - Damage part-way (truncation, impossible lengths, a packet for an interface that was never described)
 *   stops reading after every earlier frame was delivered; the summary's `damage` is a `PcapFormatError`
 *   with the byte offset (in the decompressed stream) and block type.
 * - Limits (`maxBlockBytes`, `maxSnapLength`, ...) bound every allocation a hostile file can cause.
 */
import { readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { NotACaptureError, NotFoundError, PcapFormatError } from '../platform/errors.js';
import { NeedMoreDataError } from './binary-cursor.js';
import { newRawFrame, type RawFrame } from './frame.js';
import { PcapParser, pcapMagicByteOrder } from './pcap-reader.js';
import { PCAPNG_SHB_TYPE, PcapngParser } from './pcapng-reader.js';

export interface CaptureReaderOptions {
  /**
   * Largest pcapng block or pcap record (header + data) accepted, in bytes; larger is damage. This bounds
   * the buffer kept between chunks. Default 16 MiB (libpcap's largest pcapng block size).
   */
  maxBlockBytes?: number;
  /**
   * Largest captured length of one packet; larger is damage. Default 262144 (libpcap's MAXIMUM_SNAPLEN);
   * D-Bus, USBPcap and EBHSCR keep libpcap's larger per-type maxima, capped by `maxBlockBytes`.
   */
  maxSnapLength?: number;
  /** Most interfaces (IDBs) per pcapng section; more is damage. Default 65536. */
  maxInterfaces?: number;
  /** Most NRB name entries kept in the summary (later ones are counted in a warning). Default 100000. */
  maxNameResolutionEntries?: number;
  /** File or object name for messages. */
  sourceName?: string;
}

export interface ReaderLimits {
  readonly maxBlockBytes: number;
  readonly maxSnapLength: number;
  readonly maxInterfaces: number;
  readonly maxNameResolutionEntries: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxBlockBytes: 16 * 1024 * 1024,
  maxSnapLength: 262_144,
  maxInterfaces: 65_536,
  maxNameResolutionEntries: 100_000,
};

/** One capture interface: the pcap file header, or one pcapng IDB. */
export interface CaptureInterface {
  /** pcapng section index (0-based); 0 for pcap. */
  section: number;
  /** Interface id within the section; 0 for pcap. */
  interfaceId: number;
  /** LINKTYPE_* value (upper bits of the pcap field masked off). */
  linkType: number;
  /** The raw link-type field (pcap: 32 bits incl. FCS/reserved bits; pcapng: the IDB's 16 bits). */
  linkTypeField: number;
  /** Snapshot length as written (0 = unlimited). */
  snapLength: number;
  /** Timestamp unit: '1e-6', '1e-9', '2^-20', ... */
  tsResolution: string;
  /** pcapng if_tsoffset in seconds (added to every timestamp); 0 when absent. */
  tsOffsetSec: number;
  /** if_name ('' when absent). */
  name: string;
  /** if_description ('' when absent). */
  description: string;
  /** FCS length in bytes at the end of each frame (pcap FCS bits, pcapng if_fcslen); -1 when unknown. */
  fcsLength: number;
}

/** One NRB name entry (pcapng §4.5). */
export interface NameResolutionEntry {
  type: 'ipv4' | 'ipv6';
  address: string;
  names: string[];
}

export interface CaptureSummary {
  sourceName: string;
  format: 'pcap' | 'pcapng';
  gzip: boolean;
  /** Frames delivered. */
  packets: number;
  /** Bytes of the (decompressed) capture stream read. */
  bytesRead: number;
  /** Byte order of the file ('mixed' for pcapng sections of both orders). */
  byteOrder: 'le' | 'be' | 'mixed';
  /** pcap: 'microseconds' | 'nanoseconds' | 'modified'; pcapng: 'pcapng'. */
  variant: string;
  /** pcap: "2.4"; pcapng: number of sections as "sections=N". */
  version: string;
  interfaces: CaptureInterface[];
  nameResolution: NameResolutionEntry[];
  warnings: string[];
  /** Set when the file is damaged part-way: every frame before it was delivered. */
  damage: PcapFormatError | undefined;
}

/** What the container parsers need from the reader (one per read). */
export interface ReaderContext {
  readonly frame: RawFrame;
  readonly onFrame: (frame: RawFrame) => void;
  readonly limits: ReaderLimits;
  /** Frames delivered so far (the parsers increment it and use it as `frame.index`). */
  packets: number;
  warn(message: string): void;
  addInterface(info: CaptureInterface): void;
  addNameResolution(entry: NameResolutionEntry): void;
}

/**
 * A push parser over a container format. `parse` consumes complete records/blocks from
 * `bytes[start, end)` (whose first byte is at absolute `fileOffset`) and returns the index of the first
 * byte it did not consume; then `bytesNeeded` says how many bytes, counted from that index, the next
 * record/block needs. Malformed input throws `PcapFormatError`.
 */
export interface ContainerParser {
  readonly format: 'pcap' | 'pcapng';
  readonly bytesNeeded: number;
  parse(bytes: Uint8Array, start: number, end: number, fileOffset: number): number;
  /** The damage to report when the input ends with `leftover` unconsumed bytes at `fileOffset`. */
  finish(leftover: number, fileOffset: number): PcapFormatError | undefined;
}

const MAX_WARNINGS = 50;
const GZIP_CHUNK_BYTES = 256 * 1024;
const FILE_CHUNK_BYTES = 1024 * 1024;
/**
 * zlib hands over what it decompressed from one input chunk only when that chunk is done, and drops it
 * if the chunk turns out corrupt: feeding small slices keeps what precedes a corruption readable.
 */
const GZIP_INPUT_SLICE_BYTES = 64 * 1024;

class ReaderState implements ReaderContext {
  packets = 0;
  readonly frame: RawFrame = newRawFrame();
  readonly interfaces: CaptureInterface[] = [];
  readonly nameResolution: NameResolutionEntry[] = [];
  readonly warnings: string[] = [];
  private droppedInterfaces = 0;
  private droppedNames = 0;

  constructor(
    readonly onFrame: (frame: RawFrame) => void,
    readonly limits: ReaderLimits,
  ) {}

  warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS && !this.warnings.includes(message)) this.warnings.push(message);
  }

  addInterface(info: CaptureInterface): void {
    // The summary keeps at most maxInterfaces entries overall (many sections could repeat IDBs).
    if (this.interfaces.length < this.limits.maxInterfaces) this.interfaces.push(info);
    else this.droppedInterfaces += 1;
  }

  addNameResolution(entry: NameResolutionEntry): void {
    if (this.nameResolution.length < this.limits.maxNameResolutionEntries) this.nameResolution.push(entry);
    else this.droppedNames += 1;
  }

  finalWarnings(): string[] {
    if (this.droppedInterfaces > 0) {
      this.warn(`${this.droppedInterfaces} more interface descriptions were not listed (maxInterfaces)`);
    }
    if (this.droppedNames > 0) {
      this.warn(`${this.droppedNames} more name-resolution entries were not kept (maxNameResolutionEntries)`);
    }
    return this.warnings;
  }
}

/**
 * Feeds chunks to a parser, keeping only the incomplete tail between chunks. The tail grows to the
 * largest record seen (bounded by the parser's limit checks) and is reused.
 */
class ChunkFeeder {
  private tail = new Uint8Array(0);
  private tailLength = 0;
  /** Absolute offset of tail[0]. */
  private tailFileOffset = 0;
  /** Absolute offset of the next byte to arrive. */
  bytesSeen = 0;

  constructor(private readonly parser: ContainerParser) {}

  feed(chunk: Uint8Array): void {
    try {
      this.parseChunk(chunk);
    } finally {
      // Counted even when the chunk held damage, so bytesRead covers everything taken from the source.
      this.bytesSeen += chunk.length;
    }
  }

  private parseChunk(chunk: Uint8Array): void {
    const length = chunk.length;
    let position = 0;
    const parser = this.parser;
    while (this.tailLength > 0) {
      const needed = parser.bytesNeeded;
      if (needed <= this.tailLength) {
        // A parser that neither consumed nor asked for more would loop forever: report, never hang.
        throw new PcapFormatError('reader made no progress', this.tailFileOffset, parser.format);
      }
      const take = Math.min(needed - this.tailLength, length - position);
      this.reserve(needed);
      this.tail.set(chunk.subarray(position, position + take), this.tailLength);
      this.tailLength += take;
      position += take;
      if (this.tailLength < needed) return;
      const consumed = parser.parse(this.tail, 0, this.tailLength, this.tailFileOffset);
      if (consumed > 0) {
        if (consumed < this.tailLength) this.tail.copyWithin(0, consumed, this.tailLength);
        this.tailLength -= consumed;
        this.tailFileOffset += consumed;
      }
    }
    if (position < length) {
      const consumed = parser.parse(chunk, position, length, this.bytesSeen + position);
      const leftover = length - consumed;
      if (leftover > 0) {
        this.reserve(Math.max(leftover, parser.bytesNeeded));
        this.tail.set(chunk.subarray(consumed, length), 0);
        this.tailLength = leftover;
        this.tailFileOffset = this.bytesSeen + consumed;
      }
    }
  }

  /** End of input: damage when an incomplete record or block is left over. */
  end(): PcapFormatError | undefined {
    return this.parser.finish(this.tailLength, this.tailFileOffset);
  }

  private reserve(size: number): void {
    if (this.tail.length >= size) return;
    const bigger = new Uint8Array(Math.max(size, Math.min(this.tail.length * 2, size * 2), 4096));
    bigger.set(this.tail.subarray(0, this.tailLength));
    this.tail = bigger;
  }
}

function resolveLimits(options: CaptureReaderOptions): ReaderLimits {
  const positive = (value: number | undefined, fallback: number): number =>
    value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
  return {
    maxBlockBytes: positive(options.maxBlockBytes, DEFAULT_READER_LIMITS.maxBlockBytes),
    maxSnapLength: positive(options.maxSnapLength, DEFAULT_READER_LIMITS.maxSnapLength),
    maxInterfaces: positive(options.maxInterfaces, DEFAULT_READER_LIMITS.maxInterfaces),
    maxNameResolutionEntries: positive(
      options.maxNameResolutionEntries,
      DEFAULT_READER_LIMITS.maxNameResolutionEntries,
    ),
  };
}

type Sniffed = 'gzip' | 'pcap' | 'pcapng';

function sniff(head: Uint8Array): Sniffed | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length < 4) return undefined;
  if (pcapMagicByteOrder(head, 0) !== undefined) return 'pcap';
  const first = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
  if (first === PCAPNG_SHB_TYPE) return 'pcapng';
  return undefined;
}

function describeStart(head: Uint8Array): string {
  return Array.from(head.subarray(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

/** Pulls chunks until `minBytes` are held (or the input ends); returns them and the bytes' concatenation. */
async function readHead(
  iterator: AsyncIterator<Uint8Array>,
  minBytes: number,
): Promise<{ chunks: Uint8Array[]; head: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < minBytes) {
    const next = await iterator.next();
    if (next.done) break;
    if (next.value.length === 0) continue;
    // A source may reuse its buffer once asked for the next chunk: keep a copy of any chunk that will
    // have to wait for a later one (only while fewer than `minBytes` bytes are held, so a few bytes).
    chunks.push(total + next.value.length < minBytes ? next.value.slice() : next.value);
    total += next.value.length;
  }
  const head = new Uint8Array(Math.min(total, minBytes));
  let at = 0;
  for (const chunk of chunks) {
    if (at >= head.length) break;
    const part = chunk.subarray(0, head.length - at);
    head.set(part, at);
    at += part.length;
  }
  return { chunks, head };
}

/** The already-read chunks, then the rest of the iterator; closes the iterator if the consumer stops. */
async function* resume(
  chunks: Uint8Array[],
  iterator: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    yield* chunks;
    while (true) {
      const next = await iterator.next();
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) await iterator.return?.(undefined);
  }
}

/** zlib failures (bad data, truncated stream) are damage of the capture, not program errors. */
function isZlibError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Decompresses a gzip stream (several concatenated members are read as one stream, as gzip(1) does). */
async function* gunzipChunks(
  compressed: AsyncIterable<Uint8Array>,
  onDamage: (error: Error) => void,
): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip({ chunkSize: GZIP_CHUNK_BYTES });
  const feeding = pipeline(
    Readable.from(slices(compressed, GZIP_INPUT_SLICE_BYTES), { objectMode: false }),
    gunzip,
  ).catch(() => {
    // Errors surface through iteration of `gunzip` below.
  });
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } catch (error) {
    if (!isZlibError(error)) throw error;
    onDamage(error);
  } finally {
    gunzip.destroy();
    await feeding;
  }
}

/**
 * Reads a capture from a whole buffer or an async iterable of chunks (a Node stream, an S3 body, stdin),
 * calling `onFrame` synchronously for every frame (the same object each time, valid until the next call).
 * An uncompressed source may reuse a chunk's memory once the next chunk is requested (the incomplete tail
 * is copied out first); gzip input must keep its chunks intact (the decompressor reads ahead).
 */
export async function readCapture(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  onFrame: (frame: RawFrame) => void,
  options: CaptureReaderOptions = {},
): Promise<CaptureSummary> {
  const sourceName = options.sourceName ?? 'capture';
  const limits = resolveLimits(options);
  const state = new ReaderState(onFrame, limits);

  let kind: Sniffed | undefined;
  let chunks: AsyncIterable<Uint8Array> | undefined;
  let whole: Uint8Array | undefined;
  let gzipped = false;
  let gzipDamage: Error | undefined;

  if (source instanceof Uint8Array) {
    kind = sniff(source);
    if (kind === undefined) throw notACapture(sourceName, source);
    if (kind === 'gzip') chunks = toAsync([source]);
    else whole = source;
  } else {
    const iterator = source[Symbol.asyncIterator]();
    const { chunks: first, head } = await readHead(iterator, 4);
    kind = sniff(head);
    if (kind === undefined) {
      await iterator.return?.(undefined);
      throw notACapture(sourceName, head);
    }
    chunks = resume(first, iterator);
  }

  if (kind === 'gzip') {
    gzipped = true;
    const decompressed = gunzipChunks(chunks!, (error) => {
      gzipDamage = error;
    });
    const iterator = decompressed[Symbol.asyncIterator]();
    const { chunks: first, head } = await readHead(iterator, 4);
    kind = sniff(head);
    if (kind === undefined || kind === 'gzip') {
      await iterator.return?.(undefined);
      if (head.length === 0 && gzipDamage !== undefined) {
        throw new NotACaptureError(`${sourceName}: gzip data is damaged before any capture data`, {
          source: sourceName,
        });
      }
      throw notACapture(sourceName, head, ' (after gzip decompression)');
    }
    chunks = resume(first, iterator);
  }

  const parser: PcapParser | PcapngParser = kind === 'pcap' ? new PcapParser(state) : new PcapngParser(state);
  const feeder = new ChunkFeeder(parser);
  let damage: PcapFormatError | undefined;
  try {
    if (whole !== undefined) {
      feeder.feed(whole);
    } else {
      for await (const chunk of chunks!) {
        if (chunk.length > 0) feeder.feed(chunk);
      }
    }
    damage = feeder.end();
  } catch (error) {
    damage = asDamage(error, feeder.bytesSeen);
  }
  if (gzipDamage !== undefined) {
    // The decompressor's error is the root cause (a cut-short record after it is only its consequence).
    damage = new PcapFormatError(
      `gzip data is damaged: ${gzipDamage.message}`,
      damage?.byteOffset ?? feeder.bytesSeen,
      'gzip',
      { cause: gzipDamage },
    );
  }

  return {
    sourceName,
    format: parser.format,
    gzip: gzipped,
    packets: state.packets,
    bytesRead: feeder.bytesSeen,
    byteOrder: byteOrderOf(parser),
    variant: parser instanceof PcapParser ? (parser.header?.variant ?? 'unknown') : 'pcapng',
    version:
      parser instanceof PcapParser
        ? parser.header === undefined
          ? ''
          : `${parser.header.versionMajor}.${parser.header.versionMinor}`
        : `sections=${parser.sections}`,
    interfaces: state.interfaces,
    nameResolution: state.nameResolution,
    warnings: state.finalWarnings(),
    damage,
  };
}

/**
 * Reads a capture file in 1 MiB pieces, as `captureFileChunks` hands them out. A missing or unreadable file is
 * `NotFoundError`, a directory `NotACaptureError`.
 */
export async function readCaptureFile(
  path: string,
  onFrame: (frame: RawFrame) => void,
  options: CaptureReaderOptions = {},
): Promise<CaptureSummary> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const { chunks } = await captureFileChunks(handle);
    return await readCapture(chunks, onFrame, { ...options, sourceName: options.sourceName ?? path });
  } catch (error) {
    throw fileError(path, error);
  } finally {
    await handle.close();
  }
}

/**
 * The bytes of an open capture file, for `readCapture`, in 1 MiB pieces. An uncompressed regular file is read
 * into one reused buffer (no allocation per read: frames are only valid until the next frame anyway, and the
 * reader copies an incomplete tail out before asking for more) with synchronous reads (see
 * reusedBufferChunks). A gzip file gets fresh buffers from a stream (the decompressor reads ahead), and so does
 * a file that is not a regular one (a named pipe: no positioned reads, and a read may wait for its writer).
 * `sizeBytes` is a regular file's size. A directory is an error with code EISDIR (as a read of it would give).
 * The caller closes the handle once the chunks are read.
 */
export async function captureFileChunks(
  handle: FileHandle,
): Promise<{ chunks: AsyncIterable<Uint8Array>; sizeBytes: number | undefined }> {
  const info = await handle.stat();
  if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  const stream = (start: number | undefined): AsyncIterable<Uint8Array> =>
    handle.createReadStream({ start, highWaterMark: FILE_CHUNK_BYTES, autoClose: false });
  if (!info.isFile()) return { chunks: stream(undefined), sizeBytes: undefined };
  const head = new Uint8Array(2);
  const { bytesRead } = await handle.read(head, 0, 2, 0);
  const gzipped = bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  return {
    chunks: gzipped ? stream(0) : reusedBufferChunks(handle, FILE_CHUNK_BYTES),
    sizeBytes: info.size,
  };
}

/**
 * Sequential reads into one buffer; each yielded view is valid until the next one is requested.
 *
 * The reads are synchronous, on the thread that parses: the parse of each chunk holds the event loop anyway
 * (for longer than the read of a cached file), and an asynchronous read runs on a libuv pool thread, on
 * the other core, so every chunk cost a thread hand-off and reached the parser through the shared cache
 * rather than its own. Measured on the bench mix (1.16 GB): reader + decoders at 0.75-1.01x the CPU of the
 * asynchronous reads in 6 alternated pairs (docs/benchmarks.md, round 6). Used for local files (the CLI's
 * capture commands, `readCaptureFile`); the Lambdas and the local server read S3 streams through
 * `readCapture`. For a source that must not hold the event loop during disk I/O, pass a stream to
 * `readCapture` instead.
 */
async function* reusedBufferChunks(handle: FileHandle, size: number): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(size);
  while (true) {
    const bytesRead = readSync(handle.fd, buffer, 0, size, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/** File-system failures as the project's errors; anything else (reader errors included) unchanged. */
function fileError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') {
    return new NotFoundError(
      `cannot open capture file ${path}: ${(error as Error).message}`,
      { path },
      { cause: error },
    );
  }
  if (code === 'EISDIR') return new NotACaptureError(`${path} is a directory, not a capture file`, { path });
  return error;
}

function notACapture(sourceName: string, head: Uint8Array, suffix = ''): NotACaptureError {
  if (head.length === 0) {
    return new NotACaptureError(`${sourceName} is empty${suffix}: not a pcap or pcapng capture`, {
      source: sourceName,
    });
  }
  return new NotACaptureError(
    `${sourceName} is not a pcap or pcapng capture${suffix} (starts with ${describeStart(head)})`,
    { source: sourceName },
  );
}

function asDamage(error: unknown, bytesSeen: number): PcapFormatError {
  if (error instanceof PcapFormatError) return error;
  if (error instanceof NeedMoreDataError) {
    // Parsers only read complete records; reaching here means a structure claimed more than it held.
    return new PcapFormatError('structure extends past its block', bytesSeen);
  }
  throw error;
}

function byteOrderOf(parser: PcapParser | PcapngParser): 'le' | 'be' | 'mixed' {
  if (parser instanceof PcapParser) return parser.header?.littleEndian === false ? 'be' : 'le';
  const orders = new Set(parser.sectionByteOrders);
  if (orders.size > 1) return 'mixed';
  return orders.has('be') ? 'be' : 'le';
}

/** The same bytes, in pieces of at most `size` bytes (views, no copy). */
async function* slices(chunks: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
  }
}

async function* toAsync(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
