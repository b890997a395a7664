/**
 * The one place where the `ccf` command turns the outcome of a command into an exit status and a message.
 *
 * - 0: done.
 * - 1: usage error (commander's own message), bad option value, missing file, not a capture, bad protocol map,
 *   or any other `CcfError` the core raised for bad input.
 * - 2: the capture is damaged part-way (`PcapFormatError`) or exceeded a safety limit (`LimitExceededError`);
 *   commands raise these only after every readable packet was written.
 * - anything else is a bug: one line saying "internal error", the stack trace only with `CCF_DEBUG=1`.
 */
import { type Command, CommanderError } from 'commander';
import { CcfError, LimitExceededError, PcapFormatError } from '../platform/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_DAMAGED = 2;

export interface Outcome {
  exitCode: number;
  /** Lines for stderr (without the trailing newline); empty when the outcome is silent. */
  stderrLines: string[];
}

interface SystemError extends Error {
  code: string;
}

function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as Partial<SystemError>).code === 'string';
}

/** A consumer closed our stdout early (`ccf packets x.pcap | head`): a normal way to stop, not a failure. */
export function isBrokenPipe(error: unknown): boolean {
  return isSystemError(error) && error.code === 'EPIPE';
}

/**
 * A capture found damaged part-way, with the name the user gave it: the reader's error says what is wrong and at
 * which byte offset, this adds which file, so the one line on stderr names all three.
 */
export class DamagedCaptureError extends Error {
  constructor(
    readonly captureName: string,
    readonly damage: PcapFormatError | LimitExceededError,
  ) {
    super(`${captureName}: ${damage.message}`, { cause: damage });
    this.name = 'DamagedCaptureError';
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Exit 2 for damage part-way or an exceeded limit, naming the capture when the command said which. */
function damagedOutcome(damage: PcapFormatError | LimitExceededError, captureName?: string): Outcome {
  const what = damage instanceof PcapFormatError ? 'damaged capture' : 'capture exceeds a safety limit';
  const which = captureName === undefined ? '' : ` ${captureName}`;
  return { exitCode: EXIT_DAMAGED, stderrLines: [`ccf: ${what}${which}: ${oneLine(damage.message)}`] };
}

/** Maps any thrown value to an exit status and the stderr lines that explain it. Pure, for tests. */
export function outcomeOf(error: unknown, debug: boolean): Outcome {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help/version text) to the right stream.
    return { exitCode: error.exitCode === 0 ? EXIT_OK : EXIT_FAILURE, stderrLines: [] };
  }
  if (isBrokenPipe(error)) {
    return { exitCode: EXIT_OK, stderrLines: [] };
  }
  if (error instanceof DamagedCaptureError) return damagedOutcome(error.damage, error.captureName);
  if (error instanceof PcapFormatError || error instanceof LimitExceededError) return damagedOutcome(error);
  if (error instanceof CcfError) {
    return { exitCode: EXIT_FAILURE, stderrLines: [`ccf: ${oneLine(error.message)}`] };
  }
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  const lines = [
    `ccf: internal error (${name}: ${oneLine(message)})${debug ? '' : '; run with CCF_DEBUG=1 for details'}`,
  ];
  if (debug && error instanceof Error && error.stack) {
    lines.push(error.stack);
  }
  return { exitCode: EXIT_FAILURE, stderrLines: lines };
}

/** Commander must throw instead of calling `process.exit`, on every (sub)command, so the mapping stays here. */
function overrideExits(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) {
    overrideExits(sub);
  }
}

export interface RunOptions {
  /** Print stack traces of internal errors (`CCF_DEBUG=1`). */
  debug: boolean;
  stderr?: NodeJS.WritableStream;
}

/**
 * Parses `argv` and runs the chosen command; resolves with the exit status (never rejects, never exits
 * the process, so streams can drain before Node exits on its own).
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  options: RunOptions,
): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  // Text commander itself writes (help, version) can meet a closed pipe (`ccf --help | head -1`) after the
  // command has returned; without a listener Node would crash with a stack trace. Commands see their own
  // output errors through TextOutput and map them below.
  process.stdout.on('error', (error) => {
    if (isBrokenPipe(error)) return;
    stderr.write(`ccf: cannot write to stdout (${oneLine(error.message)})\n`);
    process.exitCode = EXIT_FAILURE;
  });
  overrideExits(program);
  try {
    await program.parseAsync([...argv]);
    return EXIT_OK;
  } catch (error) {
    const outcome = outcomeOf(error, options.debug);
    for (const line of outcome.stderrLines) {
      stderr.write(`${line}\n`);
    }
    return outcome.exitCode;
  }
}
