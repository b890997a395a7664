import { describe, expect, it } from 'vitest';
import { NotACaptureError, PcapFormatError } from '../../../../functions/platform/errors.js';
import { buildPcapng, type PcapngBlockSpec } from '../../../support/capture-files.js';
import { collect, pattern } from './read-helpers.js';

const TS = 1_700_000_000_123_456;

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

describe('pcapng: sections and byte orders', () => {
  for (const byteOrder of ['le', 'be'] as const) {
    it(`reads a ${byteOrder} section with EPBs`, async () => {
      const { summary, frames } = await collect(
        buildPcapng({
          byteOrder,
          packets: [
            { tsUs: TS, data: pattern(60) },
            { tsUs: TS + 1, data: pattern(33), originalLength: 1514 },
          ],
        }),
      );
      expect(summary).toMatchObject({ format: 'pcapng', byteOrder, packets: 2, damage: undefined });
      expect(frames.map((f) => [f.index, f.tsSec, f.tsNanos, f.capturedLength, f.originalLength])).toEqual([
        [1, 1_700_000_000, 123_456_000, 60, 60],
        [2, 1_700_000_000, 123_457_000, 33, 1514],
      ]);
      expect(frames[1]!.data).toEqual(Array.from(pattern(33)));
    });
  }

  it('reads several sections of different byte orders; interface ids restart per section', async () => {
    const blocks: PcapngBlockSpec[] = [
      { type: 'shb', byteOrder: 'le' },
      { type: 'idb', linkType: 1 },
      { type: 'idb', linkType: 101 },
      { type: 'epb', interfaceId: 1, tsUs: TS, data: pattern(20, 1) },
      { type: 'shb', byteOrder: 'be' },
      { type: 'idb', linkType: 113, tsresol: 9 },
      { type: 'epb', interfaceId: 0, tsSec: 5, tsNanos: 7, data: pattern(24, 2) },
      { type: 'shb', byteOrder: 'le', versionMinor: 2 },
      { type: 'idb', linkType: 0 },
      { type: 'epb', interfaceId: 0, tsUs: TS, data: pattern(8, 3) },
    ];
    const { summary, frames } = await collect(buildPcapng({ blocks }));
    expect(summary.byteOrder).toBe('mixed');
    expect(summary.version).toBe('sections=3');
    expect(summary.damage).toBeUndefined();
    expect(frames.map((f) => [f.index, f.interfaceId, f.linkType])).toEqual([
      [1, 1, 101],
      [2, 0, 113],
      [3, 0, 0],
    ]);
    expect(frames[1]).toMatchObject({ tsSec: 5, tsNanos: 7 });
    expect(frames[2]!.data).toEqual(Array.from(pattern(8, 3)));
    expect(summary.interfaces.map((i) => [i.section, i.interfaceId, i.linkType])).toEqual([
      [0, 0, 1],
      [0, 1, 101],
      [1, 0, 113],
      [2, 0, 0],
    ]);
    expect(summary.warnings).toEqual([]);
  });

  it('warns about unknown section versions but reads them', async () => {
    const { summary, frames } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb', versionMajor: 0, versionMinor: 1 },
          { type: 'idb', linkType: 1 },
          { type: 'epb', tsUs: TS, data: pattern(4) },
        ],
      }),
    );
    expect(frames).toHaveLength(1);
    expect(summary.warnings.join('\n')).toMatch(/version 0\.1/);
  });

  it('throws NotACaptureError when the first SHB has no valid byte-order magic', async () => {
    const file = buildPcapng({ packets: [{ tsUs: TS, data: pattern(4) }] });
    file.set([1, 2, 3, 4], 8);
    await expect(collect(file)).rejects.toBeInstanceOf(NotACaptureError);
  });

  it('reports a later SHB with a bad byte-order magic as damage', async () => {
    const first = buildPcapng({ packets: [{ tsUs: TS, data: pattern(4) }] });
    const second = buildPcapng({ packets: [{ tsUs: TS, data: pattern(4) }] });
    second.set([1, 2, 3, 4], 8);
    const file = new Uint8Array([...first, ...second]);
    const { frames, summary } = await collect(file);
    expect(frames).toHaveLength(1);
    expect(summary.damage).toMatchObject({ byteOffset: first.length, blockType: 'SHB' });
  });
});

