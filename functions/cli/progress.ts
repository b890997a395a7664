/**
 * A progress bar on stderr, by bytes read, for long inputs. Shown only when stderr is a terminal (never in
 * pipes, files or CI logs) and the input size is known; otherwise every method is a no-op.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Adds `bytes` to the bytes read so far. Cheap: the bar redraws at most a few times per second. */
  advance(bytes: number): void;
  /** Removes the bar (call before printing anything else to stderr). */
  stop(): void;
}

const SILENT: Progress = {
  advance() {},
  stop() {},
};

/** Inputs smaller than this finish too fast for a bar to help. */
export const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;

export interface ProgressOptions {
  /** Size of the input in bytes, when known (a regular file); undefined for stdin and pipes. */
  totalBytes: number | undefined;
  /** The stream the bar would draw on; a bar is drawn only when it is a TTY. */
  stream?: NodeJS.WriteStream;
  /** Another output shares the same terminal (CSV to a terminal stdout): keep quiet then. */
  terminalBusy?: boolean;
}

function formatMegabytes(bytes: number): string {
  return (bytes / 1_048_576).toFixed(0);
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const total = options.totalBytes;
  if (!stream.isTTY || options.terminalBusy || total === undefined || total < PROGRESS_MIN_BYTES) {
    return SILENT;
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'ccf [{bar}] {percentage}% | {read}/{size} MB | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let read = 0;
  bar.start(total, 0, { read: '0', size: formatMegabytes(total) });
  return {
    advance(bytes: number) {
      read += bytes;
      bar.update(Math.min(read, total), { read: formatMegabytes(read) });
    },
    stop() {
      bar.stop();
    },
  };
}
