import { describe, expect, it } from 'vitest';
import { PcapFormatError } from '../../../../functions/platform/errors.js';
import { buildPcap, type PacketSpec } from '../../../support/capture-files.js';
import { collect, pattern } from './read-helpers.js';

const TS = 1_700_000_000_123_456;
const packets: PacketSpec[] = [
  { tsUs: TS, data: pattern(60, 1) },
  { tsUs: TS + 1_000_001, data: pattern(100, 2), originalLength: 1514 },
  { tsUs: TS + 2_000_000, data: pattern(42, 3) },
];

describe('classic pcap: magics and byte orders', () => {
  for (const byteOrder of ['le', 'be'] as const) {
    it(`reads microsecond pcap (${byteOrder})`, async () => {
      const { summary, frames } = await collect(buildPcap({ packets, byteOrder }));
      expect(summary).toMatchObject({ format: 'pcap', byteOrder, variant: 'microseconds', version: '2.4' });
      expect(summary.packets).toBe(3);
      expect(summary.damage).toBeUndefined();
      expect(frames.map((f) => [f.index, f.tsSec, f.tsNanos, f.capturedLength, f.originalLength])).toEqual([
        [1, 1_700_000_000, 123_456_000, 60, 60],
        [2, 1_700_000_001, 123_457_000, 100, 1514],
        [3, 1_700_000_002, 123_456_000, 42, 42],
      ]);
      expect(frames[1]!.data).toEqual(Array.from(pattern(100, 2)));
      expect(frames[0]!.fileOffset).toBe(24);
      expect(frames[1]!.fileOffset).toBe(24 + 16 + 60);
    });

    it(`reads nanosecond pcap (${byteOrder}) without losing the nanoseconds`, async () => {
      const { summary, frames } = await collect(
        buildPcap({
          byteOrder,
          variant: 'ns',
          packets: [{ tsSec: 1_600_000_000, tsNanos: 999_999_999, data: pattern(10) }],
        }),
      );
      expect(summary.variant).toBe('nanoseconds');
      expect(summary.interfaces[0]!.tsResolution).toBe('1e-9');
      expect(frames[0]).toMatchObject({ tsSec: 1_600_000_000, tsNanos: 999_999_999 });
    });

    it(`reads the modified (Kuznetzov) pcap with 24-byte record headers (${byteOrder})`, async () => {
      const { summary, frames } = await collect(buildPcap({ packets, byteOrder, variant: 'modified' }));
      expect(summary.variant).toBe('modified');
      expect(frames).toHaveLength(3);
      expect(frames[0]!.fileOffset).toBe(24);
      expect(frames[1]!.fileOffset).toBe(24 + 24 + 60);
      expect(frames[2]!.data).toEqual(Array.from(pattern(42, 3)));
    });
  }

  it('grows the snapshot by 14 for modified pcap on Ethernet (cooked capture + fake header)', async () => {
    const data = pattern(74);
    const { frames, summary } = await collect(
      buildPcap({ variant: 'modified', snapLength: 60, packets: [{ tsUs: TS, data }] }),
    );
    expect(frames[0]!.capturedLength).toBe(74);
    expect(summary.warnings).toEqual([]);
  });
});

