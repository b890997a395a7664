/**
 * `npm run bench [-- --only <section>] [-- --quick]`: runs the benchmark sections and writes
 * bench/results/<section>.json and .md. See docs/benchmarks.md for the method.
 *
 * Sections are modules test/bench/<area>-bench.ts; register new ones in SECTIONS.
 */
// First: quiets the handlers before any section imports them (see the file).
import './support/quiet-handlers.js';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runFlowPeersBench } from './flow-peers-bench.js';
import { runFlowsBench } from './flows-bench.js';
import { runInferenceBench } from './inference-bench.js';
import { runPacketsBench } from './packets-bench.js';
import { runPipelineBench } from './pipeline-bench.js';
import { runStreamingBench } from './streaming-bench.js';
import type { BenchContext } from './support/context.js';
import { markdownFor, type SectionResult, writeResults } from './support/results.js';

const SECTIONS: Record<string, (context: BenchContext) => Promise<SectionResult>> = {
  packets: runPacketsBench,
  flows: runFlowsBench,
  'flow-peers': runFlowPeersBench,
  inference: runInferenceBench,
  streaming: runStreamingBench,
  pipeline: runPipelineBench,
};

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function usage(): string {
  return `usage: npm run bench [-- --only <${Object.keys(SECTIONS).join('|')}>] [-- --quick]\n`;
}

async function main(): Promise<number> {
  let values: { only?: string; quick?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage()}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  const names = values.only === undefined ? Object.keys(SECTIONS) : [values.only];
  for (const name of names) {
    if (!(name in SECTIONS)) {
      process.stderr.write(`unknown section '${name}'\n${usage()}`);
      return 1;
    }
  }
  const outputDir = join(repoDir, 'bench-output');
  mkdirSync(outputDir, { recursive: true });
  const context: BenchContext = {
    repoDir,
    outputDir,
    resultsDir: join(repoDir, 'bench', 'results'),
    sharedDir: process.env.CCF_SHARED_DIR ?? resolve(repoDir, '..', 'shared'),
    quick: values.quick ?? false,
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  };
  let failed = 0;
  for (const name of names) {
    const run = SECTIONS[name];
    if (run === undefined) continue;
    const started = performance.now();
    context.log(`section ${name}${context.quick ? ' (quick)' : ''}`);
    try {
      const result = await run(context);
      // Quick runs check the harness; they never overwrite the committed results.
      const resultsDir = context.quick ? join(outputDir, 'results-quick') : context.resultsDir;
      const written = writeResults(resultsDir, result);
      process.stdout.write(markdownFor(result));
      context.log(
        `section ${name} done in ${((performance.now() - started) / 1000).toFixed(0)} s → ${written.json}, ${written.markdown}`,
      );
    } catch (error) {
      failed++;
      process.stderr.write(
        `[bench] section ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
