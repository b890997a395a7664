/**
 * A byte buffer that flow-CSV lines are written into field by field, straight from the meter's state, without
 * building a string per value or per row (the cost that dominated `ccf flows` on captures with many short
 * flows). Numbers are spelled exactly as `String(n)` spells them (JavaScript's shortest round-trip form), with
 * a digit loop for 32-bit integers, the common case. Text must be ASCII (addresses, timestamps, community ids,
 * expiry reasons: all our own), so one character is one byte and the chunks decode as latin1 = UTF-8.
 */

/** Upper bound of one flow line: 95 numbers of at most 24 characters, two IPv6 addresses, Flow ID, ids. */
const MAX_ROW_BYTES = 8192;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const ZERO = 0x30;
const MINUS = 0x2d;
const DOT = 0x2e;

export class CsvRowBuffer {
  private bytes: Uint8Array;
  private view: Buffer;
  /** Bytes written so far (the current row included). */
  pos = 0;
  /** Set by `toBytes`: chunks are handed on as bytes, never decoded into a string. */
  private onBytes: ((chunk: Uint8Array) => void) | undefined;
  /** Set by `toBytes`: chunks are views of the buffer, used by the receiver before it returns. */
  private lendsChunks = false;

  /**
   * @param onChunk receives the text of whole rows once at least `chunkBytes` are gathered (and on `flush()`).
   * @param chunkBytes gather this many bytes before handing them on.
   */
  constructor(
    private readonly onChunk: (text: string) => void,
    private readonly chunkBytes = 256 * 1024,
  ) {
    this.bytes = new Uint8Array(chunkBytes + MAX_ROW_BYTES);
    this.view = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /**
   * A buffer that hands on whole rows as bytes (ASCII, so also UTF-8): for writing to a file or a pipe, where
   * decoding them into a string only for the stream to encode it back would cost two more passes and a large
   * string per chunk. Each chunk is a fresh copy the receiver may keep (streams hold it until written), or
   * with `lendChunks` a view of this buffer, valid only until `onBytes` returns (for a receiver that writes
   * it at once: no copy, and no garbage for the collector).
   */
  static toBytes(
    onBytes: (chunk: Uint8Array) => void,
    chunkBytes = 256 * 1024,
    lendChunks = false,
  ): CsvRowBuffer {
    const buffer = new CsvRowBuffer(() => {}, chunkBytes);
    buffer.onBytes = onBytes;
    buffer.lendsChunks = lendChunks;
    return buffer;
  }

  /** Makes room for one row; call before writing its fields. */
  beginRow(): void {
    if (this.pos + MAX_ROW_BYTES > this.bytes.length) {
      const grown = new Uint8Array(this.pos + MAX_ROW_BYTES * 2);
      grown.set(this.bytes.subarray(0, this.pos));
      this.bytes = grown;
      this.view = Buffer.from(grown.buffer, grown.byteOffset, grown.byteLength);
    }
  }

  /** Ends the row with a newline; hands the gathered rows on when the chunk is full. */
  endRow(): void {
    this.bytes[this.pos++] = NEWLINE;
    if (this.pos >= this.chunkBytes) this.flush();
  }

  /** Hands on every complete row gathered so far. */
  flush(): void {
    if (this.pos === 0) return;
    if (this.onBytes !== undefined) {
      const chunk = this.lendsChunks ? this.bytes.subarray(0, this.pos) : this.bytes.slice(0, this.pos);
      this.pos = 0;
      this.onBytes(chunk);
      return;
    }
    const text = this.view.toString('latin1', 0, this.pos);
    this.pos = 0;
    this.onChunk(text);
  }

  comma(): void {
    this.bytes[this.pos++] = COMMA;
  }

  /** Dotted-decimal IPv4 address (as `formatIpv4`) of a 32-bit value. */
  ipv4(address: number): void {
    this.octet(address >>> 24);
    this.bytes[this.pos++] = DOT;
    this.octet((address >>> 16) & 0xff);
    this.bytes[this.pos++] = DOT;
    this.octet((address >>> 8) & 0xff);
    this.bytes[this.pos++] = DOT;
    this.octet(address & 0xff);
  }

  private octet(value: number): void {
    const bytes = this.bytes;
    if (value >= 100) {
      const hundreds = (value / 100) | 0;
      const rest = value - hundreds * 100;
      const tens = (rest / 10) | 0;
      bytes[this.pos++] = ZERO + hundreds;
      bytes[this.pos++] = ZERO + tens;
      bytes[this.pos++] = ZERO + (rest - tens * 10);
    } else if (value >= 10) {
      const tens = (value / 10) | 0;
      bytes[this.pos++] = ZERO + tens;
      bytes[this.pos++] = ZERO + (value - tens * 10);
    } else {
      bytes[this.pos++] = ZERO + value;
    }
  }

  /** A comma, then `number(value)`. */
  field(value: number): void {
    if (value === 0) {
      const bytes = this.bytes;
      bytes[this.pos++] = COMMA;
      bytes[this.pos++] = ZERO;
      return;
    }
    this.bytes[this.pos++] = COMMA;
    this.number(value);
  }

  /**
   * `field(values[i])` for i in from .. from+count-1, in one loop with the write position in a local: the flow
   * row's numbers, most of them 0.
   */
  fields(values: ArrayLike<number>, from: number, count: number): void {
    const bytes = this.bytes;
    let pos = this.pos;
    const end = from + count;
    for (let i = from; i < end; i++) {
      const value = values[i]!;
      bytes[pos++] = COMMA;
      if (value === 0) {
        // 0 and -0 (String spells both "0").
        bytes[pos++] = ZERO;
      } else if ((value | 0) === value && value !== -2147483648) {
        pos = writeInt32(bytes, pos, value);
      } else {
        this.pos = pos;
        this.text(String(value));
        pos = this.pos;
      }
    }
    this.pos = pos;
  }

  /** A comma, then `text(value)`. */
  textField(value: string): void {
    this.bytes[this.pos++] = COMMA;
    this.text(value);
  }

  /** ASCII text (no quoting: callers only pass text without `"`, `,`, CR or LF). */
  text(value: string): void {
    const bytes = this.bytes;
    let pos = this.pos;
    for (let i = 0; i < value.length; i++) bytes[pos++] = value.charCodeAt(i);
    this.pos = pos;
  }

  /** A number, spelled as `String(value)`. */
  number(value: number): void {
    const bytes = this.bytes;
    if (value === 0) {
      // 0 and -0 (String spells both "0"): the most common value by far.
      bytes[this.pos++] = ZERO;
      return;
    }
    // Integers in (-2^31, 2^31): a digit loop; everything else (fractions, large or huge values): String.
    if ((value | 0) !== value || value === -2147483648) {
      this.text(String(value));
      return;
    }
    this.pos = writeInt32(bytes, this.pos, value);
  }

  /** `value` as at least `width` digits, zero-padded (a non-negative integer below 2^31). */
  paddedInt(value: number, width: number): void {
    let digits = 1;
    for (let t = (value / 10) | 0; t > 0; t = (t / 10) | 0) digits++;
    for (let i = digits; i < width; i++) this.bytes[this.pos++] = ZERO;
    this.number(value);
  }
}

/**
 * Writes a non-zero integer in (-2^31, 2^31) as `String` spells it at `bytes[pos ..]`; returns the index after
 * it.
 */
function writeInt32(bytes: Uint8Array, pos: number, value: number): number {
  let v = value;
  let at = pos;
  if (v < 0) {
    bytes[at++] = MINUS;
    v = -v;
  }
  if (v < 10) {
    bytes[at] = ZERO + v;
    return at + 1;
  }
  let digits = 2;
  for (let t = (v / 100) | 0; t > 0; t = (t / 10) | 0) digits++;
  const end = at + digits;
  at = end;
  while (v >= 10) {
    const q = (v / 10) | 0;
    bytes[--at] = ZERO + (v - q * 10);
    v = q;
  }
  bytes[--at] = ZERO + v;
  return end;
}
