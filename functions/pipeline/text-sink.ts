import type { Writable } from 'node:stream';

/**
 * Collects many small strings (CSV rows) and hands them to a stream in ~64 KiB writes; byte chunks that
 * are large already go straight through (`writeBytes`).
 * `write` is synchronous (the capture reader calls back synchronously); `drained()` lets the producer wait
 * for the stream between input chunks, which is how backpressure reaches the S3 download.
 */
const FLUSH_CHARS = 64 * 1024;

export class TextSink {
  readonly #stream: Writable;
  #buffer: string[] = [];
  #chars = 0;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  write(text: string): void {
    this.#buffer.push(text);
    this.#chars += text.length;
    if (this.#chars >= FLUSH_CHARS) this.flush();
  }

  /** Bytes, after any text written before them. */
  writeBytes(chunk: Uint8Array): void {
    this.flush();
    this.#stream.write(chunk);
  }

  flush(): void {
    if (this.#buffer.length === 0) return;
    this.#stream.write(this.#buffer.join(''));
    this.#buffer = [];
    this.#chars = 0;
  }

  async drained(): Promise<void> {
    const stream = this.#stream;
    if (!stream.writableNeedDrain || stream.destroyed) return;
    // One listener pair, both removed when either fires (an AbortController per wait cost a DOMException each
    // time: ~80 ms of a 115 MB capture's parse, which waits here thousands of times).
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  end(): void {
    this.flush();
    this.#stream.end();
  }
}
