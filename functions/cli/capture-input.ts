/**
 * Inputs and outputs of the capture commands: the capture as a stream of chunks (a file, or stdin for `-`)
 * that waits for the output to drain before reading on, and a buffered text output (a file, or stdout for
 * `-`) with backpressure. Together they keep memory flat whatever the capture size.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { type CaptureReaderOptions, captureFileChunks } from '../capture/capture-reader.js';
import { NotFoundError, ValidationError } from '../platform/errors.js';

/** Output bytes buffered by a file stream before it asks the producer to wait. */
const WRITE_HIGH_WATER_BYTES = 4 * 1024 * 1024;

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
    const info = await handle.stat();
    if (info.isDirectory()) {
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    const opened = handle;
    return {
      name: path,
      sizeBytes: info.isFile() ? info.size : undefined,
      chunks: await captureFileChunks(opened, info.isFile()),
      close: () => opened.close(),
    };
  } catch (error) {
    await handle?.close();
    throw fileError(error, path, 'capture');
  }
}

/**
 * Text output with backpressure: `write` hands a chunk to the stream at once; callers await `room()` between
 * input chunks so a slow consumer pauses the reading instead of piling up rows in memory.
 */
export class TextOutput {
  private stream: Writable | undefined;
  private failure: Error | undefined;
  /** Bytes handed to the stream so far (UTF-8). */
  bytesWritten = 0;

  private constructor(
    /** For messages: the path, or "stdout". */
    readonly name: string,
    private readonly open: () => Writable,
    private readonly ownsStream: boolean,
  ) {}

  /** `-` is stdout; a path is created (truncated) on the first write, so a run that fails early leaves no file. */
  static to(path: string): TextOutput {
    if (path === '-') {
      return new TextOutput('stdout', () => process.stdout, false);
    }
    return new TextOutput(
      path,
      () => createWriteStream(path, { highWaterMark: WRITE_HIGH_WATER_BYTES }),
      true,
    );
  }

  get isStdout(): boolean {
    return !this.ownsStream;
  }

  private ensureStream(): Writable {
    if (this.stream === undefined) {
      const stream = this.open();
      stream.on('error', (error: Error) => {
        this.failure ??= this.ownsStream ? fileError(error, this.name, 'output') : error;
      });
      this.stream = stream;
    }
    return this.stream;
  }

  write(text: string): void {
    const stream = this.ensureStream();
    if (text.length === 0 || this.failure !== undefined) return;
    const chunk = Buffer.from(text, 'utf8');
    this.bytesWritten += chunk.length;
    stream.write(chunk);
  }

  /** Writes UTF-8 bytes as they are (the caller gives up the chunk: the stream keeps it until written). */
  writeBytes(chunk: Uint8Array): void {
    const stream = this.ensureStream();
    if (chunk.length === 0 || this.failure !== undefined) return;
    this.bytesWritten += chunk.length;
    stream.write(chunk);
  }

  /** Resolves when the stream can take more; rejects with the output's failure (full disk, closed pipe...). */
  async room(): Promise<void> {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    const stream = this.stream;
    if (stream?.writableNeedDrain) {
      await this.settle(stream, 'drain');
    }
  }

  private async settle(stream: Writable, event: 'drain' | 'finish'): Promise<void> {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    await new Promise<void>((resolve, reject) => {
      const onDone = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (error: Error): void => {
        stream.off(event, onDone);
        reject(this.ownsStream ? fileError(error, this.name, 'output') : error);
      };
      stream.once(event, onDone);
      stream.once('error', onError);
    });
  }

  /** Waits until everything written is out (closes the file; stdout stays open). */
  async close(): Promise<void> {
    const stream = this.ensureStream();
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (this.ownsStream) {
      const finished = this.settle(stream, 'finish');
      stream.end();
      await finished;
      const fileStream = stream as WriteStream;
      if (!fileStream.closed) {
        await once(fileStream, 'close');
      }
    } else if (stream.writableNeedDrain) {
      await this.settle(stream, 'drain');
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
