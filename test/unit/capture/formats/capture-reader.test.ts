import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture, readCaptureFile } from '../../../../functions/capture/capture-reader.js';
import { NotACaptureError, NotFoundError, PcapFormatError } from '../../../../functions/platform/errors.js';
import {
  buildPcap,
  buildPcapng,
  chunksOf,
  concatBytes,
  gzipCapture,
  type PcapngBlockSpec,
  splitAt,
} from '../../../support/capture-files.js';
import { type CollectedFrame, collect, copyFrame, pattern } from './read-helpers.js';

const TS = 1_700_000_000_000_000;

const smallPcap = buildPcap({
  packets: [
    { tsUs: TS, data: pattern(30, 1) },
    { tsUs: TS + 5, data: new Uint8Array(0), originalLength: 60 },
    { tsUs: TS + 9, data: pattern(17, 2), originalLength: 1500 },
  ],
});

const smallPcapngBlocks: PcapngBlockSpec[] = [
  { type: 'shb', byteOrder: 'be', options: [{ code: 4, value: 'test' }] },
  { type: 'idb', linkType: 1, tsresol: 9, name: 'eth0' },
  { type: 'epb', tsSec: 7, tsNanos: 8, data: pattern(13, 3) },
  { type: 'nrb', records: [{ kind: 'ipv4', address: [10, 0, 0, 1], names: ['a'] }] },
  { type: 'spb', data: pattern(6, 4) },
  { type: 'shb', byteOrder: 'le' },
  { type: 'idb', linkType: 101 },
  { type: 'isb', interfaceId: 0 },
  { type: 'epb', tsUs: TS, data: pattern(21, 5) },
];
const smallPcapng = buildPcapng({ blocks: smallPcapngBlocks });

describe('readCapture: sniffing', () => {
  it('throws NotACaptureError for empty input (buffer and stream)', async () => {
    await expect(readCapture(new Uint8Array(0), () => {})).rejects.toBeInstanceOf(NotACaptureError);
    await expect(readCapture(chunksOf(new Uint8Array(0), 10), () => {})).rejects.toThrow(/is empty/);
  });

  it('throws NotACaptureError for other files, naming the source and its first bytes', async () => {
    const text = new TextEncoder().encode('hello, this is not a capture');
    await expect(readCapture(text, () => {}, { sourceName: 'notes.txt' })).rejects.toThrow(
      /notes\.txt is not a pcap or pcapng capture \(starts with 68 65 6c 6c\)/,
    );
    await expect(readCapture(chunksOf(text, 1), () => {})).rejects.toBeInstanceOf(NotACaptureError);
    await expect(readCapture(Uint8Array.of(0xd4, 0xc3, 0xb2), () => {})).rejects.toBeInstanceOf(
      NotACaptureError,
    );
  });

  it('recognises each format from its magic, whatever the file is called', async () => {
    expect((await collect(smallPcap)).summary.format).toBe('pcap');
    expect((await collect(smallPcapng)).summary.format).toBe('pcapng');
  });
});

describe('readCapture: chunk boundaries', () => {
  for (const [name, file] of [
    ['pcap', smallPcap],
    ['pcapng', smallPcapng],
  ] as const) {
    it(`gives the same frames and summary for a ${name} split at every byte`, async () => {
      const expected = await collect(file);
      expect(expected.summary.damage).toBeUndefined();
      for (let cut = 1; cut < file.length; cut++) {
        const { frames, summary } = await collect(splitAt(file, [cut]));
        expect(frames, `split at ${cut}`).toEqual(expected.frames);
        expect(summary).toEqual(expected.summary);
      }
    });

    it(`gives the same frames for a ${name} in chunks of every size from 1 to 64`, async () => {
      const expected = await collect(file);
      for (let size = 1; size <= 64; size++) {
        const { frames, summary } = await collect(chunksOf(file, size));
        expect(frames, `chunk size ${size}`).toEqual(expected.frames);
        expect(summary.packets).toBe(expected.summary.packets);
        expect(summary.bytesRead).toBe(file.length);
      }
    });

    it(`reports the same damage for a truncated ${name} however it is chunked`, async () => {
      const cut = file.subarray(0, file.length - 2);
      const expected = await collect(cut);
      expect(expected.summary.damage).toBeInstanceOf(PcapFormatError);
      for (const size of [1, 2, 3, 7, 16, 100]) {
        const { frames, summary } = await collect(chunksOf(cut, size));
        expect(frames).toEqual(expected.frames);
        expect(summary.damage?.message).toBe(expected.summary.damage!.message);
      }
    });
  }

  it('carries only the incomplete tail: frames of a chunk point into that chunk', async () => {
    const packets = Array.from({ length: 200 }, (_, i) => ({ tsUs: TS + i, data: pattern(100, i) }));
    const file = buildPcap({ packets });
    const chunkSize = 4096;
    let inChunk = 0;
    let total = 0;
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < file.length; at += chunkSize) chunks.push(file.slice(at, at + chunkSize));
    async function* source(): AsyncGenerator<Uint8Array> {
      yield* chunks;
    }
    await readCapture(source(), (frame) => {
      total += 1;
      if (chunks.includes(frame.bytes)) inChunk += 1;
    });
    expect(total).toBe(200);
    // Only frames straddling a chunk boundary (about one per chunk) are copied into the tail.
    expect(inChunk).toBeGreaterThanOrEqual(200 - chunks.length);
  });
});

