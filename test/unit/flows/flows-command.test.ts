import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  describeFlowRun,
  registerFlowsCommand,
  runFlows,
} from '../../../functions/cli/commands/flows-command.js';
import { runProgram } from '../../../functions/cli/run-command.js';
import { FLOW_CSV_HEADER } from '../../../functions/records/flow-csv.js';
import { buildPcap } from '../../support/capture-files.js';
import { packet } from '../../support/frame-builder.js';
import { T0, type TimedPacket, tcpPacket, udpPacket } from './flow-test-kit.js';

function writeCapture(packets: readonly TimedPacket[]): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ccf-flows-cli-'));
  const path = join(dir, 'in.pcap');
  writeFileSync(
    path,
    buildPcap({ packets: packets.map((p) => ({ tsUs: T0 + p.at, data: packet(p.spec) })) }),
  );
  return { dir, path };
}

const defaults = {
  featureSet: 'cic-fork' as const,
  flowTimeoutS: 120,
  activityTimeoutS: 5,
  idleTimeoutS: 120,
  maxOpenFlows: 200_000,
  vlan: true,
};

describe('ccf flows', () => {
  it('leaves no output file for a file that is not a capture, and writes the header for a capture without flows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccf-flows-cli-'));
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'not a capture at all\n');
    const never = join(dir, 'never.csv');
    await expect(runFlows(notes, { ...defaults, output: never })).rejects.toThrow(
      /not a pcap or pcapng capture/,
    );
    expect(existsSync(never)).toBe(false);
    const { path } = writeCapture([]);
    const empty = join(dir, 'empty.csv');
    await runFlows(path, { ...defaults, output: empty });
    expect(readFileSync(empty, 'utf8')).toBe(FLOW_CSV_HEADER);
  });

  it('writes the flow CSV and the JSON run summary', async () => {
    const { dir, path } = writeCapture([
      tcpPacket(0, true, 'S'),
      tcpPacket(10, false, 'RA'),
      udpPacket(20, true),
    ]);
    const output = join(dir, 'flows.csv');
    const summaryPath = join(dir, 'summary.json');
    const summary = await runFlows(path, { ...defaults, output, summary: summaryPath });
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(FLOW_CSV_HEADER.trimEnd());
    expect(lines).toHaveLength(3);
    expect(summary.flowsByReason).toMatchObject({ rst: 1, end_of_capture: 1 });
    const document = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      flows: { flows: number };
      options: { featureSet: string };
    };
    expect(document.flows.flows).toBe(2);
    expect(document.options.featureSet).toBe('cic-fork');
    expect(describeFlowRun(summary)).toMatch(
      /^2 flows \(rst 1, end_of_capture 1\) from 3 of 3 packets; feature set cic-fork$/,
    );
  });

  it('parses every option through commander (units in the names)', async () => {
    const { dir, path } = writeCapture([
      udpPacket(0, true),
      udpPacket(2_000_000, true),
      udpPacket(4_000_000, true),
    ]);
    const output = join(dir, 'flows.csv');
    const program = new Command('ccf');
    registerFlowsCommand(program);
    const stderr: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
    const code = await runProgram(
      program,
      [
        'node',
        'ccf',
        'flows',
        path,
        '-o',
        output,
        '--feature-set',
        'corrected',
        '--flow-timeout-s',
        '3',
        '--activity-timeout-s',
        '1',
        '--idle-timeout-s',
        '60',
        '--max-open-flows',
        '10',
        '--no-vlan',
      ],
      { debug: false, stderr: sink },
    );
    expect(code).toBe(0);
    // flow timeout 3 s: packets at 0 and 2 s in the first flow, 4 s in the second
    const rows = readFileSync(output, 'utf8').trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(2);
  });

  it('rejects a bad option value with a usage error naming the option', async () => {
    const program = new Command('ccf');
    registerFlowsCommand(program);
    const stderr: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
    program.configureOutput({ writeErr: (text) => stderr.push(text) });
    const code = await runProgram(program, ['node', 'ccf', 'flows', 'x.pcap', '--flow-timeout-s', '-5'], {
      debug: false,
      stderr: sink,
    });
    expect(code).toBe(1);
    expect(stderr.join('')).toMatch(/--flow-timeout-s/);
  });
});