describe('classic pcap: versions (as libpcap reads them)', () => {
  it('reads 2.2 files with caplen and len swapped (pre-2.3 record layout)', async () => {
    // In pre-2.3 files the first length field is the wire length: write len=1514 there, caplen=60 second.
    const file = buildPcap({
      versionMinor: 2,
      packets: [{ tsUs: TS, data: pattern(60), capturedLengthField: 1514, originalLength: 60 }],
    });
    const { summary, frames } = await collect(file);
    expect(summary.version).toBe('2.2');
    expect(frames[0]).toMatchObject({ capturedLength: 60, originalLength: 1514 });
    expect(summary.damage).toBeUndefined();
  });

  it('reads 2.3 files as "maybe swapped": swaps only when caplen > len', async () => {
    const file = buildPcap({
      versionMinor: 3,
      packets: [
        { tsUs: TS, data: pattern(60), capturedLengthField: 1514, originalLength: 60 },
        { tsUs: TS, data: pattern(40), originalLength: 80 },
      ],
    });
    // The first record claims caplen 1514 in the first field: only consistent when swapped (caplen=60).
    const { frames, summary } = await collect(file);
    expect(summary.damage).toBeUndefined();
    expect(frames.map((f) => [f.capturedLength, f.originalLength])).toEqual([
      [60, 1514],
      [40, 80],
    ]);
  });

  it('reads DG/UX 543.0 files (swapped lengths)', async () => {
    const file = buildPcap({
      versionMajor: 543,
      versionMinor: 0,
      packets: [{ tsUs: TS, data: pattern(20), capturedLengthField: 64, originalLength: 20 }],
    });
    const { frames, summary } = await collect(file);
    expect(frames[0]).toMatchObject({ capturedLength: 20, originalLength: 64 });
    expect(summary.warnings).toEqual([]);
  });

  it('reads versions libpcap rejects (1.4, 2.5) with the 2.4 layout and a warning', async () => {
    for (const [versionMajor, versionMinor] of [
      [1, 4],
      [2, 5],
    ] as const) {
      const { frames, summary } = await collect(buildPcap({ versionMajor, versionMinor, packets }));
      expect(frames).toHaveLength(3);
      expect(frames[1]!.originalLength).toBe(1514);
      expect(summary.warnings.join('\n')).toMatch(new RegExp(`version ${versionMajor}\\.${versionMinor}`));
    }
  });
});

describe('classic pcap: link-type field', () => {
  it('masks the FCS bits (LT_FCS_LENGTH_PRESENT, LT_FCS_LENGTH in 16-bit words) off the link type', async () => {
    const field = (2 << 28) | 0x04000000 | 1; // 2 words = 4 bytes of FCS, Ethernet
    const { frames, summary } = await collect(buildPcap({ linkTypeField: field >>> 0, packets }));
    expect(frames.every((f) => f.linkType === 1)).toBe(true);
    expect(summary.interfaces[0]).toMatchObject({ linkType: 1, linkTypeField: field >>> 0, fcsLength: 4 });
  });

  it('ignores FCS length bits without the "present" bit', async () => {
    const { summary, frames } = await collect(buildPcap({ linkTypeField: 0x30000001, packets }));
    expect(frames[0]!.linkType).toBe(1);
    expect(summary.interfaces[0]!.fcsLength).toBe(-1);
    expect(summary.warnings).toEqual([]);
  });

  it('warns about reserved bits and still uses the low 16 bits', async () => {
    const { summary, frames } = await collect(buildPcap({ linkTypeField: 0x00300000 | 113, packets }));
    expect(frames[0]!.linkType).toBe(113);
    expect(summary.warnings.join('\n')).toMatch(/reserved bits/);
  });

  it('reports the link type on every frame', async () => {
    const { frames } = await collect(buildPcap({ linkType: 228, packets }));
    expect(frames.map((f) => f.linkType)).toEqual([228, 228, 228]);
  });
});

