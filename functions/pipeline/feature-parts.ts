import { FLOW_CSV_COLUMNS } from '../flows/flow-columns.js';
import { FLOW_CONTEXT_COLUMNS, type FlowContextInput } from '../flows/flow-context.js';
import type { FlowContextSource } from './scoring.js';

/**
 * features/{id}/…: the model input of a capture, written by parse-capture in parts while it parses, so
 * score-flows (one invocation per part, from the part's S3 event) scores the first flows while the rest of
 * the capture is still being read. Each part is a CSV with a header: the flow CSV columns, then the capture
 * context columns (FLOW_CONTEXT_COLUMNS). The context is computed here, over the whole flow stream in
 * emission order (as `ccf analyze` does), because it depends on every earlier flow of the capture: a part
 * scored on its own could not rebuild it. A part holds a whole number of prediction pages, so pages never
 * span two parts and prediction ids stay `${captureId}:${flow index}`.
 */
export const FEATURE_PART_HEADER = `${[...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS].join(',')}\n`;

export interface FeaturePart {
  /** 1-based index of the part's first flow in the capture. */
  firstFlow: number;
  flows: number;
  /** The capture's last part (written once parsing is complete, possibly without flows). */
  last: boolean;
  /** Header + lines, UTF-8 (ASCII). */
  bytes: Uint8Array;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const ZERO = 0x30;
const MINUS = 0x2d;

/**
 * The integer written in `bytes[start, end)` (the flow columns the context reads are integers, written by the
 * meter as plain digits); anything else goes through `Number`, as the scorer would read it.
 */
function integerAt(bytes: Buffer, start: number, end: number): number {
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) i++;
  if (i >= end || end - i > 15) return Number(bytes.toString('latin1', start, end));
  let value = 0;
  for (; i < end; i++) {
    const digit = (bytes[i] as number) - ZERO;
    if (digit < 0 || digit > 9) return Number(bytes.toString('latin1', start, end));
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** Positions of the fields the context reads, in the flow CSV (all within the first dozen columns). */
const AT = {
  srcIp: FLOW_CSV_COLUMNS.indexOf('Src IP'),
  dstIp: FLOW_CSV_COLUMNS.indexOf('Dst IP'),
  dstPort: FLOW_CSV_COLUMNS.indexOf('Dst Port'),
  protocol: FLOW_CSV_COLUMNS.indexOf('Protocol'),
  timestamp: FLOW_CSV_COLUMNS.indexOf('Timestamp'),
  bwdPackets: FLOW_CSV_COLUMNS.indexOf('Total Bwd packets'),
  fwdBytes: FLOW_CSV_COLUMNS.indexOf('Total Length of Fwd Packet'),
  fwdPackets: FLOW_CSV_COLUMNS.indexOf('Total Fwd Packet'),
  duration: FLOW_CSV_COLUMNS.indexOf('Flow Duration'),
} as const;
const LAST_NEEDED = Math.max(...Object.values(AT));

/**
 * Turns the flow CSV bytes (whole rows, header first, as the flow meter hands them on) into feature parts of
 * `flowsPerPart` flows: each row copied as it is, plus its context columns.
 */
export class FeaturePartWriter {
  readonly #context: FlowContextSource;
  readonly #flowsPerPart: number;
  readonly #onPart: (part: FeaturePart) => void;
  #headerSkipped = false;
  #bytes: Uint8Array;
  #pos = 0;
  #flows = 0;
  #firstFlow = 1;
  readonly #starts = new Int32Array(LAST_NEEDED + 2);

  constructor(context: FlowContextSource, flowsPerPart: number, onPart: (part: FeaturePart) => void) {
    this.#context = context;
    this.#flowsPerPart = flowsPerPart;
    this.#onPart = onPart;
    this.#bytes = new Uint8Array(1024 * 1024);
    this.#begin();
  }

  /** Whole flow CSV rows (the first chunk starts with the flow CSV header, which is replaced). */
  write(bytes: Uint8Array): void {
    const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let start = 0;
    if (!this.#headerSkipped) {
      const end = chunk.indexOf(NEWLINE);
      if (end < 0) return;
      start = end + 1;
      this.#headerSkipped = true;
    }
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      const stop = end < 0 ? chunk.length : end;
      this.#row(chunk, start, stop);
      start = stop + 1;
    }
  }

  /** Emits the last part (with the flows left, possibly none: its event still completes the capture). */
  end(): void {
    this.#emit(true);
  }

  #begin(): void {
    this.#pos = 0;
    this.#flows = 0;
    this.#ascii(FEATURE_PART_HEADER);
  }

