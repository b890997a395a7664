import { isAscii } from 'node:buffer';
import { FLOW_CONTEXT_COLUMNS } from '../flows/flow-context.js';
import {
  badField,
  csvFields,
  fieldCountError,
  flowColumnKind,
  isExpiryReason,
} from './flow-record-schema.js';
import type { FlowRowLayout } from './scoring.js';

/**
 * Reading features parts (feature-parts.ts) into model rows for score-flows: the part's bytes are split into
 * lines, each line kept as a string (it is the prediction's stored input) and read straight into a row of the
 * scorer's `Float32Array`, checking every field as `flowRecordFromCsv` does, without a per-flow object.
 *
 * Lines are read from the bytes: parts are ASCII (the flow CSV and the context columns are ours), so a line is
 * a one-byte string cut from its block (no UTF-8 decoding of ~40 MB per capture), and numbers are read digit
 * by digit from the bytes. A block holding any other byte takes the string path (UTF-8 decoding, then the
 * same checks on the string), so any object put under features/ reads as it did.
 */

const NEWLINE = 0x0a;
const CR = 0x0d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const MINUS = 0x2d;
const DOT = 0x2e;
const CHAR_0 = 0x30;

/** functions/inference FLOAT32_MAX: the model input policy clamps to it (pipeline does not import inference). */
const FLOAT32_MAX = 3.4028234663852886e38;

const KIND_NUMBER = 0;
const KIND_TEXT = 1;
const KIND_EXPIRY = 2;

/** 10^0 … 10^22: every one exactly representable as a double (Clinger's fast path, below). */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k);

/** `fillRows`' numeric policy for a number: in range as is, non-finite → 0, beyond float32 → clamped. */
function modelValue(value: number): number {
  if (value <= FLOAT32_MAX && value >= -FLOAT32_MAX) return value;
  return Number.isFinite(value) ? (value > 0 ? FLOAT32_MAX : -FLOAT32_MAX) : 0;
}

/**
 * The integer spelled by `text[start, end)` when it is only digits (optionally after '-') and short enough to be
 * exact; NaN otherwise (the caller then reads it with `Number`, so every spelling means what it meant before).
 */