describe('pcapng: interface description options', () => {
  const cases: [string, number, bigint, number, number][] = [
    // [name, if_tsresol byte, raw timestamp, expected seconds, expected nanoseconds]
    ['microseconds (default 10^-6)', 6, 1_700_000_000_123_456n, 1_700_000_000, 123_456_000],
    ['milliseconds (10^-3)', 3, 1_700_000_000_123n, 1_700_000_000, 123_000_000],
    ['nanoseconds (10^-9)', 9, 1_700_000_000_987_654_321n, 1_700_000_000, 987_654_321],
    ['seconds (10^0)', 0, 1_700_000_000n, 1_700_000_000, 0],
    ['picoseconds (10^-12), rounded down', 12, 1_000_000_123_456_789_999n, 1_000_000, 123_456_789],
    ['2^-10', 0x8a, 1_700_000_000n * 1024n + 512n, 1_700_000_000, 500_000_000],
    ['2^-20, rounded down', 0x94, 1_700_000_000n * 1048576n + 1n, 1_700_000_000, 953],
    ['2^-32 (bigint path)', 0xa0, 1_700_000_000n * 4294967296n + 2147483648n, 1_700_000_000, 500_000_000],
    ['2^-60 (bigint path)', 0xbc, 3n * 2n ** 60n + 2n ** 59n, 3, 500_000_000],
  ];
  for (const [name, tsresol, timestamp, tsSec, tsNanos] of cases) {
    it(`converts if_tsresol ${name} exactly`, async () => {
      const { frames, summary } = await collect(
        buildPcapng({
          blocks: [
            { type: 'shb' },
            { type: 'idb', linkType: 1, tsresol },
            { type: 'epb', timestamp, data: pattern(4) },
          ],
        }),
      );
      expect(frames[0]).toMatchObject({ tsSec, tsNanos });
      expect(summary.interfaces[0]!.tsResolution).toBe(
        tsresol & 0x80 ? `2^-${tsresol & 0x7f}` : `1e-${tsresol}`,
      );
    });
  }

  it('converts µs timestamps at and above 2^53 exactly (bigint fallback)', async () => {
    const timestamp = 2n ** 53n + 123_457n; // 9007199254.863449 s
    const { frames } = await collect(
      buildPcapng({
        blocks: [{ type: 'shb' }, { type: 'idb', linkType: 1 }, { type: 'epb', timestamp, data: pattern(4) }],
      }),
    );
    expect(frames[0]).toMatchObject({ tsSec: 9_007_199_254, tsNanos: 864_449_000 });
  });

  it('adds if_tsoffset (positive and negative seconds)', async () => {
    const { frames, summary } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          { type: 'idb', linkType: 1, tsoffset: 1_000_000_000 },
          { type: 'idb', linkType: 1, tsoffset: -5n, tsresol: 9 },
          { type: 'epb', interfaceId: 0, timestamp: 700_000_000_250_000n, data: pattern(4) },
          { type: 'epb', interfaceId: 1, timestamp: 10_000_000_001n, data: pattern(4) },
        ],
      }),
    );
    expect(frames.map((f) => [f.tsSec, f.tsNanos])).toEqual([
      [1_700_000_000, 250_000_000],
      [5, 1],
    ]);
    expect(summary.interfaces.map((i) => i.tsOffsetSec)).toEqual([1_000_000_000, -5]);
  });

  it('surfaces if_name, if_description, if_fcslen and snaplen', async () => {
    const { summary } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          {
            type: 'idb',
            linkType: 127,
            snapLength: 256,
            name: 'wlan0',
            options: [
              { code: 3, value: 'radio' },
              { code: 13, value: Uint8Array.of(4) },
            ],
          },
        ],
      }),
    );
    expect(summary.interfaces[0]).toMatchObject({
      linkType: 127,
      snapLength: 256,
      name: 'wlan0',
      description: 'radio',
      fcsLength: 4,
    });
  });

  it('reports an IDB option longer than its block as damage', async () => {
    const file = buildPcapng({
      blocks: [
        { type: 'shb' },
        { type: 'idb', linkType: 1, name: 'eth0' },
        { type: 'epb', tsUs: TS, data: pattern(4) },
      ],
    });
    // The SHB is 28 bytes; the IDB's first option (if_name, length 4) length field is at 28 + 16 + 2.
    file.set([200, 0], 28 + 18);
    const { frames, summary } = await collect(file);
    expect(frames).toEqual([]);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    expect(summary.damage!.blockType).toBe('IDB');
    expect(summary.damage!.message).toMatch(/option 2 has length 200/);
  });
});

