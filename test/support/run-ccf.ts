/**
 * Runs the real `ccf` CLI (functions/cli/main.ts through tsx) in a subprocess, as a user would, and collects
 * its exit status and output. Tests assert on exit codes and messages, so nothing here interprets them.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export const repoDir = resolve(import.meta.dirname, '..', '..');
export const mainTs = join(repoDir, 'functions', 'cli', 'main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCcfOptions {
  stdin?: Uint8Array;
  /** The child's whole environment (default: this process's, with CCF_DEBUG cleared). */
  env?: NodeJS.ProcessEnv;
}

export function runCcf(args: string[], options: RunCcfOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
      cwd: repoDir,
      env: options.env ?? { ...process.env, CCF_DEBUG: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? new Uint8Array(0));
  });
}
