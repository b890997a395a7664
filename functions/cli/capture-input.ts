/**
 * Inputs and outputs of the capture commands: the capture as a stream of chunks (a file, or stdin for `-`)
 * that waits for the output to drain before reading on, and a buffered text output (a file, or stdout for
 * `-`) with backpressure. Together they keep memory flat whatever the capture size.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { type CaptureReaderOptions, captureFileChunks } from '../capture/capture-reader.js';
import { DependencyError, NotFoundError, ValidationError } from '../platform/errors.js';

interface SystemError extends Error {
  code: string;
}

function systemErrorCode(error: unknown): string | undefined {
  return error instanceof Error && typeof (error as Partial<SystemError>).code === 'string'
    ? (error as SystemError).code
    : undefined;
}

/** Turns a file-system failure on a path the user gave into the project's typed errors. */
export function fileError(error: unknown, path: string, role: 'capture' | 'output'): Error {
  const code = systemErrorCode(error);
  const verb = role === 'capture' ? 'read the capture' : 'write the output';
  switch (code) {
    case 'ENOENT':
      return role === 'capture'
        ? new NotFoundError(`cannot ${verb} '${path}': no such file`, { path }, { cause: error })
        : new ValidationError(
            `cannot ${verb} '${path}': no such directory`,
            { field: role, path },
            { cause: error },
          );
    case 'EACCES':
    case 'EPERM':
      return new ValidationError(
        `cannot ${verb} '${path}': permission denied`,
        { field: role, path },
        { cause: error },
      );
    case 'EISDIR':
      return new ValidationError(
        `cannot ${verb} '${path}': it is a directory`,
        { field: role, path },
        { cause: error },
      );
    case 'ENOTDIR':
      return new ValidationError(
        `cannot ${verb} '${path}': a parent is not a directory`,
        { field: role, path },
        { cause: error },
      );
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      // The file system, not the input, is what failed: exit 1 with the reason, not an internal error.
      return new DependencyError(
        `cannot ${verb} '${path}': ${code === 'EFBIG' ? 'the file is too large' : 'no space left on the device'}`,
        { dependency: 'file system', field: role, path },
        { cause: error },
      );
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}

export interface CaptureInput {
  /** For messages: the path, or "stdin". */
  name: string;
  /** Size in bytes when it is a regular file. */
  sizeBytes: number | undefined;
  /**
   * The capture's bytes (readCapture's source). A regular file's chunks share one buffer: each is valid until
   * the next is asked for (captureFileChunks).
   */
  chunks: AsyncIterable<unknown>;
  /** Releases the file (or stdin) when reading ends, read to the end or not. */
  close(): Promise<void>;
}

/** Opens `path` (or stdin for `-`); a missing or unreadable file is a typed error before anything is written. */
export async function openCaptureInput(path: string): Promise<CaptureInput> {
  if (path === '-') {
    return {
      name: 'stdin',
      sizeBytes: undefined,
      chunks: process.stdin,
      close: async () => {
        process.stdin.destroy();
      },
    };
  }
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const opened = handle;
    const { chunks, sizeBytes } = await captureFileChunks(opened);
    return { name: path, sizeBytes, chunks, close: () => opened.close() };
  } catch (error) {
    await handle?.close();
    throw fileError(error, path, 'capture');
  }
}

/**
 * The text output of a capture command: a file, written with synchronous writes as the rows come (like the
 * capture's reads: the rows are made on this thread, which has nothing else to do meanwhile, and a write
 * stream would hand every chunk to the libuv pool and keep it, a fresh copy, until written), or stdout, a
 * stream with backpressure: callers await `room()` between input chunks so a slow consumer pauses the reading
 * instead of piling up rows in memory. A failure (full disk, closed pipe...) is kept and thrown by the next
 * `room()` or `close()`; `write` never throws.
 */
export class TextOutput {
  /** stdout (the file is written without a stream). */
  private stream: Writable | undefined;
  /** The file's descriptor once it is created; -1 before. */
  private fd = -1;
  private failure: Error | undefined;
  /** Bytes written so far (UTF-8). */
  bytesWritten = 0;

  private constructor(
    /** For messages: the path, or "stdout". */
    readonly name: string,
    /** The file to create, or undefined for stdout. */
    private readonly filePath: string | undefined,
  ) {}

  /** `-` is stdout; a path is created (truncated) on the first write, so a run that fails early leaves no file. */
  static to(path: string): TextOutput {
    return path === '-' ? new TextOutput('stdout', undefined) : new TextOutput(path, path);
  }

  get isStdout(): boolean {
    return this.filePath === undefined;
  }

  /**
   * True when each chunk is written before `write`/`writeBytes` returns (a file): a producer may then lend a
   * view of its own buffer instead of a copy.
   */
  get writesAtOnce(): boolean {
    return this.filePath !== undefined;
  }

  private ensureStream(): Writable {
    if (this.stream === undefined) {
      const stream = process.stdout;
      stream.on('error', (error: Error) => {
        this.failure ??= error;
      });
      this.stream = stream;
    }
    return this.stream;
  }