  #row(chunk: Buffer, start: number, stop: number): void {
    // Field starts up to the last one the context reads (flow CSV text is ours: ASCII, never quoted here).
    const starts = this.#starts;
    starts[0] = start;
    let field = 1;
    for (let i = start; i < stop && field <= LAST_NEEDED + 1; i++) {
      if (chunk[i] === COMMA) starts[field++] = i + 1;
    }
    // Plain method calls, not closures made per row (under tsx each closure is also wrapped by a naming helper).
    const input: FlowContextInput = {
      'Src IP': this.#text(chunk, AT.srcIp),
      'Dst IP': this.#text(chunk, AT.dstIp),
      'Dst Port': this.#integer(chunk, AT.dstPort),
      Protocol: this.#integer(chunk, AT.protocol),
      Timestamp: this.#text(chunk, AT.timestamp),
      'Total Bwd packets': this.#integer(chunk, AT.bwdPackets),
      'Total Length of Fwd Packet': this.#integer(chunk, AT.fwdBytes),
      'Total Fwd Packet': this.#integer(chunk, AT.fwdPackets),
      'Flow Duration': this.#integer(chunk, AT.duration),
    };
    const features = this.#context.next(input);
    // The row as it is, then its context values (counts and shares: ≤ 24 characters each).
    this.#reserve(stop - start + FLOW_CONTEXT_COLUMNS.length * 25 + 1);
    const bytes = this.#bytes;
    bytes.set(chunk.subarray(start, stop), this.#pos);
    this.#pos += stop - start;
    for (const column of FLOW_CONTEXT_COLUMNS) {
      bytes[this.#pos++] = COMMA;
      this.#number(features[column]);
    }
    bytes[this.#pos++] = NEWLINE;
    this.#flows++;
    if (this.#flows >= this.#flowsPerPart) this.#emit(false);
  }

  /** Field `f` of the row whose field starts are in #starts. */
  #text(chunk: Buffer, f: number): string {
    return chunk.toString('latin1', this.#starts[f] as number, (this.#starts[f + 1] as number) - 1);
  }

  #integer(chunk: Buffer, f: number): number {
    return integerAt(chunk, this.#starts[f] as number, (this.#starts[f + 1] as number) - 1);
  }

  /** A number as `String(value)` spells it; small non-negative integers (most counts) by a digit loop. */
  #number(value: number): void {
    const bytes = this.#bytes;
    if (Number.isInteger(value) && value >= 0 && value < 1e9) {
      if (value < 10) {
        bytes[this.#pos++] = ZERO + value;
        return;
      }
      let digits = 0;
      for (let v = value; v > 0; v = Math.floor(v / 10)) digits++;
      let v = value;
      for (let i = this.#pos + digits - 1; i >= this.#pos; i--) {
        bytes[i] = ZERO + (v % 10);
        v = Math.floor(v / 10);
      }
      this.#pos += digits;
      return;
    }
    this.#ascii(String(value));
  }

  #emit(last: boolean): void {
    this.#onPart({
      firstFlow: this.#firstFlow,
      flows: this.#flows,
      last,
      bytes: this.#bytes.slice(0, this.#pos),
    });
    this.#firstFlow += this.#flows;
    this.#begin();
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#pos + bytes));
    grown.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = grown;
  }

  #ascii(text: string): void {
    this.#reserve(text.length);
    const bytes = this.#bytes;
    let pos = this.#pos;
    for (let i = 0; i < text.length; i++) bytes[pos++] = text.charCodeAt(i);
    this.#pos = pos;
  }
}
