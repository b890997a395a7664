import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOW_CONTEXT_COLUMNS } from '../../../functions/flows/flow-context.js';
import { FeatureRowReader, lineAt, lineBlocks, numberAt } from '../../../functions/pipeline/feature-rows.js';
import type { FlowRowLayout } from '../../../functions/pipeline/scoring.js';

/**
 * score-flows reads features lines from their bytes (ASCII blocks) or from their text (anything else): both paths
 * must give the same rows and the same errors as `Number(text)` and the field checks always gave.
 */
const ascii = (text: string) => Buffer.from(text, 'latin1');

describe('numberAt', () => {
  const spellings = [
    '0',
    '-0',
    '7',
    '123456789012345',
    '1234567890123456',
    '12345678901234567',
    '0.1',
    '-0.1',
    '3.14159',
    '0.000001234',
    '1e-7',
    '1.5e+21',
    '2.5E3',
    '5.',
    '.5',
    '-.5',
    '.',
    '-',
    '--5',
    '+5',
    ' 5',
    '5 ',
    '1.2.3',
    '0x1A',
    '1_000',
    'Infinity',
    '-Infinity',
    'NaN',
    '',
    '00012',
    '123.456789012345678',
    '99999999999999.9',
    '9007199254740993',
  ];
  it.each(spellings)('reads %j as Number() does', (text) => {
    const bytes = ascii(`x,${text},y`);
    expect(Object.is(numberAt(bytes, 2, 2 + text.length), text === '' ? Number.NaN : Number(text))).toBe(
      true,
    );
  });

  it('reads every double as String() spells it, and decimals of up to 17 digits, as Number() does', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true }).map((value) => String(value)),
          fc
            .tuple(fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }), fc.integer({ min: 0, max: 17 }))
            .map(([digits, point]) => {
              const text = (digits < 0n ? -digits : digits).toString().padStart(point + 1, '0');
              const spelled = point === 0 ? text : `${text.slice(0, -point)}.${text.slice(-point)}`;
              return digits < 0n ? `-${spelled}` : spelled;
            }),
        ),
        (text) => {
          const bytes = ascii(text);
          expect(Object.is(numberAt(bytes, 0, bytes.length), Number(text))).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

const COLUMNS = ['Flow ID', 'Src Port', 'Flow Duration', 'Fwd Packet Length Mean', 'expiry_reason'];
const HEADER = [...COLUMNS, ...FLOW_CONTEXT_COLUMNS];
const LAYOUT: FlowRowLayout = {
  features: ['Flow Duration', 'Fwd Packet Length Mean', 'Src Port', ...FLOW_CONTEXT_COLUMNS, 'Absent'],
  required: new Set(['Flow Duration']),
  absentValue: -1,
  model: 'test',
};

/** Reads `lines` with the byte path and the string path; both rows (or both errors) must match. */
function readBoth(lines: string[]): { bytes: Float32Array | string; text: Float32Array | string } {
  const viaBytes = FeatureRowReader.for(HEADER, LAYOUT, lines.length) as FeatureRowReader;
  const viaText = FeatureRowReader.for(HEADER, LAYOUT, lines.length) as FeatureRowReader;
  const run = (read: () => void, reader: FeatureRowReader) => {
    try {
      read();
      return reader.rows.slice(0, reader.count * LAYOUT.features.length);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  };
  return {
    bytes: run(() => {
      lines.forEach((line, i) => {
        const block = ascii(line);
        viaBytes.addBytes(block, 0, block.length, line, i + 2);
      });
    }, viaBytes),
    text: run(() => {
      lines.forEach((line, i) => {
        viaText.add(line, i + 2);
      });
    }, viaText),
  };
}

const context = FLOW_CONTEXT_COLUMNS.map((_, i) => String(i % 3 === 0 ? i : i / 7)).join(',');

describe('FeatureRowReader', () => {
  it('reads lines from bytes into the same rows as from text, clamping beyond float32', () => {
    const lines = [
      `1.2.3.4-5.6.7.8-1-2-6,443,1500000,123.456,idle_timeout,${context}`,
      `a-b,0,0,0,end_of_capture,${context}`,
      `"x,y",53,1e-7,1e39,active_timeout,${context}`,
      `z,-1,-0,3.4028234663852886e38,fin,${context}`,
    ];
    const { bytes, text } = readBoth(lines);
    expect(bytes).toEqual(text);
    expect(typeof bytes).not.toBe('string');
    const rows = bytes as Float32Array;
    expect(rows[0]).toBe(1_500_000);
    expect(rows[2]).toBe(443);
    expect(rows[LAYOUT.features.length - 1]).toBe(-1); // an optional feature the header lacks
    expect(rows[2 * LAYOUT.features.length + 1]).toBeCloseTo(3.4028234663852886e38, -30); // clamped
  });

  it.each([
    ['too few fields', `a,1,2,3,idle_timeout`],
    ['too many fields', `a,1,2,3,idle_timeout,${context},9`],
    ['a bad number', `a,1,2x,3,idle_timeout,${context}`],
    ['an empty number', `a,1,,3,idle_timeout,${context}`],
    ['an unknown expiry reason', `a,1,2,3,sleepy,${context}`],
    ['Infinity', `a,1,Infinity,3,idle_timeout,${context}`],
  ])('names the same error for %s', (_, line) => {
    const { bytes, text } = readBoth([line]);
    expect(typeof bytes).toBe('string');
    expect(bytes).toBe(text);
  });

  it('reads random lines the same both ways', () => {
    const field = fc.oneof(
      fc.double({ noNaN: true }).map(String),
      fc.integer({ min: -1e6, max: 1e9 }).map(String),
      fc.constantFrom('', '1e5', '+3', ' 4', '0x10', '.5', '7.'),
    );
    fc.assert(
      fc.property(
        fc.array(field, { minLength: 3, maxLength: 3 }),
        fc.array(field, { minLength: 14, maxLength: 14 }),
        (head, rest) => {
          const line = ['id', ...head, 'idle_timeout', ...rest].join(',');
          const { bytes, text } = readBoth([line]);
          expect(bytes).toEqual(text);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('lineBlocks', () => {
  it('gives whole lines whatever the chunking, drops a leading BOM, and marks non-ASCII blocks', async () => {
    const text = '\ufeffh1,h2\r\nä,1\n\nlast,2';
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 5, 64]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      const lines: string[] = [];
      for await (const block of lineBlocks(Readable.from(chunks))) {
        for (let at = 0; at < block.bytes.length; ) {
          const { start, end, next } = lineAt(block.bytes, at);
          at = next;
          lines.push(block.bytes.toString(block.ascii ? 'latin1' : 'utf8', start, end));
        }
      }
      expect(lines).toEqual(['h1,h2', 'ä,1', '', 'last,2']);
    }
  });
});