describe('pcapng: packet blocks', () => {
  it('reads EPBs of several interfaces with different link types', async () => {
    const { frames } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          { type: 'idb', linkType: 1 },
          { type: 'idb', linkType: 12 },
          { type: 'idb', linkType: 276 },
          { type: 'epb', interfaceId: 2, tsUs: TS, data: pattern(30) },
          { type: 'epb', interfaceId: 0, tsUs: TS, data: pattern(31) },
          {
            type: 'epb',
            interfaceId: 1,
            tsUs: TS,
            data: pattern(32),
            options: [{ code: 2, value: Uint8Array.of(0, 0, 0, 1) }],
          },
        ],
      }),
    );
    expect(frames.map((f) => [f.interfaceId, f.linkType, f.capturedLength])).toEqual([
      [2, 276, 30],
      [0, 1, 31],
      [1, 12, 32],
    ]);
  });

  it('reads SPBs: interface 0, no timestamp, captured = min(original, snaplen, block room)', async () => {
    const { frames } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          { type: 'idb', linkType: 1, snapLength: 64 },
          { type: 'spb', data: pattern(50) },
          { type: 'spb', data: pattern(64), originalLength: 1500 },
          { type: 'spb', data: pattern(3), originalLength: 3 },
        ],
      }),
    );
    expect(frames.map((f) => [f.capturedLength, f.originalLength, f.tsSec, f.tsNanos, f.linkType])).toEqual([
      [50, 50, 0, 0, 1],
      [64, 1500, 0, 0, 1],
      [3, 3, 0, 0, 1],
    ]);
    expect(frames[2]!.data).toEqual(Array.from(pattern(3)));
  });

  it('reads the obsolete Packet Block', async () => {
    const { frames } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          { type: 'idb', linkType: 1 },
          { type: 'idb', linkType: 105 },
          { type: 'pb', interfaceId: 1, dropsCount: 3, tsUs: TS, data: pattern(21), originalLength: 99 },
        ],
      }),
    );
    expect(frames).toEqual([
      expect.objectContaining({
        interfaceId: 1,
        linkType: 105,
        capturedLength: 21,
        originalLength: 99,
        tsNanos: 123_456_000,
      }),
    ]);
  });

  it('delivers zero-length packets and caplen < len', async () => {
    const { frames } = await collect(
      buildPcapng({
        packets: [
          { tsUs: TS, data: new Uint8Array(0) },
          { tsUs: TS, data: pattern(10), originalLength: 60 },
        ],
      }),
    );
    expect(frames.map((f) => [f.capturedLength, f.originalLength])).toEqual([
      [0, 0],
      [10, 60],
    ]);
  });

  it('reports an EPB naming an interface without IDB as typed damage (IDB-less EPB)', async () => {
    const { frames, summary } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          { type: 'idb', linkType: 1 },
          { type: 'epb', interfaceId: 0, tsUs: TS, data: pattern(4) },
          { type: 'epb', interfaceId: 3, tsUs: TS, data: pattern(4) },
        ],
      }),
    );
    expect(frames).toHaveLength(1);
    expect(summary.damage).toBeInstanceOf(PcapFormatError);
    expect(summary.damage).toMatchObject({ byteOffset: 28 + 20 + 36, blockType: 'EPB' });
    expect(summary.damage!.message).toMatch(/interface 3/);
  });

  it('reports EPBs and SPBs in a section with no IDB at all as damage', async () => {
    for (const block of [
      { type: 'epb', tsUs: TS, data: pattern(4) },
      { type: 'spb', data: pattern(4) },
      { type: 'pb', tsUs: TS, data: pattern(4) },
    ] as PcapngBlockSpec[]) {
      const { frames, summary } = await collect(buildPcapng({ blocks: [{ type: 'shb' }, block] }));
      expect(frames).toEqual([]);
      expect(summary.damage?.byteOffset).toBe(28);
    }
  });

  it('reports a captured length larger than the block as damage', async () => {
    const file = buildPcapng({ packets: [{ tsUs: TS, data: pattern(8), capturedLengthField: 400 }] });
    const { summary } = await collect(file);
    expect(summary.damage).toMatchObject({ blockType: 'EPB', byteOffset: 48 });
    expect(summary.damage!.message).toMatch(/captured length 400 exceeds/);
  });
});

