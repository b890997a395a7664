/** The shape of a section's results and their two committed forms: `bench/results/<section>.json` and `.md`. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface BenchRow {
  /** Short label used in ratios ("ccf packets (CSV)", "tcpdump -nn -tt -r"...). */
  name: string;
  command: string;
  /** Which input it ran on: the whole capture or a leading slice of it. */
  input: 'full' | 'slice';
  packets: number;
  bytes: number;
  flows?: number;
  wallSeconds: number;
  /** User + system CPU time of the process (all its threads). */
  cpuSeconds: number;
  /** Per CPU second: robust on a shared machine, and what "on one core" means. */
  packetsPerSecond: number;
  megabytesPerSecond: number;
  flowsPerSecond?: number;
  /** Per wall-clock second (start-up and waiting included). */
  wallPacketsPerSecond: number;
  peakRssMb: number;
  exitCode: number;
  note?: string;
}

export interface UnavailableRow {
  name: string;
  reason: string;
}

export interface Ratio {
  label: string;
  value: number;
  target?: string;
  met?: boolean;
  /**
   * Set when `value` is a measurement (requests/s, ms), not a ratio: the table shows it with this unit in
   * the "measured" column and, as its ratio, value / the target's number (0.2× for 398 req/s against ≥ 2000).
   */
  unit?: string;
}

function ratioCells(ratio: Ratio): { measured: string; ratio: string } {
  if (ratio.unit === undefined) return { measured: '', ratio: formatRatio(ratio.value) };
  const goal = Number((ratio.target ?? '').replace(/[^0-9.]/g, ''));
  const measured = `${ratio.value.toLocaleString('en-US')} ${ratio.unit}`;
  return { measured, ratio: goal > 0 ? formatRatio(ratio.value / goal) : '' };
}

export interface SectionResult {
  section: string;
  generatedAt: string;
  quick: boolean;
  machine: { cpuModel: string; cpus: number; memoryGb: number; node: string; os: string };
  capture: { path: string; bytes: number; packets: number; description: string };
  rows: BenchRow[];
  unavailable: UnavailableRow[];
  ratios: Ratio[];
  notes: string[];
}

export function machineInfo(): SectionResult['machine'] {
  let os: string = process.platform;
  try {
    os = `${process.platform} ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`;
  } catch {
    // uname is informative only
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    os,
  };
}

export function rowFrom(
  fields: Omit<
    BenchRow,
    'packetsPerSecond' | 'megabytesPerSecond' | 'flowsPerSecond' | 'peakRssMb' | 'wallPacketsPerSecond'
  > & {
    peakRssBytes: number;
  },
): BenchRow {
  const { peakRssBytes, ...rest } = fields;
  const seconds = fields.cpuSeconds;
  const row: BenchRow = {
    ...rest,
    packetsPerSecond: Math.round(fields.packets / seconds),
    wallPacketsPerSecond: Math.round(fields.packets / fields.wallSeconds),
    megabytesPerSecond: Math.round((fields.bytes / 1e6 / seconds) * 10) / 10,
    peakRssMb: Math.round((peakRssBytes / 1024 / 1024) * 10) / 10,
  };
  if (fields.flows !== undefined) {
    row.flowsPerSecond = Math.round(fields.flows / seconds);
  }
  return row;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function formatRatio(value: number): string {
  return value >= 10 ? `${value.toFixed(0)}×` : `${value.toFixed(2)}×`;
}

export function markdownFor(result: SectionResult): string {
  const hasFlows = result.rows.some((row) => row.flows !== undefined);
  const lines: string[] = [];
  lines.push(`# Benchmark: ${result.section}`, '');
  lines.push(
    `Run ${result.generatedAt}${result.quick ? ' (quick mode)' : ''} on ${result.machine.cpuModel}, ${result.machine.cpus} cores, ${result.machine.memoryGb} GB, Node ${result.machine.node}, ${result.machine.os}.`,
    '',
  );
  lines.push(
    'Rates (packets/s, flows/s, MB/s) are per CPU second (user + system, all threads) of each process; packets/s (wall) per elapsed second.',
    '',
    `Capture: \`${result.capture.path}\`, ${integer.format(result.capture.bytes)} bytes, ${integer.format(result.capture.packets)} packets: ${result.capture.description}`,
    '',
  );
  const header = ['tool', 'input', 'packets', ...(hasFlows ? ['flows'] : []), 'CPU s', 'wall s', 'packets/s'];
  header.push(...(hasFlows ? ['flows/s'] : []), 'MB/s', 'packets/s (wall)', 'peak RSS MB');
  lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const row of result.rows) {
    const cells = [
      row.name,
      row.input,
      integer.format(row.packets),
      ...(hasFlows ? [row.flows === undefined ? '' : integer.format(row.flows)] : []),
      row.cpuSeconds.toFixed(2),
      row.wallSeconds.toFixed(2),
      integer.format(row.packetsPerSecond),
      ...(hasFlows ? [row.flowsPerSecond === undefined ? '' : integer.format(row.flowsPerSecond)] : []),
      row.megabytesPerSecond.toFixed(1),
      integer.format(row.wallPacketsPerSecond),
      row.peakRssMb.toFixed(0),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (result.ratios.length > 0) {
    const measuredColumn = result.ratios.some((ratio) => ratio.unit !== undefined);
    lines.push(
      '',
      measuredColumn
        ? '| comparison | measured | ratio | target | met |'
        : '| comparison | ratio | target | met |',
      measuredColumn ? '| --- | --- | --- | --- | --- |' : '| --- | --- | --- | --- |',
    );
    for (const ratio of result.ratios) {
      const met = ratio.met === undefined ? '' : ratio.met ? 'yes' : 'no';
      const cells = ratioCells(ratio);
      lines.push(
        measuredColumn
          ? `| ${ratio.label} | ${cells.measured} | ${cells.ratio} | ${ratio.target ?? ''} | ${met} |`
          : `| ${ratio.label} | ${cells.ratio} | ${ratio.target ?? ''} | ${met} |`,
      );
    }
  }
  if (result.unavailable.length > 0) {
    lines.push('', 'Not measured in this run:', '');
    for (const entry of result.unavailable) {
      lines.push(`- ${entry.name}: ${entry.reason}`);
    }
  }
  if (result.notes.length > 0) {
    lines.push('', 'Notes:', '');
    for (const note of result.notes) {
      lines.push(`- ${note}`);
    }
  }
  lines.push('', 'Commands:', '');
  for (const row of result.rows) {
    lines.push(`- ${row.name}: \`${row.command}\`${row.note ? ` (${row.note})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function writeResults(resultsDir: string, result: SectionResult): { json: string; markdown: string } {
  mkdirSync(resultsDir, { recursive: true });
  const json = join(resultsDir, `${result.section}.json`);
  const markdown = join(resultsDir, `${result.section}.md`);
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(markdown, markdownFor(result));
  return { json, markdown };
}
