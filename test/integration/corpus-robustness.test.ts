/**
 * Robustness over every file in ../shared/corpora (CCF_SHARED_DIR): each is read — containers, then the
 * decoder over every frame — without a crash or a hang, within a per-file time limit.
 *
 * Against MANIFEST.csv (one row per capture; columns used: path, format, gzip, byte_order, linktypes,
 * pcapng_blocks, packets, caplen_lt_len, struct_error):
 * - files the manifest calls valid (empty `struct_error`) read cleanly with exactly `packets` frames,
 *   the same format, gzip flag, byte order, link types, and count of frames with caplen < len;
 * - files it calls damaged are reported as damaged (`summary.damage`), after at most `packets` frames
 *   (the manifest also counts a last packet whose data is cut off; we deliver only complete records);
 * - `format=other` files (snoop, zstd) and the non-capture files (licences, READMEs, expected-output
 *   texts) are `NotACaptureError`, never another exception.
 * Versions libpcap rejects (pcap 1.4/2.5, pcapng 0.1/1.1) are read with a warning, so they agree too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type CaptureSummary, readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../functions/capture/frame.js';
import { NotACaptureError, PcapFormatError } from '../../functions/platform/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sharedDir = process.env.CCF_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
const corporaDir = path.join(sharedDir, 'corpora');
const manifestPath = path.join(corporaDir, 'MANIFEST.csv');
const hasCorpora = existsSync(manifestPath);
if (!hasCorpora) {
  console.warn(
    `corpus robustness skipped: ${manifestPath} not found (set CCF_SHARED_DIR to the shared data directory)`,
  );
}

/** Per-file budget: the largest corpus file reads in well under a second on one core. */
const PER_FILE_LIMIT_MS = 15_000;

interface ManifestRow {
  collection: string;
  path: string;
  gzip: string;
  format: string;
  byte_order: string;
  linktypes: string;
  pcapng_blocks: string;
  packets: string;
  caplen_lt_len: string;
  struct_error: string;
}

/** RFC 4180 CSV (quoted fields with doubled quotes), enough for MANIFEST.csv. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function loadManifest(): Map<string, ManifestRow> {
  const [header, ...rows] = parseCsv(readFileSync(manifestPath, 'utf8'));
  const byPath = new Map<string, ManifestRow>();
  for (const values of rows) {
    if (values.length < 2) continue;
    const row = Object.fromEntries(
      header!.map((name, i) => [name, values[i] ?? '']),
    ) as unknown as ManifestRow;
    byPath.set(row.path, row);
  }
  return byPath;
}

function listFiles(directory: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

interface FileResult {
  summary: CaptureSummary | undefined;
  notACapture: boolean;
  elapsedMs: number;
  capLessThanLen: number;
  decodeErrors: string[];
  decoded: number;
}

const packet = new DecodedPacket();

async function readOne(file: string): Promise<FileResult> {
  let capLessThanLen = 0;
  let decoded = 0;
  const decodeErrors: string[] = [];
  const onFrame = (frame: RawFrame): void => {
    if (frame.capturedLength < frame.originalLength) capLessThanLen += 1;
    try {
      decodeFrame(frame, packet);
      decoded += 1;
    } catch (error) {
      if (decodeErrors.length < 3) decodeErrors.push(`frame ${frame.index}: ${(error as Error).message}`);
    }
  };
  const started = performance.now();
  try {
    const summary = await readCaptureFile(file, onFrame);
    return {
      summary,
      notACapture: false,
      elapsedMs: performance.now() - started,
      capLessThanLen,
      decodeErrors,
      decoded,
    };
  } catch (error) {
    if (error instanceof NotACaptureError) {
      return {
        summary: undefined,
        notACapture: true,
        elapsedMs: performance.now() - started,
        capLessThanLen,
        decodeErrors,
        decoded,
      };
    }
    throw new Error(`${file}: unexpected ${(error as Error).name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

const BYTE_ORDERS: Record<string, string> = { LE: 'le', BE: 'be', 'BE+LE': 'mixed' };

/** Problems with one manifest row's result (empty when it agrees). */
function compare(row: ManifestRow, result: FileResult): string[] {
  const problems: string[] = [];
  if (row.format === 'other') {
    if (!result.notACapture) problems.push('expected NotACaptureError (format other)');
    return problems;
  }
  const summary = result.summary;
  if (summary === undefined) return [`NotACaptureError for a ${row.format} file`];
  if (summary.format !== row.format) problems.push(`format ${summary.format}, manifest ${row.format}`);
  if (summary.gzip !== (row.gzip === 'yes')) problems.push(`gzip ${summary.gzip}, manifest ${row.gzip}`);
  const manifestPackets = Number(row.packets);
  if (row.struct_error === '') {
    if (summary.damage !== undefined) problems.push(`reported damage: ${summary.damage.message}`);
    if (summary.packets !== manifestPackets)
      problems.push(`packets ${summary.packets}, manifest ${manifestPackets}`);
    // The manifest counts record headers whose caplen field is below len. Two deliberate differences:
    // records with caplen > snaplen are cut to the snaplen as libpcap does (then caplen < len), and SPBs
    // have no caplen field (their captured length is derived, and may be below len).
    const snapshotCut = summary.warnings.some((warning) => warning.includes('exceeds the snapshot length'));
    const hasSpb = row.pcapng_blocks.includes('SPB=');
    if (
      row.caplen_lt_len !== '' &&
      !snapshotCut &&
      !hasSpb &&
      result.capLessThanLen !== Number(row.caplen_lt_len)
    ) {
      problems.push(`caplen<len frames ${result.capLessThanLen}, manifest ${row.caplen_lt_len}`);
    }
    const byteOrder = BYTE_ORDERS[row.byte_order];
    if (byteOrder !== undefined && summary.byteOrder !== byteOrder) {
      problems.push(`byte order ${summary.byteOrder}, manifest ${row.byte_order}`);
    }
    const expectedLinkTypes = row.linktypes
      .split(' ')
      .filter((entry) => entry !== '')
      .map((entry) => Number(entry.split(':')[0]))
      .sort((a, b) => a - b);
    const linkTypes = [...new Set(summary.interfaces.map((i) => i.linkType))].sort((a, b) => a - b);
    if (expectedLinkTypes.length > 0 && expectedLinkTypes.join(',') !== linkTypes.join(',')) {
      problems.push(`link types ${linkTypes.join(',')}, manifest ${expectedLinkTypes.join(',')}`);
    }
  } else {
    if (!(summary.damage instanceof PcapFormatError))
      problems.push(`damage not reported (${row.struct_error})`);
    if (summary.packets > manifestPackets || summary.packets < manifestPackets - 1) {
      problems.push(`packets ${summary.packets} before the damage, manifest ${manifestPackets}`);
    }
  }
  return problems;
}

