/**
 * Training side of the context features: reads a flow CSV written by `ccf flows` (rows in the engine's emission
 * order, the order `ccf analyze` scores them in) and writes the context columns of every row, same order, with
 * the one implementation the product uses (functions/flows/flow-context.ts).
 *
 *   node --import tsx models/training/lab/flow-context-columns.ts <flows.csv> <out.csv> [<flows.csv> <out.csv> ...]
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  FLOW_CONTEXT_COLUMNS,
  FLOW_CONTEXT_INPUT_COLUMNS,
  FlowContext,
} from '../../../functions/flows/flow-context.js';

const NEEDED = FLOW_CONTEXT_INPUT_COLUMNS;

async function convert(inPath: string, outPath: string): Promise<number> {
  const lines = createInterface({ input: createReadStream(inPath), crlfDelay: Number.POSITIVE_INFINITY });
  const out = createWriteStream(outPath);
  out.write(`${FLOW_CONTEXT_COLUMNS.join(',')}\n`);
  const context = new FlowContext();
  let index: number[] | undefined;
  let width = 0;
  let rows = 0;
  for await (const line of lines) {
    if (line === '') continue;
    // The flow engine's CSV has no quoted fields in these columns (addresses, numbers, timestamps).
    const cells = line.split(',');
    if (index === undefined) {
      width = cells.length;
      index = NEEDED.map((name) => {
        const at = cells.indexOf(name);
        if (at < 0) throw new Error(`${inPath}: no column ${name}`);
        return at;
      });
      continue;
    }
    if (cells.length !== width)
      throw new Error(`${inPath}: row ${rows + 1} has ${cells.length} cells, not ${width}`);
    const cell = (k: number): string => cells[index?.[k] as number] as string;
    const ctx = context.next({
      'Src IP': cell(NEEDED.indexOf('Src IP')),
      'Dst IP': cell(NEEDED.indexOf('Dst IP')),
      'Dst Port': Number(cell(NEEDED.indexOf('Dst Port'))),
      Protocol: Number(cell(NEEDED.indexOf('Protocol'))),
      Timestamp: cell(NEEDED.indexOf('Timestamp')),
      'Total Bwd packets': Number(cell(NEEDED.indexOf('Total Bwd packets'))),
      'Total Length of Fwd Packet': Number(cell(NEEDED.indexOf('Total Length of Fwd Packet'))),
      'Flow Duration': Number(cell(NEEDED.indexOf('Flow Duration'))),
      'Total Fwd Packet': Number(cell(NEEDED.indexOf('Total Fwd Packet'))),
    });
    if (!out.write(`${FLOW_CONTEXT_COLUMNS.map((c) => String(ctx[c])).join(',')}\n`))
      await once(out, 'drain');
    rows++;
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  process.stderr.write('usage: flow-context-columns.ts <flows.csv> <out.csv> [...pairs]\n');
  process.exit(1);
}
for (let i = 0; i < args.length; i += 2) {
  const rows = await convert(args[i] as string, args[i + 1] as string);
  process.stderr.write(`${args[i]}: ${rows} rows\n`);
}
