/**
 * Builds the benchmark capture: a classic pcap (little-endian, µs, Ethernet) over 1 GB made by repeating a mix
 * of real corpus captures, each copy shifted in time so the file is one plausible, time-ordered recording.
 * From the second repetition on, the IPv4 addresses of untagged IPv4 frames get their second octet XORed with
 * the repetition number (header checksum recomputed), so each repetition adds new conversations instead of
 * replaying the same flows.
 *
 * Deliberately independent of the project's reader (a plain record walk over files the corpus manifest says
 * are clean), so a reader bug cannot shape its own benchmark input. Reused when already built with the same
 * recipe version and target size.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

const RECIPE_VERSION = 3;
/** Corpus collections of real or realistic traffic (not the fuzzer-made files of tcpdump/libpcap tests). */
const MIX_COLLECTIONS = new Set([
  'zeek',
  'suricata-verify',
  'PcapPlusPlus',
  'StopDDoS-packet-captures',
  'slips-dataset',
]);
const BASE_TIME_S = 1_700_000_000;
const SNAPLEN = 262_144;
const MAX_GAP_US = 600_000_000;

export const LargeCaptureInfoSchema = z.object({
  recipeVersion: z.number(),
  path: z.string(),
  bytes: z.number(),
  packets: z.number(),
  repetitions: z.number(),
  sourceFiles: z.number(),
  sourcePacketsPerRepetition: z.number(),
  linkType: z.literal(1),
  firstTimestampS: z.number(),
  lastTimestampS: z.number(),
});
export type LargeCaptureInfo = z.infer<typeof LargeCaptureInfoSchema>;

interface ManifestRow {
  collection: string;
  path: string;
  bytes: number;
  packets: number;
}

/** Minimal CSV split for MANIFEST.csv (quoted fields may contain commas, no embedded newlines). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

/** Clean classic-pcap Ethernet captures with µs timestamps and no truncated records, per the manifest. */
export function selectMixFiles(corporaDir: string): ManifestRow[] {
  const lines = readFileSync(join(corporaDir, 'MANIFEST.csv'), 'utf8').split('\n').filter(Boolean);
  const header = splitCsvLine(lines[0] ?? '');
  const col = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`MANIFEST.csv has no column ${name}`);
    return index;
  };
  const c = {
    collection: col('collection'),
    path: col('path'),
    bytes: col('bytes'),
    gzip: col('gzip'),
    format: col('format'),
    precision: col('ts_precision'),
    linktypes: col('linktypes'),
    packets: col('packets'),
    caplenLtLen: col('caplen_lt_len'),
    structError: col('struct_error'),
  };
  const rows: ManifestRow[] = [];
  for (const line of lines.slice(1)) {
    const cells = splitCsvLine(line);
    const at = (i: number): string => cells[i] ?? '';
    if (
      MIX_COLLECTIONS.has(at(c.collection)) &&
      at(c.format) === 'pcap' &&
      at(c.gzip) === '' &&
      at(c.precision) === 'usec' &&
      at(c.linktypes) === '1:EN10MB' &&
      at(c.structError) === '' &&
      at(c.caplenLtLen) === '0' &&
      Number(at(c.packets)) > 0
    ) {
      rows.push({
        collection: at(c.collection),
        path: at(c.path),
        bytes: Number(at(c.bytes)),
        packets: Number(at(c.packets)),
      });
    }
  }
  rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return rows;
}

interface SourceRecord {
  /** Offset of the µs timestamp from the file's first packet. */
  relativeUs: number;
  originalLength: number;
  data: Uint8Array;
}

/** Reads one classic pcap (either byte order, µs); returns its records with times relative to the first. */
function parsePcap(bytes: Uint8Array): SourceRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  const littleEndian = magicLe === 0xa1b2c3d4;
  if (!littleEndian && view.getUint32(0, false) !== 0xa1b2c3d4) {
    throw new Error('not a µs classic pcap');
  }
  const records: SourceRecord[] = [];
  let offset = 24;
  let previousUs: number | undefined;
  let relativeUs = 0;
  while (offset + 16 <= bytes.length) {
    const sec = view.getUint32(offset, littleEndian);
    const usec = view.getUint32(offset + 4, littleEndian);
    const capLen = view.getUint32(offset + 8, littleEndian);
    const origLen = view.getUint32(offset + 12, littleEndian);
    if (offset + 16 + capLen > bytes.length || capLen > SNAPLEN) break;
    const tsUs = sec * 1_000_000 + usec;
    if (previousUs !== undefined) {
      // Some corpus files splice captures taken years apart: gaps beyond 10 minutes become 1 s so the
      // result stays one plausible recording; small steps (including backwards ones) are kept as they are.
      const stepUs = tsUs - previousUs;
      relativeUs += Math.abs(stepUs) > MAX_GAP_US ? (stepUs > 0 ? 1_000_000 : 0) : stepUs;
    }
    previousUs = tsUs;
    records.push({
      relativeUs,
      originalLength: origLen,
      data: bytes.subarray(offset + 16, offset + 16 + capLen),
    });
    offset += 16 + capLen;
  }
  return records;
}

