import { describe, expect, it } from 'vitest';
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