describe('readCapture: memory', () => {
  it('streams ~1.5 million packets (~120 MB) with flat memory: only the incomplete tail is kept', async () => {
    // A periodic stream: the file header, then the same 81-byte record forever. Chunks are views into
    // one buffer at the right phase, so the test itself allocates nothing per chunk.
    const record = buildPcap({ packets: [{ tsUs: TS, data: pattern(65) }] }).subarray(24);
    const recordBytes = record.length;
    const chunkBytes = 64 * 1024 + 17; // deliberately not a multiple of the record size
    const periodic = new Uint8Array(chunkBytes + recordBytes);
    for (let at = 0; at < periodic.length; at += recordBytes)
      periodic.set(record.subarray(0, periodic.length - at), at);
    const chunkCount = 1800;
    const totalRecords = Math.floor((chunkCount * chunkBytes) / recordBytes);
    async function* source(): AsyncGenerator<Uint8Array> {
      yield buildPcap({ packets: [] });
      for (let k = 0; k < chunkCount; k++) {
        const phase = (k * chunkBytes) % recordBytes;
        yield periodic.subarray(phase, phase + chunkBytes);
      }
    }
    const before = process.memoryUsage();
    let count = 0;
    let peakGrowth = 0;
    const summary = await readCapture(source(), (frame) => {
      count += 1;
      if ((count & 0x3ffff) === 0) {
        const now = process.memoryUsage();
        peakGrowth = Math.max(
          peakGrowth,
          now.heapUsed + now.arrayBuffers - (before.heapUsed + before.arrayBuffers),
        );
      }
      if (frame.capturedLength !== 65)
        throw new Error(`frame ${frame.index} has ${frame.capturedLength} bytes`);
    });
    expect(count).toBe(totalRecords);
    expect(summary.bytesRead).toBe(24 + chunkCount * chunkBytes);
    expect(summary.damage?.blockType).toBe(
      totalRecords * recordBytes === chunkCount * chunkBytes ? undefined : 'packet record',
    );
    expect(peakGrowth).toBeLessThan(32 * 1024 * 1024);
  });
});

describe('readCapture: sources that reuse their buffer', () => {
  it('copes with a source that overwrites each chunk once the next is requested, tiny chunks first', async () => {
    const file = buildPcapng({ blocks: smallPcapngBlocks });
    async function* reusing(): AsyncGenerator<Uint8Array> {
      const buffer = new Uint8Array(64);
      let at = 0;
      let size = 1;
      while (at < file.length) {
        const piece = file.subarray(at, at + size);
        buffer.fill(0xee);
        buffer.set(piece);
        yield buffer.subarray(0, piece.length);
        buffer.fill(0xee); // the previous chunk's memory is scribbled over before the next one
        at += piece.length;
        size = size < 3 ? size + 1 : 61;
      }
    }
    const { frames, summary } = await collect(reusing());
    expect(summary.damage).toBeUndefined();
    expect(frames).toEqual((await collect(file)).frames);
  });
});

