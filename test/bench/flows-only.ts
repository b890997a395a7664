/**
 * The flow engine through its library API (extractFlows → flow CSV file), for the flows benchmark while the
 * CLI has no `flows` command. Prints one JSON line: {"packets", "flows", "seconds"} (seconds exclude start-up).
 *
 * usage: node --import tsx test/bench/flows-only.ts <capture> <flows.csv>
 */
import { createWriteStream } from 'node:fs';
import { extractFlows, type FlowExtractionSummary } from '../../functions/flows/index.js';
import { writeFlowsCsv } from '../../functions/records/flow-csv.js';

const [path, outPath] = process.argv.slice(2);
if (path === undefined || outPath === undefined) {
  process.stderr.write('usage: flows-only.ts <capture> <flows.csv>\n');
  process.exit(1);
}
const started = performance.now();
let summary: FlowExtractionSummary | undefined;
const out = createWriteStream(outPath);
const flows = await writeFlowsCsv(
  extractFlows(path, {
    throwOnDamage: false,
    onSummary: (s) => {
      summary = s;
    },
  }),
  out,
);
await new Promise<void>((resolve, reject) => {
  out.once('error', reject);
  out.end(() => resolve());
});
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ packets: summary?.capture.packets ?? 0, flows, seconds })}\n`);
