/**
 * Python peers (scapy, NFStream, cicflowmeter), each in its own virtual environment under bench-output/
 * (git-ignored), installed from PyPI at pinned versions on first use. A peer that cannot be installed is
 * reported as unavailable with the reason, never replaced by a number.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { BenchContext } from './context.js';
import { lastJsonLine, type Measurement, measure } from './measure.js';

export interface PythonPeer {
  name: string;
  /** pip requirement, pinned. */
  requirement: string;
  /** Module to import to check the install. */
  module: string;
  /** Oldest Python the package supports, as [major, minor]. */
  minPython: [number, number];
}

export const SCAPY: PythonPeer = {
  name: 'scapy',
  requirement: 'scapy==2.8.0',
  module: 'scapy',
  minPython: [3, 8],
};
export const NFSTREAM: PythonPeer = {
  name: 'nfstream',
  requirement: 'nfstream==6.6.0',
  module: 'nfstream',
  minPython: [3, 9],
};
export const CICFLOWMETER: PythonPeer = {
  name: 'cicflowmeter',
  requirement: 'cicflowmeter==0.5.0',
  module: 'cicflowmeter.flow_session',
  minPython: [3, 12],
};

export type PeerPython = { ok: true; python: string } | { ok: false; reason: string };

function pythonVersion(executable: string): [number, number] | undefined {
  const result = spawnSync(
    executable,
    ['-c', 'import sys; print(sys.version_info[0], sys.version_info[1])'],
    {
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) return undefined;
  const [major, minor] = result.stdout.trim().split(' ').map(Number);
  return major === undefined || minor === undefined ? undefined : [major, minor];
}

function atLeast(version: [number, number], min: [number, number]): boolean {
  return version[0] > min[0] || (version[0] === min[0] && version[1] >= min[1]);
}

function findPython(min: [number, number]): string | undefined {
  for (const candidate of ['python3', 'python3.13', 'python3.12', 'python3.11', 'python3.10']) {
    const version = pythonVersion(candidate);
    if (version && atLeast(version, min)) return candidate;
  }
  return undefined;
}

/** The venv's python for `peer`, creating and installing it when missing. */
export function ensurePeer(outputDir: string, peer: PythonPeer, log: (line: string) => void): PeerPython {
  const venv = join(outputDir, `venv-${peer.name}`);
  const python = join(venv, 'bin', 'python');
  const importable = (): boolean => spawnSync(python, ['-c', `import ${peer.module}`]).status === 0;
  if (existsSync(python) && importable()) {
    return { ok: true, python };
  }
  const base = findPython(peer.minPython);
  if (base === undefined) {
    return { ok: false, reason: `needs Python ≥ ${peer.minPython.join('.')}, none found on PATH` };
  }
  try {
    log(`installing ${peer.requirement} into ${venv}`);
    execFileSync(base, ['-m', 'venv', venv], { stdio: 'ignore' });
    execFileSync(python, ['-m', 'pip', 'install', '-q', peer.requirement], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: `pip install ${peer.requirement} failed: ${message}` };
  }
  return importable()
    ? { ok: true, python }
    : { ok: false, reason: `${peer.module} does not import after install` };
}

/**
 * One measured run of a peer's runner script (test/bench/peers/<script>) with the peer's own Python: installs
 * the peer when needed, runs the script under `measure` and parses its last stdout line with `schema`. Returns
 * why not instead when the peer cannot be installed or the runner fails, for the section's unavailable rows.
 */
export async function measurePythonPeer<T>(
  context: BenchContext,
  peer: PythonPeer,
  script: string,
  args: readonly string[],
  schema: z.ZodType<T>,
): Promise<{ run: Measurement; result: T } | { unavailable: string }> {
  const installed = ensurePeer(context.outputDir, peer, context.log);
  if (!installed.ok) return { unavailable: installed.reason };
  context.log(`measuring ${peer.name}`);
  const run = await measure(installed.python, [
    join(context.repoDir, 'test', 'bench', 'peers', script),
    ...args,
  ]);
  if (run.exitCode !== 0) {
    return { unavailable: `runner failed (exit ${run.exitCode}): ${run.stderr.slice(-300)}` };
  }
  return { run, result: schema.parse(lastJsonLine(run.stdout)) };
}
