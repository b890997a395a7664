import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../functions/capture/address-format.js';
import { CsvRowBuffer } from '../../../functions/flows/csv-row-buffer.js';

function written(write: (out: CsvRowBuffer) => void): string {
  const chunks: string[] = [];
  const out = new CsvRowBuffer((text) => chunks.push(text), 16);
  out.beginRow();
  write(out);
  out.endRow();
  out.flush();
  return chunks.join('');
}

describe('CsvRowBuffer', () => {
  it('spells every number exactly as String() does', () => {
    const values = [
      0,
      -0,
      1,
      9,
      10,
      99,
      100,
      12345,
      -1,
      -10,
      -12345,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      2 ** 53 - 1,
      1e21,
      0.5,
      0.1,
      -0.25,
      40816.32653061225,
      1e-7,
      123456789.123,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      65535,
      1_499_450_937_763_666,
    ];
    for (const value of values) {
      expect(written((out) => out.number(value))).toBe(`${String(value)}\n`);
    }
  });

  it('spells IPv4 addresses exactly as formatIpv4 does', () => {
    const addresses = [0, 0xffffffff, 0x0a000001, 0xc0a80164, 0x08080808, 0x7f000001, 0x01020304, 0x646e0a09];
    for (let i = 0; i < 1000; i++) addresses.push(Math.floor(Math.random() * 2 ** 32));
    for (const address of addresses) {
      expect(written((out) => out.ipv4(address))).toBe(`${formatIpv4(address)}\n`);
    }
  });

  it('writes text, commas and zero-padded integers, and hands on whole rows in chunks', () => {
    expect(
      written((out) => {
        out.text('10.0.0.1');
        out.comma();
        out.paddedInt(42, 6);
        out.comma();
        out.paddedInt(123456, 6);
        out.comma();
        out.paddedInt(0, 6);
      }),
    ).toBe('10.0.0.1,000042,123456,000000\n');

    const chunks: string[] = [];
    const out = new CsvRowBuffer((text) => chunks.push(text), 10);
    for (let i = 0; i < 5; i++) {
      out.beginRow();
      out.text('abcdef');
      out.endRow();
    }
    out.flush();
    expect(chunks).toEqual(['abcdef\nabcdef\n', 'abcdef\nabcdef\n', 'abcdef\n']);
  });
});

describe('CsvRowBuffer.toBytes', () => {
  it('hands on the same rows as bytes, each chunk a copy that later rows do not overwrite', () => {
    const chunks: Uint8Array[] = [];
    const bytesOut = CsvRowBuffer.toBytes((chunk) => chunks.push(chunk), 10);
    const texts: string[] = [];
    const textOut = new CsvRowBuffer((text) => texts.push(text), 10);
    for (const out of [bytesOut, textOut]) {
      for (let row = 0; row < 5; row++) {
        out.beginRow();
        out.number(row * 1234.5);
        out.textField('1:abc=');
        out.field(-row);
        out.endRow();
      }
      out.flush();
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((chunk) => Buffer.from(chunk).toString('utf8')).join('')).toBe(texts.join(''));
  });
});