  /** Creates the file on first use; false (with the failure kept) when it cannot be. */
  private ensureFile(path: string): boolean {
    if (this.fd < 0 && this.failure === undefined) {
      try {
        this.fd = openSync(path, 'w');
      } catch (error) {
        this.failure = fileError(error, this.name, 'output');
      }
    }
    return this.fd >= 0 && this.failure === undefined;
  }

  private writeToFile(path: string, bytes: Uint8Array): void {
    if (!this.ensureFile(path)) return;
    try {
      let at = 0;
      while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
      this.bytesWritten += bytes.length;
    } catch (error) {
      this.failure = fileError(error, this.name, 'output');
    }
  }

  write(text: string): void {
    this.writeBytes(Buffer.from(text, 'utf8'));
  }

  /**
   * Writes UTF-8 bytes as they are. For stdout the caller gives up the chunk (the stream keeps it until
   * written); a file has it written before this returns (`writesAtOnce`).
   */
  writeBytes(chunk: Uint8Array): void {
    if (this.filePath !== undefined) {
      if (chunk.length > 0) this.writeToFile(this.filePath, chunk);
      else this.ensureFile(this.filePath);
      return;
    }
    const stream = this.ensureStream();
    if (chunk.length === 0 || this.failure !== undefined) return;
    this.bytesWritten += chunk.length;
    stream.write(chunk);
  }

  /** Resolves when the output can take more; rejects with the output's failure (full disk, closed pipe...). */
  async room(): Promise<void> {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    const stream = this.stream;
    if (stream?.writableNeedDrain) {
      await this.drained(stream);
    }
  }

  /** Resolves when stdout has drained; rejects with its error. */
  private async drained(stream: Writable): Promise<void> {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    await new Promise<void>((resolve, reject) => {
      const onDone = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (error: Error): void => {
        stream.off('drain', onDone);
        reject(error);
      };
      stream.once('drain', onDone);
      stream.once('error', onError);
    });
  }

  /** Waits until everything written is out (creates and closes the file; stdout stays open). */
  async close(): Promise<void> {
    if (this.filePath !== undefined) {
      this.ensureFile(this.filePath);
      if (this.fd >= 0) {
        const fd = this.fd;
        this.fd = -1;
        try {
          closeSync(fd);
        } catch (error) {
          this.failure ??= fileError(error, this.name, 'output');
        }
      }
      if (this.failure !== undefined) throw this.failure;
      return;
    }
    const stream = this.ensureStream();
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (stream.writableNeedDrain) {
      await this.drained(stream);
    }
  }
}

/**
 * The capture's chunks, with two jobs between chunks: count bytes (for the progress bar) and wait while the
 * output is full, so the reader is paused by a slow consumer instead of buffering its rows.
 */
export async function* pacedChunks(
  input: AsyncIterable<unknown>,
  output: TextOutput,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of input) {
    if (!(chunk instanceof Uint8Array)) {
      throw new ValidationError('the capture stream must yield bytes', { field: 'capture' });
    }
    onBytes(chunk.length);
    yield chunk;
    await output.room();
  }
}

const SIZE_PATTERN = /^(\d+)\s*([kmg]i?b?)?$/i;
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count option: `65536`, `64k`, `16M`, `1G` (binary units). */
export function parseByteSize(option: string): (value: string) => number {
  return (value: string) => {
    const match = SIZE_PATTERN.exec(value.trim());
    const unit = (match?.[2] ?? '').charAt(0).toLowerCase();
    const bytes = match ? Number(match[1]) * (SIZE_UNITS[unit] ?? Number.NaN) : Number.NaN;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new ValidationError(
        `${option} must be a positive byte count like 65536, 64k or 16M (got '${value}')`,
        {
          field: option,
        },
      );
    }
    return bytes;
  };
}

/**
 * The options every capture-reading command shares, declared once so `packets`, `flows` and `analyze` cannot
 * drift apart in names, parsing or help text.
 */
export function addCaptureReaderOptions(
  command: Command,
  { protocolDir }: { protocolDir: boolean },
): Command {
  if (protocolDir) {
    command.option(
      '--protocol-dir <dir>',
      'directory with the ETHER, IP, PORT, TCP and UDP name maps (default: $CCF_PROTOCOL_DIR, else protocol/)',
    );
  }
  return command
    .option(
      '--max-block-bytes <bytes>',
      'largest pcap record or pcapng block accepted (default 16M)',
      parseByteSize('--max-block-bytes'),
    )
    .option(
      '--max-snaplen <bytes>',
      'largest captured length of one packet (default 262144)',
      parseByteSize('--max-snaplen'),
    );
}

/** The reader limits every capture command accepts (`--max-block-bytes`, `--max-snaplen`). */
export interface ReaderLimitOptions {
  maxBlockBytes?: number;
  maxSnaplen?: number;
}

/** Reader options for one input: its name for messages plus the limits the user set (defaults otherwise). */
export function readerOptionsFor(
  input: Pick<CaptureInput, 'name'>,
  limits: ReaderLimitOptions,
): CaptureReaderOptions {
  return {
    sourceName: input.name,
    ...(limits.maxBlockBytes === undefined ? {} : { maxBlockBytes: limits.maxBlockBytes }),
    ...(limits.maxSnaplen === undefined ? {} : { maxSnapLength: limits.maxSnaplen }),
  };
}