function integerIn(text: string, start: number, end: number): number {
  let i = start;
  const negative = text.charCodeAt(i) === MINUS;
  if (negative) i++;
  if (i >= end || end - i > 15) return Number.NaN;
  let value = 0;
  for (; i < end; i++) {
    const digit = text.charCodeAt(i) - CHAR_0;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/**
 * The value of a plain decimal scanned digit by digit (`mantissa` = its digits as an integer, `fraction` = digits
 * before the dot, -1 without one), or NaN when it is not one this can read exactly (no digits, more than 15):
 * the digits make an integer below 2^53 and 10^(fraction digits) is exact, so one division gives the correctly
 * rounded value, which is what `Number` gives (Clinger's fast path). Shared by `numberAt` and the one-pass
 * field scan of `FeatureRowReader.addBytes`.
 */
function plainDecimal(mantissa: number, digits: number, fraction: number, negative: boolean): number {
  if (digits === 0 || digits > 15) return Number.NaN;
  const value =
    fraction < 0 || fraction === digits ? mantissa : mantissa / (POW10[digits - fraction] as number);
  return negative ? -value : value;
}

/**
 * The number spelled by `bytes[start, end)`, exactly as `Number(text)` reads it. Plain decimals (`-?digits`,
 * `-?digits.digits`, at most 15 digits: every integer and most shares the meter and the context write) are read
 * here: the digits make an integer below 2^53 and 10^fraction digits is exact, so one division gives the
 * correctly rounded value, which is what `Number` gives (Clinger's fast path). Anything else (exponents, 16–17
 * significant digits, signs, spaces, an empty field) goes through `Number` on its text.
 */
export function numberAt(bytes: Buffer, start: number, end: number): number {
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < end; i++) {
    const c = bytes[i] as number;
    const digit = c - CHAR_0;
    if (digit >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      digits++;
    } else if (c === DOT && fraction < 0) {
      fraction = digits;
    } else {
      break;
    }
  }
  const value = i === end ? plainDecimal(mantissa, digits, fraction, negative) : Number.NaN;
  if (!Number.isNaN(value)) return value;
  return start === end ? Number.NaN : Number(bytes.toString('latin1', start, end));
}

/**
 * Model rows of one batch, read from features lines. The context columns come with each line (parse-capture
 * computed them over the whole capture).
 */
export class FeatureRowReader {
  readonly rows: Float32Array;
  count = 0;
  readonly #columns: readonly string[];
  readonly #width: number;
  readonly #kinds: Uint8Array;
  /** Model column of each CSV column, -1 when the models do not read it. */
  readonly #slots: Int32Array;

  private constructor(columns: readonly string[], layout: FlowRowLayout, capacity: number) {
    this.#columns = columns;
    this.#width = layout.features.length;
    this.rows = new Float32Array(capacity * this.#width);
    // Optional features the header lacks keep the absent value in every row (their slots are never written).
    this.rows.fill(layout.absentValue);
    this.#kinds = Uint8Array.from(columns, (c) => {
      const kind = flowColumnKind(c);
      return kind === 'number' ? KIND_NUMBER : kind === 'text' ? KIND_TEXT : KIND_EXPIRY;
    });
    this.#slots = Int32Array.from(columns, (c) => layout.features.indexOf(c));
  }

  /**
   * A reader when the plain path would give the same rows: every required feature (the context columns
   * included) present and numeric. Otherwise undefined (records are built, and errors named, as before).
   */
  static for(
    columns: readonly string[],
    layout: FlowRowLayout,
    capacity: number,
  ): FeatureRowReader | undefined {
    for (const name of FLOW_CONTEXT_COLUMNS) if (!columns.includes(name)) return undefined;
    for (const name of layout.features) {
      if (!columns.includes(name) && layout.required.has(name)) return undefined;
      if (columns.includes(name) && flowColumnKind(name) !== 'number') return undefined;
    }
    return new FeatureRowReader(columns, layout, capacity);
  }

  /**
   * Adds the line `bytes[start, end)` (ASCII, no line break; `line` is its text) as the next row, reading its
   * fields from the bytes.
   */
  addBytes(bytes: Buffer, start: number, end: number, line: string, lineNumber: number): void {
    const columns = this.#columns;
    const rows = this.rows;
    const base = this.count * this.#width;
    const kinds = this.#kinds;
    const slots = this.#slots;
    const last = columns.length - 1;
    let at = start;
    for (let i = 0; i <= last; i++) {
      const kind = kinds[i];
      // "0" alone: ~70% of the fields of a flow line (flags, bulk and window counters are mostly zero).
      if (
        kind === KIND_NUMBER &&
        bytes[at] === CHAR_0 &&
        (i === last ? at + 1 === end : at + 1 < end && bytes[at + 1] === COMMA)
      ) {
        const slot = slots[i] as number;
        if (slot >= 0) rows[base + slot] = 0;
        at += 2;
        continue;
      }
      // One pass over the field: find its end (the next comma) and read its digits on the way (numberAt's
      // plain decimals; anything else is read with `Number` once its end is known).
      let stop = at;
      let negative = false;
      if (bytes[stop] === MINUS) {
        negative = true;
        stop++;
      }
      let mantissa = 0;
      let digits = 0;
      let fraction = -1;
      let plain = true;
      for (; stop < end; stop++) {
        const c = bytes[stop] as number;
        const digit = c - CHAR_0;
        if (digit >= 0 && digit <= 9) {
          mantissa = mantissa * 10 + digit;
          digits++;
        } else if (c === COMMA) {
          break;
        } else if (c === DOT && fraction < 0) {
          fraction = digits;
        } else if (c === QUOTE) {
          // Quoted text fields (a comma inside) take the general reader, which rewrites the whole row; features
          // lines have none in practice.
          this.add(line, lineNumber);
          return;
        } else {
          plain = false;
        }
      }
      if (i === last ? stop < end : stop >= end) {
        throw fieldCountError(columns.length, csvFields(line).length, lineNumber);
      }
      if (kind === KIND_NUMBER) {
        let value = plain ? plainDecimal(mantissa, digits, fraction, negative) : Number.NaN;
        if (Number.isNaN(value))
          value = stop === at ? Number.NaN : Number(bytes.toString('latin1', at, stop));
        if (!Number.isFinite(value)) throw badField(columns[i] as string, lineNumber);
        const slot = slots[i] as number;
        if (slot >= 0) rows[base + slot] = modelValue(value);
      } else if (kind === KIND_EXPIRY && !isExpiryReason(bytes.toString('latin1', at, stop))) {
        throw badField(columns[i] as string, lineNumber);
      }
      at = stop + 1;
    }
    this.count++;
  }

  /** Adds one line (a string: the path for blocks that are not ASCII, and for quoted fields) as the next row. */
  add(line: string, lineNumber: number): void {
    if (line.includes('"')) {
      this.#addFields(csvFields(line), lineNumber);
      return;
    }
    const columns = this.#columns;
    const rows = this.rows;
    const base = this.count * this.#width;
    const kinds = this.#kinds;
    const slots = this.#slots;
    const last = columns.length - 1;
    let start = 0;
    for (let i = 0; i <= last; i++) {
      let end = line.indexOf(',', start);
      if (i === last) {
        if (end >= 0) throw fieldCountError(columns.length, csvFields(line).length, lineNumber);
        end = line.length;
      } else if (end < 0) {
        throw fieldCountError(columns.length, csvFields(line).length, lineNumber);
      }
      const kind = kinds[i];
      if (kind === KIND_NUMBER) {
        let value = integerIn(line, start, end);
        if (Number.isNaN(value)) value = start === end ? Number.NaN : Number(line.slice(start, end));
        if (!Number.isFinite(value)) throw badField(columns[i] as string, lineNumber);
        const slot = slots[i] as number;
        if (slot >= 0) rows[base + slot] = modelValue(value);
      } else if (kind === KIND_EXPIRY && !isExpiryReason(line.slice(start, end))) {
        throw badField(columns[i] as string, lineNumber);
      }
      start = end + 1;
    }
    this.count++;
  }

  #addFields(fields: readonly string[], lineNumber: number): void {
    const columns = this.#columns;
    if (fields.length !== columns.length) throw fieldCountError(columns.length, fields.length, lineNumber);
    const rows = this.rows;
    const base = this.count * this.#width;
    for (let i = 0; i < fields.length; i++) {
      const kind = this.#kinds[i];
      const text = fields[i] as string;
      if (kind === KIND_NUMBER) {
        const value = text === '' ? Number.NaN : Number(text);
        if (!Number.isFinite(value)) throw badField(columns[i] as string, lineNumber);
        const slot = this.#slots[i] as number;
        if (slot >= 0) rows[base + slot] = modelValue(value);
      } else if (kind === KIND_EXPIRY && !isExpiryReason(text)) {
        throw badField(columns[i] as string, lineNumber);
      }
    }
    this.count++;
  }
}