describe('readCapture: gzip', () => {
  it('reads gzip-compressed pcap and pcapng transparently', async () => {
    for (const file of [smallPcap, smallPcapng]) {
      const expected = await collect(file);
      const { frames, summary } = await collect(gzipCapture(file));
      expect(frames).toEqual(expected.frames);
      expect(summary.gzip).toBe(true);
      expect(summary.bytesRead).toBe(file.length);
    }
  });

  it('reads multi-member gzip, streamed in small chunks', async () => {
    const packets = Array.from({ length: 50 }, (_, i) => ({ tsUs: TS + i, data: pattern(80, i) }));
    const file = buildPcap({ packets });
    const expected = await collect(file);
    const { frames, summary } = await collect(chunksOf(gzipCapture(file, 4), 7));
    expect(frames).toEqual(expected.frames);
    expect(summary).toMatchObject({ gzip: true, packets: 50, damage: undefined });
  });

  it('reports truncated gzip as damage after the readable frames', async () => {
    const packets = Array.from({ length: 300 }, (_, i) => ({ tsUs: TS + i, data: pattern(200, i * 13) }));
    const compressed = gzipCapture(buildPcap({ packets }));
    const { frames, summary } = await collect(compressed.subarray(0, Math.floor(compressed.length * 0.6)));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.length).toBeLessThan(300);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    expect(summary.damage!.blockType).toBe('gzip');
  });

  it('reports corrupt gzip data as damage, not as an exception', async () => {
    // Pseudo-random payloads so the compressed stream is long; corrupt its second half.
    let seed = 12345;
    const random = (length: number): Uint8Array =>
      Uint8Array.from({ length }, () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed >>> 24;
      });
    const packets = Array.from({ length: 2000 }, (_, i) => ({ tsUs: TS + i, data: random(200) }));
    const compressed = gzipCapture(buildPcap({ packets })).slice();
    const middle = Math.floor(compressed.length * 0.7);
    for (let i = middle; i < middle + 64; i++) compressed[i] = 0xff - compressed[i]!;
    const { frames, summary } = await collect(compressed);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    // Corrupt deflate data may first decode to garbage (then the record framing fails) or fail in zlib.
    expect(['gzip', 'record header', 'packet record']).toContain(summary.damage!.blockType);
    // Everything decompressed before the corruption (at least the first 64 KiB slices) was delivered.
    expect(frames.length).toBeGreaterThan(500);
    expect(frames.length).toBeLessThan(2000);
  });

  it('throws NotACaptureError for gzip of something else', async () => {
    await expect(collect(gzipCapture(new TextEncoder().encode('just text, compressed')))).rejects.toThrow(
      /after gzip decompression/,
    );
    await expect(collect(gzipCapture(new Uint8Array(0)))).rejects.toBeInstanceOf(NotACaptureError);
  });
});

describe('readCapture: frames and limits', () => {
  it('reuses one frame object and numbers frames across pcapng sections', async () => {
    const seen = new Set<object>();
    const indexes: number[] = [];
    await readCapture(smallPcapng, (frame) => {
      seen.add(frame);
      indexes.push(frame.index);
    });
    expect(seen.size).toBe(1);
    expect(indexes).toEqual([1, 2, 3]);
  });

  it('lets the onFrame callback stop the read by throwing (its error, not damage)', async () => {
    class Stop extends Error {}
    await expect(
      readCapture(smallPcap, () => {
        throw new Stop('enough');
      }),
    ).rejects.toBeInstanceOf(Stop);
  });

  it('bounds the tail buffer: a huge declared record is damage before any allocation', async () => {
    const file = buildPcap({
      snapLength: 0,
      packets: [{ tsUs: TS, data: pattern(10), capturedLengthField: 200_000 }],
    });
    const { summary } = await collect(chunksOf(file, 8), { maxSnapLength: 1000 });
    expect(summary.damage).toMatchObject({ byteOffset: 24, blockType: 'record header' });
  });

  it('ignores non-positive limit options (defaults apply)', async () => {
    const { summary } = await collect(smallPcap, { maxBlockBytes: 0, maxSnapLength: -5 });
    expect(summary).toMatchObject({ packets: 3, damage: undefined });
  });
});

