/** The one error → exit status mapping of the `ccf` command. */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  DamagedCaptureError,
  EXIT_DAMAGED,
  EXIT_FAILURE,
  EXIT_OK,
  outcomeOf,
  runProgram,
} from '../../../functions/cli/run-command.js';
import {
  LimitExceededError,
  NotACaptureError,
  NotFoundError,
  PcapFormatError,
  ProtocolMapError,
  ValidationError,
} from '../../../functions/platform/errors.js';

describe('outcomeOf', () => {
  it('maps a damaged capture to exit 2 with the byte offset in one line', () => {
    const outcome = outcomeOf(new PcapFormatError('truncated record', 1234, 'EPB'), false);
    expect(outcome.exitCode).toBe(EXIT_DAMAGED);
    expect(outcome.stderrLines).toEqual([
      'ccf: damaged capture: truncated record (at byte offset 1234, in EPB)',
    ]);
  });

  it('names the capture file in the one line when the command says which file was damaged', () => {
    const damaged = new DamagedCaptureError(
      'lab.pcapng',
      new PcapFormatError('truncated record', 1234, 'EPB'),
    );
    expect(outcomeOf(damaged, false)).toEqual({
      exitCode: EXIT_DAMAGED,
      stderrLines: ['ccf: damaged capture lab.pcapng: truncated record (at byte offset 1234, in EPB)'],
    });
    const overLimit = new DamagedCaptureError(
      'big.pcap',
      new LimitExceededError('block of 20 MiB over 16 MiB'),
    );
    expect(outcomeOf(overLimit, false)).toEqual({
      exitCode: EXIT_DAMAGED,
      stderrLines: ['ccf: capture exceeds a safety limit big.pcap: block of 20 MiB over 16 MiB'],
    });
  });

  it('maps an exceeded safety limit to exit 2', () => {
    expect(outcomeOf(new LimitExceededError('block of 20 MiB over 16 MiB'), false).exitCode).toBe(
      EXIT_DAMAGED,
    );
  });

  it('maps input and usage errors of the CcfError family to exit 1 with their message', () => {
    for (const error of [
      new NotACaptureError('x.txt is not a pcap or pcapng capture'),
      new NotFoundError('no such file'),
      new ValidationError('bad option', { field: '--max-snaplen' }),
      new ProtocolMapError('protocol/UDP line 3: expected number:name'),
    ]) {
      const outcome = outcomeOf(error, false);
      expect(outcome.exitCode).toBe(EXIT_FAILURE);
      expect(outcome.stderrLines).toEqual([`ccf: ${error.message}`]);
    }
  });

  it('keeps multi-line messages on one line', () => {
    expect(outcomeOf(new NotFoundError('first\n  second'), false).stderrLines).toEqual(['ccf: first second']);
  });

  it('reports anything unexpected as one "internal error" line, with the stack only in debug mode', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    const quiet = outcomeOf(bug, false);
    expect(quiet.exitCode).toBe(EXIT_FAILURE);
    expect(quiet.stderrLines).toHaveLength(1);
    expect(quiet.stderrLines[0]).toMatch(
      /^ccf: internal error \(TypeError: Cannot read .*\); run with CCF_DEBUG=1/,
    );
    const loud = outcomeOf(bug, true);
    expect(loud.stderrLines).toHaveLength(2);
    expect(loud.stderrLines[1]).toContain('at ');
    expect(outcomeOf('a string', false).stderrLines[0]).toMatch(/^ccf: internal error \(string: a string\)/);
  });

  it('passes commander exits through (help = 0, usage = 1) silently, and a closed stdout is a normal end', () => {
    expect(outcomeOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), false)).toEqual({
      exitCode: EXIT_OK,
      stderrLines: [],
    });
    expect(outcomeOf(new CommanderError(1, 'commander.unknownOption', 'x'), false)).toEqual({
      exitCode: EXIT_FAILURE,
      stderrLines: [],
    });
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(outcomeOf(epipe, false)).toEqual({ exitCode: EXIT_OK, stderrLines: [] });
  });
});

describe('runProgram', () => {
  function collect(): { stream: NodeJS.WritableStream; text: () => string } {
    let text = '';
    const stream = {
      write(chunk: string) {
        text += chunk;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { stream, text: () => text };
  }

  it('runs a subcommand action and maps what it throws, without exiting the process', async () => {
    const program = new Command('ccf');
    program.command('boom').action(async () => {
      throw new PcapFormatError('cut short', 99);
    });
    program.command('fine').action(async () => {});
    const stderr = collect();
    expect(await runProgram(program, ['node', 'ccf', 'boom'], { debug: false, stderr: stderr.stream })).toBe(
      2,
    );
    expect(stderr.text()).toBe('ccf: damaged capture: cut short (at byte offset 99)\n');
    expect(await runProgram(program, ['node', 'ccf', 'fine'], { debug: false, stderr: stderr.stream })).toBe(
      0,
    );
  });
});