/** One block of whole lines of a features object: its bytes, and whether they are all ASCII. */
export interface LineBlock {
  bytes: Buffer;
  ascii: boolean;
}

/**
 * The object's bytes in blocks that end at a line break (the last one may not), one per input chunk that
 * completes a line: a line cut by a chunk boundary is carried into the next block. A UTF-8 byte-order mark at
 * the start is dropped (as the TextDecoder the lines were read with before did).
 */
export async function* lineBlocks(body: AsyncIterable<Uint8Array>): AsyncGenerator<LineBlock> {
  let rest: Buffer | undefined;
  let first = true;
  for await (const raw of body) {
    const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const end = chunk.lastIndexOf(NEWLINE);
    if (end < 0) {
      rest = rest ? Buffer.concat([rest, chunk]) : Buffer.from(chunk);
      continue;
    }
    let bytes = rest ? Buffer.concat([rest, chunk.subarray(0, end + 1)]) : chunk.subarray(0, end + 1);
    // The tail is copied: it is small, and the chunk it came from may be reused by its stream.
    rest = end + 1 < chunk.length ? Buffer.from(chunk.subarray(end + 1)) : undefined;
    if (first) {
      bytes = withoutBom(bytes);
      first = false;
    }
    yield { bytes, ascii: isAscii(bytes) };
  }
  if (rest && rest.length > 0) {
    const bytes = first ? withoutBom(rest) : rest;
    yield { bytes, ascii: isAscii(bytes) };
  }
}

function withoutBom(bytes: Buffer): Buffer {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

/**
 * The line starting at `at` in a block: `[start, end)` without its line break (nor a CR before it), and where
 * the next line starts. A block's lines are read with this in a plain loop, so its reader can await between
 * lines (a full batch is scored before the next line is read).
 */
export function lineAt(bytes: Buffer, at: number): { start: number; end: number; next: number } {
  let stop = bytes.indexOf(NEWLINE, at);
  if (stop < 0) stop = bytes.length;
  const end = stop > at && bytes[stop - 1] === CR ? stop - 1 : stop;
  return { start: at, end, next: stop + 1 };
}