describe('readCaptureFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccf-capture-reader-'));

  it('streams a file and names it in the summary', async () => {
    const packets = Array.from({ length: 3000 }, (_, i) => ({ tsUs: TS + i, data: pattern(700, i) }));
    const file = buildPcap({ packets });
    const path = join(dir, 'many.pcap');
    writeFileSync(path, file);
    const frames: CollectedFrame[] = [];
    let count = 0;
    const summary = await readCaptureFile(path, (frame) => {
      count += 1;
      if (frame.index === 2999) frames.push({ ...frame, data: [] } as CollectedFrame);
    });
    expect(count).toBe(3000);
    expect(summary).toMatchObject({
      sourceName: path,
      packets: 3000,
      bytesRead: file.length,
      damage: undefined,
    });
    expect(frames[0]!.fileOffset).toBe(24 + 2998 * 716);
  });

  it('delivers the same frames from a file (reused read buffer) as from the whole buffer', async () => {
    const packets = Array.from({ length: 5000 }, (_, i) => ({
      tsUs: TS + i,
      data: pattern(300 + (i % 700), i),
    }));
    const file = buildPcap({ packets });
    const path = join(dir, 'reused.pcap');
    writeFileSync(path, file);
    const fromFile: CollectedFrame[] = [];
    const summary = await readCaptureFile(path, (frame) => fromFile.push(copyFrame(frame)));
    expect(file.length).toBeGreaterThan(3 * 1024 * 1024);
    expect(summary.damage).toBeUndefined();
    expect(fromFile).toEqual((await collect(file)).frames);
  });

  it.skipIf(process.platform === 'win32')(
    'reads a named pipe (no positioned reads) with the same frames as the file',
    async () => {
      const packets = Array.from({ length: 4000 }, (_, i) => ({
        tsUs: TS + i,
        data: pattern(200 + (i % 900), i),
      }));
      const file = buildPcap({ packets });
      const pipePath = join(dir, 'capture.fifo');
      execFileSync('mkfifo', [pipePath]);
      // The writer opens the pipe once the reader has; it runs in its own process, as a real producer would.
      const writer = spawn('sh', ['-c', `cat > "${pipePath}"`], { stdio: ['pipe', 'ignore', 'ignore'] });
      writer.stdin.end(file);
      const fromPipe: CollectedFrame[] = [];
      const summary = await readCaptureFile(pipePath, (frame) => fromPipe.push(copyFrame(frame)));
      expect(summary).toMatchObject({ packets: 4000, bytesRead: file.length, damage: undefined });
      expect(fromPipe).toEqual((await collect(file)).frames);
    },
  );

  it('reads a .pcapng.gz file', async () => {
    const path = join(dir, 'x.pcapng.gz');
    writeFileSync(path, gzipCapture(smallPcapng));
    const summary = await readCaptureFile(path, () => {});
    expect(summary).toMatchObject({ format: 'pcapng', gzip: true, packets: 3 });
  });

  it('reports a cut-short .pcap.gz file as damaged and closes it', async () => {
    const packets = Array.from({ length: 4000 }, (_, i) => ({ tsUs: TS + i, data: pattern(400, i) }));
    const compressed = gzipCapture(buildPcap({ packets }));
    const path = join(dir, 'cut.pcap.gz');
    writeFileSync(path, compressed.subarray(0, Math.floor(compressed.length / 2)));
    const summary = await readCaptureFile(path, () => {});
    expect(summary.gzip).toBe(true);
    expect(summary.packets).toBeGreaterThan(0);
    expect(summary.packets).toBeLessThan(4000);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
  });

  it('throws NotFoundError for a missing file and NotACaptureError for a directory or an empty file', async () => {
    await expect(readCaptureFile(join(dir, 'missing.pcap'), () => {})).rejects.toBeInstanceOf(NotFoundError);
    await expect(readCaptureFile(dir, () => {})).rejects.toBeInstanceOf(NotACaptureError);
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, new Uint8Array(0));
    await expect(readCaptureFile(empty, () => {})).rejects.toBeInstanceOf(NotACaptureError);
  });

  it('reports a damaged file with every readable frame delivered', async () => {
    const path = join(dir, 'cut.pcap');
    const full = buildPcap({
      packets: Array.from({ length: 10 }, (_, i) => ({ tsUs: TS + i, data: pattern(50, i) })),
    });
    writeFileSync(path, concatBytes([full.subarray(0, full.length - 20)]));
    const summary = await readCaptureFile(path, () => {});
    expect(summary.packets).toBe(9);
    expect(summary.damage).toMatchObject({ byteOffset: 24 + 9 * 66, blockType: 'packet record' });
  });
});
