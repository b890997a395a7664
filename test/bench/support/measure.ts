/**
 * Runs one measured process under GNU time (`/usr/bin/time -v`) and reports its wall time, CPU time and peak
 * resident set size. Each tool runs in its own process so its peak RSS is its own.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { BenchSetupError } from './bench-errors.js';

export const GNU_TIME = '/usr/bin/time';

export interface Measurement {
  command: string;
  exitCode: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  /** The process's stdout, when captured (not redirected to a file). */
  stdout: string;
  /** The process's own stderr, without GNU time's report. */
  stderr: string;
}

export interface MeasureOptions {
  /** Redirect stdout to this file (e.g. /dev/null); otherwise it is captured (keep it small). */
  stdoutPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the tool after this many seconds (it then reports a non-zero exit status). */
  timeoutSeconds?: number;
}

/** The last line of a measured process's stdout, as JSON: the bench runners print their result there. */
export function lastJsonLine(text: string): unknown {
  return JSON.parse(text.trim().split('\n').pop() ?? '');
}

export function ensureGnuTime(): void {
  if (!existsSync(GNU_TIME)) {
    throw new BenchSetupError('GNU time is missing: install it with `apt-get install -y time`');
  }
}

const REPORT_START = /\n?\tCommand being timed: /;

/**
 * The environment measured processes run in: this one without NODE_EXTRA_CA_CERTS. A machine that sets it (this
 * sandbox does, for its proxy) makes every Node process parse the whole CA bundle at start-up, before any of its
 * code runs: `node -e 0` took 0.10–0.16 CPU s with it and 0.02–0.04 s without (10 alternated runs). No measured
 * process makes a TLS connection, and a user's machine does not normally set it, so it is left out rather than
 * charged to every Node row (the Python and C peers never read it).
 */
export function measuredEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _notUsed, ...rest } = base;
  return rest;
}

export async function measure(
  executable: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<Measurement> {
  ensureGnuTime();
  const stdoutFd = options.stdoutPath === undefined ? undefined : openSync(options.stdoutPath, 'w');
  const started = performance.now();
  // coreutils `timeout` kills the tool itself; GNU time still reports (its rusage covers the tool).
  const limited =
    options.timeoutSeconds === undefined
      ? [executable, ...args]
      : ['timeout', '-s', 'KILL', String(options.timeoutSeconds), executable, ...args];
  const child = spawn(GNU_TIME, ['-v', ...limited], {
    cwd: options.cwd,
    env: options.env ?? measuredEnvironment(),
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  const measuredWall = (performance.now() - started) / 1000;
  if (stdoutFd !== undefined) closeSync(stdoutFd);

  const reportAt = stderr.search(REPORT_START);
  const report = reportAt >= 0 ? stderr.slice(reportAt) : '';
  const field = (label: string): string | undefined => {
    const line = report.split('\n').find((l) => l.trim().startsWith(label));
    return line?.slice(line.lastIndexOf(': ') + 2);
  };
  const rssKb = Number(field('Maximum resident set size (kbytes)') ?? Number.NaN);
  const user = Number(field('User time (seconds)') ?? Number.NaN);
  const system = Number(field('System time (seconds)') ?? Number.NaN);
  const statusText = field('Exit status');
  if (!Number.isFinite(rssKb) || !Number.isFinite(user)) {
    throw new BenchSetupError(
      `no GNU time report for ${executable} (exit ${exitCode}): ${stderr.slice(-500)}`,
    );
  }
  return {
    command: [executable, ...args].join(' '),
    exitCode: statusText === undefined ? exitCode : Number(statusText),
    // Our own clock (better resolution than GNU time's centiseconds); includes process start-up.
    wallSeconds: measuredWall,
    cpuSeconds: user + system,
    peakRssBytes: rssKb * 1024,
    stdout,
    stderr: reportAt >= 0 ? stderr.slice(0, reportAt) : stderr,
  };
}
