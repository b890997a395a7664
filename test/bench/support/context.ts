/** What every benchmark section gets from the harness, and the steps they share. */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalRuntime, LocalRuntimeOptions } from '../../../functions/local/runtime.js';
import { BenchSetupError } from './bench-errors.js';
import { buildLargeCapture, type LargeCaptureInfo, slicePcap } from './large-capture.js';

export interface BenchContext {
  repoDir: string;
  /** Git-ignored scratch directory: the large capture, outputs, Python venvs. */
  outputDir: string;
  /** Committed results: bench/results/. */
  resultsDir: string;
  sharedDir: string;
  /** Smaller capture and slices, for checking the harness itself; results are marked quick. */
  quick: boolean;
  log: (line: string) => void;
}

/** Builds (or reuses) the section's large capture: >1 GB normally, ~100 MB in quick mode. */
export async function benchCapture(context: BenchContext): Promise<LargeCaptureInfo> {
  const corporaDir = join(context.sharedDir, 'corpora');
  if (!existsSync(join(corporaDir, 'MANIFEST.csv'))) {
    throw new BenchSetupError(`no corpus at ${corporaDir}: set CCF_SHARED_DIR to the shared directory`);
  }
  return buildLargeCapture({
    corporaDir,
    outputPath: join(context.outputDir, context.quick ? 'bench-mix-quick.pcap' : 'bench-mix.pcap'),
    minBytes: context.quick ? 100_000_000 : 1_100_000_000,
    log: context.log,
  });
}

/**
 * The ~100 MB capture the local end-to-end sections upload (the harness's quick mix), or in quick mode a leading
 * slice of `quickPackets` packets of it written to `sliceName`.
 */
export async function endToEndCapture(
  context: BenchContext,
  sliceName: string,
  quickPackets: number,
): Promise<{ path: string; packets: number; bytes: number; sourceFiles: number }> {
  const large = await benchCapture({ ...context, quick: true });
  const { sourceFiles } = large;
  if (!context.quick)
    return { path: large.path, packets: large.packets, bytes: statSync(large.path).size, sourceFiles };
  const path = join(context.outputDir, sliceName);
  const { packets } = await slicePcap(large.path, path, quickPackets);
  return { path, packets, bytes: statSync(path).size, sourceFiles };
}

let built = false;

/** Compiles the CLI to dist/ (what `npx ccf` runs), once per harness run; returns notes about the build. */
export function ensureCliBuilt(context: BenchContext): string[] {
  const main = join(context.repoDir, 'dist', 'functions', 'cli', 'main.js');
  if (built) return [];
  const tsc = join(context.repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
  context.log('building dist/ with tsc -p tsconfig.build.json');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: context.repoDir,
    encoding: 'utf8',
  });
  built = true;
  if (!existsSync(main)) {
    throw new BenchSetupError(`build produced no ${main}: ${result.stdout.slice(0, 2000)}`);
  }
  return result.status === 0
    ? []
    : [
        '`tsc -p tsconfig.build.json` reported type errors in files under construction; dist/ was emitted anyway',
      ];
}

/** The compiled CLI, as `npx ccf` runs it (packages/ccf-cli/bin/ccf.js imports this file). */
export function ccfBin(context: BenchContext): string {
  return join(context.repoDir, 'dist', 'functions', 'cli', 'main.js');
}

export function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * A local runtime as `npm start` runs it, for one bench run: an emptied data folder `<outputDir>/<name>`, any
 * free ports, the repository's models. Imported on call, not at load: run-bench quiets Powertools before any
 * section loads the handlers, and sections that never start a runtime do not load them.
 */
export async function startBenchRuntime(
  context: BenchContext,
  name: string,
  overrides?: LocalRuntimeOptions['overrides'],
): Promise<LocalRuntime> {
  const { startLocalRuntime } = await import('../../../functions/local/runtime.js');
  const dataDir = join(context.outputDir, name);
  rmSync(dataDir, { recursive: true, force: true });
  return startLocalRuntime({
    port: 0,
    s3Port: 0,
    dynamoPort: 0,
    dataDir,
    settings: { MODELS_DIR: join(context.repoDir, 'models') },
    ...(overrides ? { overrides } : {}),
  });
}