describe.skipIf(!hasCorpora)('corpus robustness (../shared/corpora)', () => {
  const manifest = hasCorpora ? loadManifest() : new Map<string, ManifestRow>();
  const files = hasCorpora ? listFiles(corporaDir).sort() : [];
  const collectionOf = (relative: string): string => {
    const parts = relative.split('/');
    return parts.length > 1 ? parts[0]! : '(top level)';
  };
  const relativePath = (file: string): string => path.relative(corporaDir, file).split(path.sep).join('/');
  const collections = [...new Set(files.map((file) => collectionOf(relativePath(file))))];

  it('finds the corpus and its manifest', () => {
    expect(manifest.size).toBeGreaterThan(100);
    for (const relative of manifest.keys())
      expect(existsSync(path.join(corporaDir, relative)), relative).toBe(true);
  });

  for (const collection of collections) {
    it(`reads every file of ${collection} without crash or hang, agreeing with MANIFEST.csv`, async () => {
      const problems: string[] = [];
      let captures = 0;
      let frames = 0;
      for (const file of files) {
        const relative = relativePath(file);
        if (collectionOf(relative) !== collection) continue;
        if (statSync(file).size === 0) continue;
        const result = await readOne(file);
        if (result.elapsedMs > PER_FILE_LIMIT_MS)
          problems.push(`${relative}: took ${Math.round(result.elapsedMs)} ms`);
        for (const error of result.decodeErrors) problems.push(`${relative}: decodeFrame threw at ${error}`);
        const row = manifest.get(relative);
        if (row === undefined) {
          // Not a capture per the manifest (licence, README, expected-output text): only "no crash" matters.
          continue;
        }
        captures += 1;
        frames += result.decoded;
        for (const problem of compare(row, result)) problems.push(`${relative}: ${problem}`);
      }
      expect(problems).toEqual([]);
      if (collection !== '(top level)') {
        expect(captures).toBeGreaterThan(0);
        expect(frames).toBeGreaterThan(0);
      }
    }, 300_000);
  }
});
