/**
 * Reproduces a labeled CICIDS2017_improved row from the packets it describes (a port-scan probe: SYN with an
 * MSS option, RST+ACK 10 µs later), column by column. Reads the row from ../shared (skips when absent), so the
 * third-party data stays out of the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CIC_FLOW_COLUMNS, FLOW_STRING_COLUMNS } from '../../../functions/flows/flow-columns.js';
import { TCP_OPTION } from '../../support/frame-builder.js';
import { only, runMeter, T0 } from './flow-test-kit.js';

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sampleDir = join(
  process.env.CCF_SHARED_DIR ?? resolve(repoDir, '..', 'shared'),
  'datasets',
  'cicids2017-improved-sample',
);
const sample = join(sampleDir, 'Portscan_2500.csv');

function datasetRow(id: string, file = sample): Record<string, string> | undefined {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines[0]!.split(',');
  const line = lines.find((l) => l.startsWith(`${id},`));
  if (line === undefined) return undefined;
  const cells = line.split(',');
  return Object.fromEntries(header.map((name, i) => [name, cells[i]!]));
}

describe.skipIf(!existsSync(sample))('a dataset row, reproduced', () => {
  it('BENIGN row 154994 (a DNS query/answer pair over UDP): every CIC column equal', () => {
    const row = datasetRow('154994', join(sampleDir, 'BENIGN_2500.csv'));
    expect(row).toBeDefined();
    const start = Date.parse('2017-07-07T12:59:21.088Z') * 1000 + 203 - T0;
    const query = {
      src: '192.168.10.5',
      dst: '192.168.10.3',
      protocol: 'udp' as const,
      srcPort: 53633,
      dstPort: 53,
      payload: 54,
    };
    const answer = {
      src: '192.168.10.3',
      dst: '192.168.10.5',
      protocol: 'udp' as const,
      srcPort: 53,
      dstPort: 53633,
      payload: 112,
    };
    // Gaps from the row: Fwd IAT 48, Bwd IAT 3, Flow IAT max 25273.
    const r = only(
      runMeter([
        { at: start, spec: query },
        { at: start + 48, spec: query },
        { at: start + 48 + 25_273, spec: answer },
        { at: start + 48 + 25_273 + 3, spec: answer },
      ]),
    );
    for (const column of CIC_FLOW_COLUMNS) {
      const expected = row![column]!;
      if ((FLOW_STRING_COLUMNS as readonly string[]).includes(column))
        expect(r[column], column).toBe(expected);
      else expect(r[column] as number, column).toBeCloseTo(Number(expected), 6);
    }
  });

  it('Portscan row 330784: every CIC column equal (rates to the last bit of the sample)', () => {
    const row = datasetRow('330784');
    expect(row).toBeDefined();
    const r = only(
      runMeter([
        {
          at: 0,
          spec: {
            src: '172.16.0.1',
            dst: '192.168.10.50',
            protocol: 'tcp',
            srcPort: 41249,
            dstPort: 2042,
            flags: 'S',
            window: 1024,
            tcpOptions: TCP_OPTION.mss(1460),
          },
        },
        {
          at: 10,
          spec: {
            src: '192.168.10.50',
            dst: '172.16.0.1',
            protocol: 'tcp',
            srcPort: 2042,
            dstPort: 41249,
            flags: 'RA',
            window: 0,
          },
        },
      ]),
    );
    expect(T0).toBe(1_499_450_937_763_666);
    for (const column of CIC_FLOW_COLUMNS) {
      const expected = row![column]!;
      if ((FLOW_STRING_COLUMNS as readonly string[]).includes(column))
        expect(r[column], column).toBe(expected);
      // The sample's float text was re-serialised (200000.0 for Java's 199999.99999999997): compare rates closely.
      else if (column.endsWith('/s')) expect(r[column] as number, column).toBeCloseTo(Number(expected), 6);
      else expect(r[column], column).toBe(Number(expected));
    }
  });
});