/** Untagged Ethernet + IPv4: XOR the second octet of both addresses with `salt`, fix the header checksum. */
function saltIpv4Addresses(frame: Uint8Array, salt: number): void {
  if (frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) return;
  const ihl = ((frame[14] ?? 0) & 0x0f) * 4;
  if ((frame[14] ?? 0) >> 4 !== 4 || ihl < 20 || 14 + ihl > frame.length) return;
  frame[27] = (frame[27] ?? 0) ^ salt;
  frame[31] = (frame[31] ?? 0) ^ salt;
  frame[24] = 0;
  frame[25] = 0;
  let sum = 0;
  for (let i = 14; i < 14 + ihl; i += 2) {
    sum += ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  frame[24] = checksum >> 8;
  frame[25] = checksum & 0xff;
}

export interface BuildOptions {
  corporaDir: string;
  outputPath: string;
  /** Stop repeating once the file is at least this large. */
  minBytes: number;
  log: (line: string) => void;
}

function readInfo(infoPath: string): LargeCaptureInfo | undefined {
  if (!existsSync(infoPath)) return undefined;
  const parsed = LargeCaptureInfoSchema.safeParse(JSON.parse(readFileSync(infoPath, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export async function buildLargeCapture(options: BuildOptions): Promise<LargeCaptureInfo> {
  const infoPath = `${options.outputPath}.json`;
  const existing = readInfo(infoPath);
  if (
    existing &&
    existing.recipeVersion === RECIPE_VERSION &&
    existing.bytes >= options.minBytes &&
    existsSync(options.outputPath) &&
    statSync(options.outputPath).size === existing.bytes
  ) {
    options.log(`reusing ${options.outputPath} (${existing.packets} packets, ${existing.bytes} bytes)`);
    return existing;
  }
  await mkdir(dirname(options.outputPath), { recursive: true });
  const files = selectMixFiles(options.corporaDir);
  const sources: SourceRecord[][] = [];
  for (const file of files) {
    const records = parsePcap(await readFile(join(options.corporaDir, file.path)));
    if (records.length > 0) sources.push(records);
  }
  const packetsPerRepetition = sources.reduce((sum, records) => sum + records.length, 0);
  options.log(
    `building ${options.outputPath} from ${sources.length} corpus captures (${packetsPerRepetition} packets each round)`,
  );

  const out = createWriteStream(options.outputPath, { highWaterMark: 8 * 1024 * 1024 });
  const header = new Uint8Array(24);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, 0xa1b2c3d4, true);
  headerView.setUint16(4, 2, true);
  headerView.setUint16(6, 4, true);
  headerView.setUint32(16, SNAPLEN, true);
  headerView.setUint32(20, 1, true);
  out.write(header);
  let bytes = 24;
  let packets = 0;
  let repetitions = 0;
  let cursorUs = BASE_TIME_S * 1_000_000;
  const firstTimestampS = BASE_TIME_S;
  let lastUs = cursorUs;
  const batchBytes = 4 * 1024 * 1024;
  let batch = new Uint8Array(batchBytes);
  let batchView = new DataView(batch.buffer);
  let used = 0;
  const flushBatch = async (): Promise<void> => {
    if (used === 0) return;
    const ok = out.write(batch.subarray(0, used));
    batch = new Uint8Array(batchBytes);
    batchView = new DataView(batch.buffer);
    used = 0;
    if (!ok) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  while (bytes < options.minBytes) {
    const salt = repetitions % 256;
    for (const records of sources) {
      let maxRelative = 0;
      for (const record of records) {
        const need = 16 + record.data.length;
        if (used + need > batchBytes) await flushBatch();
        const tsUs = cursorUs + Math.max(0, record.relativeUs);
        if (record.relativeUs > maxRelative) maxRelative = record.relativeUs;
        batchView.setUint32(used, Math.floor(tsUs / 1_000_000), true);
        batchView.setUint32(used + 4, tsUs % 1_000_000, true);
        batchView.setUint32(used + 8, record.data.length, true);
        batchView.setUint32(used + 12, record.originalLength, true);
        batch.set(record.data, used + 16);
        if (salt !== 0) saltIpv4Addresses(batch.subarray(used + 16, used + need), salt);
        used += need;
        bytes += need;
        packets++;
        if (tsUs > lastUs) lastUs = tsUs;
      }
      // The next file starts 1 s after this one's last packet.
      cursorUs += maxRelative + 1_000_000;
    }
    repetitions++;
  }
  await flushBatch();
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
  const info: LargeCaptureInfo = {
    recipeVersion: RECIPE_VERSION,
    path: options.outputPath,
    bytes,
    packets,
    repetitions,
    sourceFiles: sources.length,
    sourcePacketsPerRepetition: packetsPerRepetition,
    linkType: 1,
    firstTimestampS,
    lastTimestampS: Math.floor(lastUs / 1_000_000),
  };
  writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`);
  options.log(`built ${options.outputPath}: ${packets} packets, ${bytes} bytes, ${repetitions} rounds`);
  return info;
}

/** Writes the first `packets` records of a classic pcap to `outputPath` (a slice for slow peers). */
export async function slicePcap(
  inputPath: string,
  outputPath: string,
  packets: number,
): Promise<{ packets: number; bytes: number }> {
  const out = createWriteStream(outputPath);
  let header: Uint8Array | undefined;
  let pending = new Uint8Array(0);
  let written = 0;
  let bytes = 0;
  const input = createReadStream(inputPath, { highWaterMark: 4 * 1024 * 1024 });
  for await (const chunk of input) {
    if (!(chunk instanceof Uint8Array)) continue;
    const joined = new Uint8Array(pending.length + chunk.length);
    joined.set(pending);
    joined.set(chunk, pending.length);
    let offset = 0;
    if (header === undefined) {
      header = joined.slice(0, 24);
      out.write(header);
      bytes += 24;
      offset = 24;
    }
    const view = new DataView(joined.buffer);
    while (written < packets && offset + 16 <= joined.length) {
      const capLen = view.getUint32(offset + 8, true);
      if (offset + 16 + capLen > joined.length) break;
      out.write(joined.slice(offset, offset + 16 + capLen));
      bytes += 16 + capLen;
      offset += 16 + capLen;
      written++;
    }
    pending = joined.slice(offset);
    if (written >= packets) break;
  }
  input.destroy();
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
  return { packets: written, bytes };
}
