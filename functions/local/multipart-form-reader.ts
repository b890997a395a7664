/**
 * A push parser for `multipart/form-data` bodies (RFC 7578), for the local POST upload gateway: the form's text
 * fields are collected, and the one part the caller streams (S3's `file`) is handed on chunk by chunk as views
 * of the incoming buffers, so a 2 GiB upload is never held in memory or copied (undici's `formData()` kept the
 * whole body as a Blob and copied it twice: ~0.8 s of the API thread for a 115 MB capture).
 *
 * Only the bytes that may be the start of the next delimiter (fewer than its length) are held back between
 * chunks, so every streamed byte is known to be data when it is handed on.
 */

export class MalformedFormError extends Error {
  override readonly name = 'MalformedFormError';
}

export interface FormPartInfo {
  /** The `name` of the part's Content-Disposition, as sent. */
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
}

/** What the parser does with a part's body. */
export type PartMode = 'text' | 'stream' | 'skip';

export interface FormHandlers {
  /** Called when a part's headers are read; may throw to refuse the form. */
  part(info: FormPartInfo): PartMode;
  /** A whole `text` part (UTF-8). */
  text(info: FormPartInfo, value: string): void;
  /** The next bytes of a `stream` part (a view into the pushed chunk: valid as long as that chunk). */
  data(chunk: Buffer): void;
  /** The end of a `stream` part. */
  streamEnd(info: FormPartInfo): void;
}

export interface FormLimits {
  /** Largest header block of a part. */
  headerBytes: number;
  /** Largest `text` part. */
  textBytes: number;
}

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const DASH_DASH = Buffer.from('--');

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'end';

/** The boundary of a `multipart/form-data` Content-Type, or undefined. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** A Content-Disposition parameter (quoted with backslash escapes, or a bare token). */
function dispositionParameter(header: string, name: string): string | undefined {
  const match = new RegExp(`;\\s*${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s;]+))`, 'i').exec(header);
  if (!match) return undefined;
  return match[1] === undefined ? match[2] : match[1].replace(/\\(.)/g, '$1');
}

function partInfo(block: string): FormPartInfo {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (header === 'content-disposition') disposition = value;
    else if (header === 'content-type') contentType = value;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition))
    throw new MalformedFormError('a part has no Content-Disposition: form-data header');
  const name = dispositionParameter(disposition, 'name');
  if (name === undefined) throw new MalformedFormError('a part has no name');
  return { name, filename: dispositionParameter(disposition, 'filename'), contentType };
}

export class MultipartFormParser {
  readonly #delimiter: Buffer;
  readonly #handlers: FormHandlers;
  readonly #limits: FormLimits;
  #state: State = 'preamble';
  /**
   * Bytes read but not yet consumed. It starts as CRLF so the first boundary (which the body starts with, without
   * a line break before it) is found as `CRLF--boundary` like every later one.
   */
  #pending: Buffer = CRLF;
  #part: FormPartInfo | undefined;
  #mode: PartMode = 'skip';

  constructor(boundary: string, handlers: FormHandlers, limits: FormLimits) {
    this.#delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.#handlers = handlers;
    this.#limits = limits;
  }