describe('pcapng: metadata and skipped blocks', () => {
  it('surfaces NRB IPv4 and IPv6 entries and skips unknown record types', async () => {
    const ipv6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const { summary } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb' },
          {
            type: 'nrb',
            records: [
              { kind: 'ipv4', address: [192, 0, 2, 1], names: ['host.example', 'alias.example'] },
              { kind: 'raw', recordType: 3, body: Uint8Array.of(1, 2, 3, 4, 5, 6) },
              { kind: 'ipv6', address: ipv6, names: ['v6.example'] },
            ],
            options: [{ code: 2, value: 'dns-server' }],
          },
        ],
      }),
    );
    expect(summary.nameResolution).toEqual([
      { type: 'ipv4', address: '192.0.2.1', names: ['host.example', 'alias.example'] },
      { type: 'ipv6', address: '2001:db8::1', names: ['v6.example'] },
    ]);
  });

  it('keeps at most maxNameResolutionEntries and says so', async () => {
    const records = Array.from({ length: 5 }, (_, i) => ({
      kind: 'ipv4' as const,
      address: [10, 0, 0, i],
      names: [`h${i}`],
    }));
    const { summary } = await collect(buildPcapng({ blocks: [{ type: 'shb' }, { type: 'nrb', records }] }), {
      maxNameResolutionEntries: 2,
    });
    expect(summary.nameResolution).toHaveLength(2);
    expect(summary.warnings.join('\n')).toMatch(/3 more name-resolution entries/);
  });

  it('skips ISB, DSB, custom blocks and unknown block types by their length', async () => {
    const { frames, summary } = await collect(
      buildPcapng({
        blocks: [
          { type: 'shb', options: [{ code: 4, value: 'writer' }] },
          { type: 'idb', linkType: 1 },
          { type: 'dsb', secretsType: 0x544c534b, data: pattern(13) },
          { type: 'epb', tsUs: TS, data: pattern(10, 1) },
          { type: 'isb', interfaceId: 0, timestamp: 5n, options: [{ code: 4, value: new Uint8Array(8) }] },
          { type: 'custom', pen: 32473, data: pattern(7) },
          { type: 'custom', copyable: false, pen: 32473, data: pattern(8) },
          { type: 'raw', blockType: 0x80000123, body: pattern(9) },
          { type: 'raw', blockType: 0x0000000b, body: new Uint8Array(0) },
          { type: 'epb', tsUs: TS, data: pattern(11, 2) },
        ],
      }),
    );
    expect(summary.damage).toBeUndefined();
    expect(frames.map((f) => f.data)).toEqual([Array.from(pattern(10, 1)), Array.from(pattern(11, 2))]);
  });
});

describe('pcapng: block framing damage', () => {
  const good = buildPcapng({
    packets: [
      { tsUs: TS, data: pattern(8) },
      { tsUs: TS, data: pattern(8) },
    ],
  });
  const secondEpb = 28 + 20 + 40;

  it('reports a block length that is not a multiple of 4', async () => {
    const file = good.slice();
    file.set(le32(41), secondEpb + 4);
    const { frames, summary } = await collect(file);
    expect(frames).toHaveLength(1);
    expect(summary.damage).toMatchObject({ byteOffset: secondEpb, blockType: 'EPB' });
    expect(summary.damage!.message).toMatch(/invalid block total length 41/);
  });

  it('reports a trailing length that differs from the leading one', async () => {
    const file = good.slice();
    file.set(le32(44), file.length - 4);
    const { summary } = await collect(file);
    expect(summary.damage!.message).toMatch(/trailing block total length 44 does not match the leading 40/);
    expect(summary.damage!.byteOffset).toBe(secondEpb);
  });

  it('reports a block larger than maxBlockBytes without buffering it', async () => {
    const file = good.slice();
    file.set(le32(0x7ffffff0), secondEpb + 4);
    const { summary } = await collect(file, { maxBlockBytes: 1 << 20 });
    expect(summary.damage!.message).toMatch(/exceeds the limit maxBlockBytes=1048576/);
  });

  it('reports a truncated final block with its offset and type', async () => {
    const { frames, summary } = await collect(good.subarray(0, good.length - 3));
    expect(frames).toHaveLength(1);
    expect(summary.damage).toMatchObject({ byteOffset: secondEpb, blockType: 'EPB' });
    expect(summary.damage!.message).toMatch(/truncated block: 37 of 40 bytes/);
  });

  it('reports a truncated final block header', async () => {
    const { summary } = await collect(good.subarray(0, secondEpb + 5));
    expect(summary.damage).toMatchObject({ byteOffset: secondEpb, blockType: 'block header' });
  });

  it('reports an SHB whose options overrun its length (trailing length mismatch)', async () => {
    const file = buildPcapng({ blocks: [{ type: 'shb', options: [{ code: 4, value: 'abcdefgh' }] }] });
    file.set(le32(28), 4); // leading length says 28; the trailer (at 28 - 4) is then option bytes
    const { summary } = await collect(file);
    expect(summary.damage).toMatchObject({ byteOffset: 0, blockType: 'SHB' });
  });
});