describe('classic pcap: lengths', () => {
  it('delivers caplen < len frames with both lengths', async () => {
    const { frames } = await collect(
      buildPcap({ snapLength: 64, packets: [{ tsUs: TS, data: pattern(64), originalLength: 9000 }] }),
    );
    expect(frames[0]).toMatchObject({ capturedLength: 64, originalLength: 9000 });
  });

  it('delivers zero-length packets', async () => {
    const { frames, summary } = await collect(
      buildPcap({
        packets: [
          { tsUs: TS, data: new Uint8Array(0) },
          { tsUs: TS, data: new Uint8Array(0), originalLength: 60 },
          { tsUs: TS, data: pattern(5) },
        ],
      }),
    );
    expect(summary.damage).toBeUndefined();
    expect(frames.map((f) => [f.capturedLength, f.originalLength, f.data.length])).toEqual([
      [0, 0, 0],
      [0, 60, 0],
      [5, 5, 5],
    ]);
  });

  it('treats snaplen 0 as "the largest" (pcap_adjust_snapshot)', async () => {
    const big = pattern(65_535 + 100);
    const { frames, summary } = await collect(
      buildPcap({ snapLength: 0, packets: [{ tsUs: TS, data: big }] }),
    );
    expect(frames[0]!.capturedLength).toBe(big.length);
    expect(summary.interfaces[0]!.snapLength).toBe(0);
    expect(summary.warnings).toEqual([]);
  });

  it('cuts a caplen above the snaplen (but below the maximum) to the snaplen, skips the rest, warns', async () => {
    const { frames, summary } = await collect(
      buildPcap({
        snapLength: 50,
        packets: [
          { tsUs: TS, data: pattern(80, 9) },
          { tsUs: TS + 1, data: pattern(30, 4) },
        ],
      }),
    );
    expect(frames.map((f) => [f.capturedLength, f.originalLength])).toEqual([
      [50, 80],
      [30, 30],
    ]);
    expect(frames[0]!.data).toEqual(Array.from(pattern(80, 9).subarray(0, 50)));
    expect(frames[1]!.data).toEqual(Array.from(pattern(30, 4)));
    expect(summary.warnings.join('\n')).toMatch(/exceeds the snapshot length 50/);
  });

  it('reports a caplen above the maximum as damage at the record, after the earlier frames', async () => {
    const file = buildPcap({
      packets: [
        { tsUs: TS, data: pattern(20) },
        { tsUs: TS, data: pattern(20), capturedLengthField: 0x54000000 },
      ],
    });
    const { frames, summary } = await collect(file);
    expect(frames).toHaveLength(1);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    expect(summary.damage!.byteOffset).toBe(24 + 16 + 20);
    expect(summary.damage!.blockType).toBe('record header');
    expect(summary.damage!.message).toMatch(/implausible captured length 1409286144/);
    expect(summary.bytesRead).toBe(file.length);
  });

  it('honours a larger maxSnapLength option and a smaller one', async () => {
    const file = buildPcap({ snapLength: 0, packets: [{ tsUs: TS, data: pattern(300_000) }] });
    expect((await collect(file)).summary.damage).toBeInstanceOf(PcapFormatError);
    expect((await collect(file, { maxSnapLength: 400_000 })).frames[0]!.capturedLength).toBe(300_000);
    const small = await collect(buildPcap({ packets }), { maxSnapLength: 64 });
    expect(small.frames).toHaveLength(1);
    expect(small.summary.damage?.message).toMatch(/limit 64/);
  });

  it('carries a sub-second field of a second or more into the seconds, with a warning', async () => {
    const { frames, summary } = await collect(
      buildPcap({ packets: [{ tsSec: 10, tsNanos: 0, data: pattern(4) }] }).map((byte, i) =>
        // ts_usec of the first record (bytes 28..31, LE) = 2_500_000
        i >= 28 && i < 32 ? [0xa0, 0x25, 0x26, 0x00][i - 28]! : byte,
      ),
    );
    expect(frames[0]).toMatchObject({ tsSec: 12, tsNanos: 500_000_000 });
    expect(summary.warnings.join('\n')).toMatch(/carried into seconds/);
  });
});

describe('classic pcap: truncation', () => {
  const file = buildPcap({ packets });

  it('reports a truncated final record header with its byte offset', async () => {
    const lastRecord = 24 + 16 + 60 + 16 + 100;
    const cut = file.subarray(0, lastRecord + 10);
    const { frames, summary } = await collect(cut);
    expect(frames).toHaveLength(2);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    expect(summary.damage).toMatchObject({ byteOffset: lastRecord, blockType: 'record header' });
    expect(summary.damage!.message).toMatch(/truncated record header: 10 of 16 bytes/);
  });

  it('reports truncated final packet data with its byte offset', async () => {
    const lastRecord = 24 + 16 + 60 + 16 + 100;
    const { frames, summary } = await collect(file.subarray(0, file.length - 1));
    expect(frames).toHaveLength(2);
    expect(summary.damage).toMatchObject({ byteOffset: lastRecord, blockType: 'packet record' });
    expect(summary.damage!.message).toMatch(/truncated packet data: record needs 58 bytes, only 57 present/);
    expect(summary.bytesRead).toBe(file.length - 1);
  });

  it('reports a truncated file header as damage with no frames', async () => {
    const { frames, summary } = await collect(file.subarray(0, 10));
    expect(frames).toEqual([]);
    expect(summary.damage).toMatchObject({ byteOffset: 0, blockType: 'file header' });
  });

  it('reads a header-only file as a clean, empty capture', async () => {
    const { frames, summary } = await collect(buildPcap({ packets: [] }));
    expect(frames).toEqual([]);
    expect(summary).toMatchObject({ packets: 0, damage: undefined, bytesRead: 24 });
    expect(summary.interfaces).toHaveLength(1);
  });
});