  /** True once the closing delimiter was read (anything after it is the epilogue, ignored). */
  get done(): boolean {
    return this.#state === 'end';
  }

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0 && this.#state !== 'end') data = this.#step(data);
  }

  /** The body ended: throws unless the closing delimiter was read. */
  end(): void {
    if (this.#state !== 'end') throw new MalformedFormError('the form ends before its closing boundary');
  }

  /** Consumes what it can of `data`; returns the rest (empty when it needs more bytes). */
  #step(data: Buffer): Buffer {
    switch (this.#state) {
      case 'preamble':
        return this.#preamble(data);
      case 'after-delimiter':
        return this.#afterDelimiter(data);
      case 'headers':
        return this.#headers(data);
      case 'body':
        return this.#mode === 'stream' ? this.#streamBody(data) : this.#bufferedBody(data);
      case 'end':
        return EMPTY;
    }
  }

  #preamble(data: Buffer): Buffer {
    const bytes = this.#take(data);
    const at = bytes.indexOf(this.#delimiter);
    if (at < 0) {
      this.#pending = Buffer.from(bytes.subarray(Math.max(0, bytes.length - this.#delimiter.length + 1)));
      return EMPTY;
    }
    this.#state = 'after-delimiter';
    return bytes.subarray(at + this.#delimiter.length);
  }

  #afterDelimiter(data: Buffer): Buffer {
    const bytes = this.#take(data);
    if (bytes.length < 2) {
      this.#pending = Buffer.from(bytes);
      return EMPTY;
    }
    if (bytes[0] === DASH_DASH[0] && bytes[1] === DASH_DASH[1]) {
      this.#state = 'end';
      return EMPTY;
    }
    // Transport padding (spaces, tabs) may follow a delimiter before its line break.
    let i = 0;
    while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09)) i++;
    if (bytes.length - i < 2) {
      this.#pending = Buffer.from(bytes);
      return EMPTY;
    }
    if (bytes[i] !== CRLF[0] || bytes[i + 1] !== CRLF[1])
      throw new MalformedFormError('a boundary is not followed by a line break');
    this.#state = 'headers';
    return bytes.subarray(i + 2);
  }

  #headers(data: Buffer): Buffer {
    const bytes = this.#take(data);
    let block: string;
    let rest: Buffer;
    if (bytes.length >= 2 && bytes[0] === CRLF[0] && bytes[1] === CRLF[1]) {
      block = '';
      rest = bytes.subarray(2);
    } else {
      const at = bytes.indexOf(HEADER_END);
      if (at < 0) {
        if (bytes.length > this.#limits.headerBytes)
          throw new MalformedFormError('a part header is too large');
        this.#pending = Buffer.from(bytes);
        return EMPTY;
      }
      block = bytes.toString('utf8', 0, at);
      rest = bytes.subarray(at + HEADER_END.length);
    }
    const info = partInfo(block);
    this.#part = info;
    this.#mode = this.#handlers.part(info);
    this.#state = 'body';
    return rest;
  }

  /** A `text` part (kept whole, bounded) or a `skip` part (only a possible delimiter start is kept). */
  #bufferedBody(data: Buffer): Buffer {
    const bytes = this.#take(data);
    const at = bytes.indexOf(this.#delimiter);
    if (at < 0) {
      if (this.#mode === 'text') {
        if (bytes.length > this.#limits.textBytes + this.#delimiter.length)
          throw new MalformedFormError(`form field ${this.#part?.name} is too large`);
        this.#pending = Buffer.from(bytes);
      } else {
        this.#pending = Buffer.from(bytes.subarray(Math.max(0, bytes.length - this.#delimiter.length + 1)));
      }
      return EMPTY;
    }
    if (this.#mode === 'text') {
      if (at > this.#limits.textBytes)
        throw new MalformedFormError(`form field ${this.#part?.name} is too large`);
      this.#handlers.text(this.#part as FormPartInfo, bytes.toString('utf8', 0, at));
    }
    this.#state = 'after-delimiter';
    return bytes.subarray(at + this.#delimiter.length);
  }

  /**
   * A `stream` part: every byte that cannot begin the delimiter is handed on as a view of `data`; fewer than the
   * delimiter's length are held back (copied) until the next chunk shows whether they begin it.
   */
  #streamBody(data: Buffer): Buffer {
    const delimiter = this.#delimiter;
    const keep = delimiter.length - 1;
    const held = this.#pending;
    if (held.length > 0) {
      this.#pending = EMPTY;
      // A delimiter that starts in the held bytes ends within them plus the next `keep` bytes of data.
      const joint = Buffer.concat([held, data.subarray(0, keep)]);
      const at = joint.indexOf(delimiter);
      if (at >= 0) {
        if (at > 0) this.#handlers.data(joint.subarray(0, at));
        this.#endStream();
        return data.subarray(at + delimiter.length - held.length);
      }
      if (data.length < keep) {
        // Still too short to tell: hand on what cannot begin the delimiter, hold the rest.
        const safe = joint.length - keep;
        if (safe > 0) this.#handlers.data(joint.subarray(0, safe));
        this.#pending = Buffer.from(joint.subarray(Math.max(0, safe)));
        return EMPTY;
      }
      this.#handlers.data(held);
    }
    const at = data.indexOf(delimiter);
    if (at >= 0) {
      if (at > 0) this.#handlers.data(data.subarray(0, at));
      this.#endStream();
      return data.subarray(at + delimiter.length);
    }
    const safe = data.length - Math.min(keep, data.length);
    if (safe > 0) this.#handlers.data(data.subarray(0, safe));
    this.#pending = Buffer.from(data.subarray(safe));
    return EMPTY;
  }

  #endStream(): void {
    this.#handlers.streamEnd(this.#part as FormPartInfo);
    this.#state = 'after-delimiter';
  }

  /** The held bytes followed by `data` (a copy only when something is held). */
  #take(data: Buffer): Buffer {
    const held = this.#pending;
    this.#pending = EMPTY;
    return held.length === 0 ? data : Buffer.concat([held, data]);
  }
}
