import { describe, expect, it } from 'vitest';
import { BinaryCursor, NeedMoreDataError, readU32 } from '../../../../functions/capture/binary-cursor.js';
import { PcapFormatError } from '../../../../functions/platform/errors.js';

const data = Uint8Array.of(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xfe, 0xfd, 0xfc);

describe('BinaryCursor', () => {
  it('reads with explicit byte order', () => {
    const little = new BinaryCursor(data, 0, 12, 12, 0, true, 'test');
    expect([little.u8(), little.u16(), little.u8(), little.u32(), little.i32()]).toEqual([
      0x01,
      0x0302,
      0x04,
      0x08070605,
      0xfcfdfeff | 0,
    ]);
    const big = new BinaryCursor(data, 0, 12, 12, 0, false, 'test');
    expect([big.u16(), big.u16(), big.u32()]).toEqual([0x0102, 0x0304, 0x05060708]);
    expect(big.i32()).toBe(-66052);
  });

  it('reads 64-bit values exactly as bigint, signed and unsigned', () => {
    const little = new BinaryCursor(data, 4, 12, 12, 0, true, 'test');
    expect(little.u64()).toBe(0xfcfdfeff08070605n);
    const signed = new BinaryCursor(data, 4, 12, 12, 0, true, 'test');
    expect(signed.i64()).toBe(0xfcfdfeff08070605n - 2n ** 64n);
    const big = new BinaryCursor(data, 0, 8, 8, 0, false, 'test');
    expect(big.u64()).toBe(0x0102030405060708n);
  });

  it('honours the start offset of a view and reports absolute file offsets', () => {
    const cursor = new BinaryCursor(data, 4, 8, 8, 1000, true, 'IDB');
    cursor.u16();
    expect(cursor.absolutePosition).toBe(1002);
    expect(cursor.remaining).toBe(2);
    const error = (() => {
      try {
        cursor.u32();
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(PcapFormatError);
    expect(error).toMatchObject({ byteOffset: 1002, blockType: 'IDB' });
  });

  it('distinguishes "need more data" (held bytes end) from "malformed" (structure ends)', () => {
    // The structure claims 12 bytes but only 6 are held.
    const cursor = new BinaryCursor(data, 0, 12, 6, 0, true, 'EPB');
    cursor.u32();
    expect(() => cursor.u32()).toThrow(NeedMoreDataError);
    try {
      cursor.u32();
    } catch (caught) {
      expect((caught as NeedMoreDataError).needed).toBe(8);
    }
    expect(cursor.position).toBe(4); // a failed read does not move
    const short = new BinaryCursor(data, 0, 6, 12, 0, true, 'EPB');
    short.u32();
    expect(() => short.u32()).toThrow(PcapFormatError);
  });

  it('returns zero-copy views and sub-cursors bounded to their length', () => {
    const cursor = new BinaryCursor(data, 0, 12, 12, 0, true, 'NRB');
    cursor.skip(2);
    const view = cursor.view(3);
    expect(Array.from(view)).toEqual([3, 4, 5]);
    expect(view.buffer).toBe(data.buffer);
    const sub = cursor.sub(4, 'record');
    expect(sub.u32()).toBe(0xff080706);
    expect(() => sub.u8()).toThrow(/record too short/);
    expect(cursor.position).toBe(9);
    expect(() => cursor.skip(4)).toThrow(PcapFormatError);
    expect(() => cursor.ensure(-1)).toThrow(PcapFormatError);
  });

  it('readU32 reads both byte orders', () => {
    expect(readU32(data, 8, true)).toBe(0xfcfdfeff);
    expect(readU32(data, 8, false)).toBe(0xfffefdfc);
  });
});
