/**
 * PACKETS section: per-packet throughput and peak memory of `ccf packets` against tcpdump, tshark and a scapy
 * reader, all on the same large capture in the same run (ratios, not absolute numbers, are the result).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BenchSetupError } from './support/bench-errors.js';
import { type BenchContext, benchCapture, ccfBin, commandExists, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { lastJsonLine, measure } from './support/measure.js';
import { measurePythonPeer, SCAPY } from './support/python-peers.js';
import {
  type BenchRow,
  machineInfo,
  type Ratio,
  rowFrom,
  type SectionResult,
  type UnavailableRow,
} from './support/results.js';

/** tshark fields matching the per-packet CSV's columns as closely as tshark names them. */
export const TSHARK_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'frame.encap_type',
  'eth.src',
  'eth.dst',
  'eth.type',
  'vlan.id',
  'ip.version',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'ip.proto',
  'ipv6.nxt',
  'ip.ttl',
  'ipv6.hlim',
  'ip.len',
  'ipv6.plen',
  'ip.frag_offset',
  'ip.flags.mf',
  'tcp.srcport',
  'udp.srcport',
  'tcp.dstport',
  'udp.dstport',
  'tcp.flags',
  'tcp.flags.str',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.window_size_value',
  'tcp.hdr_len',
  'tcp.len',
  'udp.length',
  'icmp.type',
  'icmp.code',
];

const ParseOnlyOutput = z.object({
  mode: z.enum(['file', 'memory']),
  packets: z.number(),
  ipPackets: z.number(),
  seconds: z.number(),
  cpuSeconds: z.number(),
  userSeconds: z.number(),
  systemSeconds: z.number(),
  passCpuSeconds: z.array(z.number()).min(1),
  /** Memory mode: a fixed L2-resident compute workload timed after each pass (core speed). */
  controlCpuSeconds: z.array(z.number()),
  /** Memory mode: the bare record-header walk over the same buffer after each pass (memory latency). */
  walkCpuSeconds: z.array(z.number()),
  /** Memory mode: one byte of every 64-byte line of the same buffer after each pass (memory bandwidth). */
  streamCpuSeconds: z.array(z.number()),
});
/** In-memory passes; the first WARMUP_PASSES hold V8's tier-up (interpreter, OSR, deopts) and are left out. */
const MEMORY_PASSES = 30;
const WARMUP_PASSES = 5;
const PARSE_TARGET = 10_000_000;
const PeerOutput = z.object({ packets: z.number(), seconds: z.number() });

const MB = 1024 * 1024;
const RSS_TARGET_MB = 256;

function countLines(path: string): number {
  const result = spawnSync('wc', ['-l', path], { encoding: 'utf8' });
  return Number(result.stdout.trim().split(/\s+/)[0]);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median and best (smallest) of `values`, as rates `units / value`. */
function rateSpread(units: number, values: readonly number[]): { median: number; best: number } {
  return { median: units / median(values), best: units / Math.min(...values) };
}

function rate(packets: number, cpuSeconds: number): string {
  return Math.round(packets / cpuSeconds).toLocaleString('en-US');
}

function relativeTo(context: BenchContext, path: string): string {
  return path.startsWith(`${context.repoDir}/`) ? path.slice(context.repoDir.length + 1) : path;
}

/**
 * Compiles one benchmark script of test/bench/ (and the modules it imports) to JavaScript with the project's
 * TypeScript compiler and the build's module settings, into bench-output/compiled/, and returns the script's
 * compiled path. Running compiled code keeps tsx's start-up and on-the-fly transform out of the measurement;
 * the product modules compile to the same JavaScript as in dist/.
 */
export function compileBenchScript(context: BenchContext, script: string): string {
  const outDir = join(context.outputDir, 'compiled');
  const tsc = join(context.repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    tsc,
    '--outDir',
    outDir,
    '--rootDir',
    context.repoDir,
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2023',
    '--lib',
    'es2023',
    '--types',
    'node',
    '--skipLibCheck',
    // Type checking is `npm run typecheck`'s job; here only the emitted JavaScript matters.
    '--noCheck',
    join(context.repoDir, 'test', 'bench', script),
  ];
  const result = spawnSync(process.execPath, args, { cwd: context.repoDir, encoding: 'utf8' });
  const compiled = join(outDir, 'test', 'bench', script.replace(/\.ts$/, '.js'));
  if (result.status !== 0 || !existsSync(compiled)) {
    throw new BenchSetupError(
      `compiling ${script} failed: ${result.stdout.slice(0, 2000)}${result.stderr.slice(0, 1000)}`,
    );
  }
  return compiled;
}

export async function runPacketsBench(context: BenchContext): Promise<SectionResult> {
  const notes: string[] = [];
  const unavailable: UnavailableRow[] = [];
  const rows: BenchRow[] = [];
  const capture = await benchCapture(context);
  notes.push(...ensureCliBuilt(context));
  const node = process.execPath;
  const full = { packets: capture.packets, bytes: capture.bytes };

  // 1. ccf packets → CSV file (the product, as `npx ccf` runs it).
  const csvPath = join(context.outputDir, 'packets.csv');
  context.log('measuring ccf packets → file');
  const ccfFile = await measure(node, [ccfBin(context), 'packets', capture.path, '-o', csvPath]);
  if (ccfFile.exitCode !== 0) {
    throw new BenchSetupError(
      `ccf packets failed (exit ${ccfFile.exitCode}): ${ccfFile.stderr.slice(-1000)}`,
    );
  }
  const csvRows = countLines(csvPath) - 1;
  if (csvRows !== capture.packets) {
    throw new BenchSetupError(`ccf packets wrote ${csvRows} rows for ${capture.packets} packets`);
  }
  rmSync(csvPath, { force: true });
  const ccfCsv = rowFrom({
    name: 'ccf packets → CSV file',
    command: `node dist/functions/cli/main.js packets ${capture.path} -o ${csvPath}`,
    input: 'full',
    ...full,
    wallSeconds: ccfFile.wallSeconds,
    cpuSeconds: ccfFile.cpuSeconds,
    peakRssBytes: ccfFile.peakRssBytes,
    exitCode: ccfFile.exitCode,
    note: `row count checked: ${csvRows}`,
  });
  rows.push(ccfCsv);

  // 2. Same, output discarded: the like-for-like comparison with tcpdump's text to /dev/null.
  context.log('measuring ccf packets → /dev/null');
  const ccfNull = await measure(node, [ccfBin(context), 'packets', capture.path, '-o', '/dev/null']);
  const ccfNullRow = rowFrom({
    name: 'ccf packets → /dev/null',
    command: `node dist/functions/cli/main.js packets ${capture.path} -o /dev/null`,
    input: 'full',
    ...full,
    wallSeconds: ccfNull.wallSeconds,
    cpuSeconds: ccfNull.cpuSeconds,
    peakRssBytes: ccfNull.peakRssBytes,
    exitCode: ccfNull.exitCode,
  });
  rows.push(ccfNullRow);

  // One round of the mix (its first `sourcePacketsPerRepetition` packets) is the whole traffic mix once: the
  // input of the slower peers, and of a second tcpdump run (tcpdump slows down per packet as the capture grows).
  const roundPackets = capture.sourcePacketsPerRepetition;
  const roundPath = join(context.outputDir, `round-${roundPackets}.pcap`);
  const round = await slicePcap(capture.path, roundPath, roundPackets);

  // 3. Parse only: container reader + decoders, no CSV, compiled to JavaScript (Node's start-up, not tsx's),
  //    each mode in its own process: (a) the whole file, start-up and file reads included; (b) one round held
  //    in memory and parsed as many times as the file has rounds (the same packets), parsing timed alone.
  const parseOnly = compileBenchScript(context, 'parse-only.ts');
  context.log('measuring parse-only (file)');
  const parseFile = await measure(node, [parseOnly, 'file', capture.path], { cwd: context.repoDir });
  if (parseFile.exitCode !== 0) {
    throw new BenchSetupError(`parse-only (file) failed: ${parseFile.stderr.slice(-1000)}`);
  }
  const parsedFile = ParseOnlyOutput.parse(lastJsonLine(parseFile.stdout));
  if (parsedFile.packets !== capture.packets) {
    throw new BenchSetupError(`parse-only read ${parsedFile.packets} of ${capture.packets} packets`);
  }
  const parseRow = rowFrom({
    name: 'ccf parse only (reader + decoders), file, whole process',
    command: `node ${relativeTo(context, parseOnly)} file ${capture.path}`,
    input: 'full',
    ...full,
    wallSeconds: parseFile.wallSeconds,
    cpuSeconds: parseFile.cpuSeconds,
    peakRssBytes: parseFile.peakRssBytes,
    exitCode: parseFile.exitCode,
    note: `compiled JS; excluding Node's start-up: ${rate(parsedFile.packets, parsedFile.cpuSeconds)} packets per CPU second (user ${parsedFile.userSeconds.toFixed(2)} s, system ${parsedFile.systemSeconds.toFixed(2)} s: the kernel copying the file out of the page cache); ${parsedFile.ipPackets} IP packets`,
  });
  rows.push(parseRow);

  const passes = MEMORY_PASSES;
  context.log(`measuring parse-only (one round in memory, ${passes} passes)`);
  const parseMemory = await measure(node, [parseOnly, 'memory', roundPath, String(passes)], {
    cwd: context.repoDir,
  });
  if (parseMemory.exitCode !== 0) {
    throw new BenchSetupError(`parse-only (memory) failed: ${parseMemory.stderr.slice(-1000)}`);
  }
  const parsedMemory = ParseOnlyOutput.parse(lastJsonLine(parseMemory.stdout));
  if (parsedMemory.packets !== round.packets * passes) {
    throw new BenchSetupError(
      `parse-only (memory) read ${parsedMemory.packets} of ${round.packets * passes} packets`,
    );
  }
  // The first passes hold V8's warm-up (interpreter, on-stack replacement, deopts on the first rare frame
  // types, optimised code compiled on a background thread); the warmed passes are the ones after them. Their
  // median is the speed on this shared machine; their best is the code's speed when neither the other core
  // nor the host's other tenants were slowing this core's caches and memory down (noise only ever slows a
  // pass). Both are reported; the control workloads show how much the machine itself varied meanwhile.
  const warmed = parsedMemory.passCpuSeconds.slice(WARMUP_PASSES);
  const warmedRate = rateSpread(round.packets, warmed);
  const controlSpread = rateSpread(1, parsedMemory.controlCpuSeconds.slice(WARMUP_PASSES));
  const walkSpread =
    parsedMemory.walkCpuSeconds.length > WARMUP_PASSES
      ? rateSpread(round.packets, parsedMemory.walkCpuSeconds.slice(WARMUP_PASSES))
      : undefined;
  // Bytes per CPU second for pulling the buffer in line by line: the pass time this implies is a floor for a
  // parse that touches every line (the hardware prefetcher pulls in lines the decoders never read).
  const streamSpread = rateSpread(round.bytes, parsedMemory.streamCpuSeconds.slice(WARMUP_PASSES));
  const memoryRow = rowFrom({
    name: `ccf parse only (reader + decoders), one round in memory × ${passes}, parsing only`,
    command: `node ${relativeTo(context, parseOnly)} memory ${roundPath} ${passes}`,
    input: 'full',
    packets: parsedMemory.packets,
    bytes: round.bytes * passes,
    wallSeconds: parsedMemory.seconds,
    cpuSeconds: parsedMemory.cpuSeconds,
    peakRssBytes: parseMemory.peakRssBytes,
    exitCode: parseMemory.exitCode,
    note: `CPU time of the ${passes} parses only (warm-up included; loading the file, start-up and the control workloads excluded); first pass ${rate(round.packets, parsedMemory.passCpuSeconds[0] ?? Number.NaN)} packets/s; warmed passes ${WARMUP_PASSES + 1}..${passes}: median ${rate(round.packets, median(warmed))}, best ${rate(round.packets, Math.min(...warmed))} packets/s; peak RSS includes the ${Math.round(round.bytes / MB)} MB held in memory`,
  });
  rows.push(memoryRow);

  // 4. tcpdump printing every packet: the whole capture, and one round.
  let tcpdumpRow: BenchRow | undefined;
  let tcpdumpRoundRow: BenchRow | undefined;
  if (commandExists('tcpdump')) {
    for (const input of ['full', 'slice'] as const) {
      const path = input === 'full' ? capture.path : roundPath;
      context.log(`measuring tcpdump -nn -tt -r (${input === 'full' ? 'whole capture' : 'one round'})`);
      const run = await measure('tcpdump', ['-nn', '-tt', '-r', path], { stdoutPath: '/dev/null' });
      const row = rowFrom({
        name: input === 'full' ? 'tcpdump -nn -tt -r' : 'tcpdump -nn -tt -r, one round',
        command: `tcpdump -nn -tt -r ${path} > /dev/null`,
        input,
        ...(input === 'full' ? full : { packets: round.packets, bytes: round.bytes }),
        wallSeconds: run.wallSeconds,
        cpuSeconds: run.cpuSeconds,
        peakRssBytes: run.peakRssBytes,
        exitCode: run.exitCode,
        ...(input === 'slice' ? { note: `first ${round.packets} packets (one round of the mix)` } : {}),
      });
      rows.push(row);
      if (input === 'full') tcpdumpRow = row;
      else tcpdumpRoundRow = row;
    }
  } else {
    unavailable.push({ name: 'tcpdump', reason: 'not installed (apt-get install -y tcpdump)' });
  }

  // 5. tshark with the same columns, on one round of the mix (a full round is the exact traffic mix; the whole
  //    file would take tshark the better part of an hour). Twice: with its default preferences, and with
  //    TCP/IP reassembly off (CCF-Catcher reassembles nothing; the header fields asked for do not need it).
  let tsharkRow: BenchRow | undefined;
  if (commandExists('tshark')) {
    const variants = [
      { label: 'default preferences', prefs: [] as string[], timeoutSeconds: context.quick ? 60 : 240 },
      {
        label: 'reassembly off',
        prefs: [
          '-o',
          'tcp.desegment_tcp_streams:FALSE',
          '-o',
          'ip.defragment:FALSE',
          '-o',
          'ipv6.defragment:FALSE',
        ],
        timeoutSeconds: context.quick ? 60 : 300,
      },
    ];
    for (const variant of variants) {
      const tsharkOut = join(context.outputDir, 'tshark.csv');
      const args = [
        '-n',
        ...variant.prefs,
        '-r',
        roundPath,
        '-T',
        'fields',
        '-E',
        'separator=,',
        '-E',
        'header=y',
      ];
      for (const field of TSHARK_FIELDS) args.push('-e', field);
      context.log(`measuring tshark -T fields (${variant.label}) on ${round.packets} packets`);
      const run = await measure('tshark', args, {
        stdoutPath: tsharkOut,
        timeoutSeconds: variant.timeoutSeconds,
      });
      const tsharkRows = countLines(tsharkOut) - 1;
      rmSync(tsharkOut, { force: true });
      if (run.exitCode !== 0 || tsharkRows !== round.packets) {
        unavailable.push({
          name: `tshark (${variant.label})`,
          reason: `did not finish one round within ${variant.timeoutSeconds} s (wall clock, shared machine): ${tsharkRows} of ${round.packets} rows written, about ${Math.round(tsharkRows / run.wallSeconds)} packets per wall second`,
        });
        continue;
      }
      const row = rowFrom({
        name: `tshark -T fields, same columns (${variant.label})`,
        command: `tshark -n ${variant.prefs.join(' ')}${variant.prefs.length ? ' ' : ''}-r ${roundPath} -T fields -E separator=, -E header=y -e … (${TSHARK_FIELDS.length} fields) > ${tsharkOut}`,
        input: 'slice',
        packets: round.packets,
        bytes: round.bytes,
        wallSeconds: run.wallSeconds,
        cpuSeconds: run.cpuSeconds,
        peakRssBytes: run.peakRssBytes,
        exitCode: run.exitCode,
        note: `one round of the mix (first ${round.packets} packets), ${tsharkRows} rows`,
      });
      rows.push(row);
      tsharkRow ??= row;
    }
  } else {
    unavailable.push({ name: 'tshark', reason: 'not installed (apt-get install -y tshark)' });
  }
  rmSync(roundPath, { force: true });

  // 6. scapy, per packet, on a leading slice (it is ~1000× slower), normalised per packet.
  let scapyRow: BenchRow | undefined;
  const slicePackets = context.quick ? 10_000 : 50_000;
  const slicePath = join(context.outputDir, `slice-${slicePackets}.pcap`);
  const slice = await slicePcap(capture.path, slicePath, slicePackets);
  const scapyOut = join(context.outputDir, 'scapy.csv');
  const scapy = await measurePythonPeer(
    context,
    SCAPY,
    'scapy_packets.py',
    [slicePath, scapyOut],
    PeerOutput,
  );
  rmSync(scapyOut, { force: true });
  if ('unavailable' in scapy) {
    unavailable.push({ name: 'scapy', reason: scapy.unavailable });
  } else {
    const { run, result } = scapy;
    scapyRow = rowFrom({
      name: `scapy ${SCAPY.requirement.split('==')[1]} PcapReader per packet → CSV`,
      command: `python test/bench/peers/scapy_packets.py ${slicePath} ${scapyOut}`,
      input: 'slice',
      packets: result.packets,
      bytes: slice.bytes,
      wallSeconds: run.wallSeconds,
      cpuSeconds: run.cpuSeconds,
      peakRssBytes: run.peakRssBytes,
      exitCode: run.exitCode,
      note: `first ${result.packets} packets of the capture`,
    });
    rows.push(scapyRow);
  }

  const ratios: Ratio[] = [];
  ratios.push({
    label: `ccf parse-only in memory, warmed passes (${WARMUP_PASSES + 1}..${passes}), median ÷ 10 M: the target’s measure on this shared machine`,
    value: warmedRate.median / PARSE_TARGET,
    target: '≥ 1 (10 M packets/s on one core)',
    met: warmedRate.median >= PARSE_TARGET,
  });
  ratios.push({
    label: `ccf parse-only in memory, warmed passes, best ÷ 10 M: the code’s speed on an uncontended core`,
    value: warmedRate.best / PARSE_TARGET,
    target: '≥ 1 (10 M packets/s on one core)',
    met: warmedRate.best >= PARSE_TARGET,
  });
  ratios.push({
    label: `ccf parse-only in memory, all ${passes} passes with warm-up ÷ 10 M`,
    value: memoryRow.packetsPerSecond / PARSE_TARGET,
    target: '≥ 1',
    met: memoryRow.packetsPerSecond >= PARSE_TARGET,
  });
  ratios.push({
    label: 'ccf parse-only from the file, whole process (start-up, file reads, warm-up) ÷ 10 M',
    value: parseRow.packetsPerSecond / PARSE_TARGET,
    target: '≥ 1',
    met: parseRow.packetsPerSecond >= PARSE_TARGET,
  });
  if (tcpdumpRow) {
    ratios.push({
      label: 'ccf packets → CSV file vs tcpdump -nn -tt -r (packets/s)',
      value: ccfCsv.packetsPerSecond / tcpdumpRow.packetsPerSecond,
      target: '≥ 1',
      met: ccfCsv.packetsPerSecond >= tcpdumpRow.packetsPerSecond,
    });
    if (tcpdumpRoundRow) {
      ratios.push({
        label: 'ccf packets → CSV file vs tcpdump -nn -tt -r on one round (packets/s; tcpdump’s best case)',
        value: ccfCsv.packetsPerSecond / tcpdumpRoundRow.packetsPerSecond,
        target: '≥ 1',
        met: ccfCsv.packetsPerSecond >= tcpdumpRoundRow.packetsPerSecond,
      });
    }
    ratios.push({
      label: 'ccf packets → /dev/null vs tcpdump -nn -tt -r → /dev/null (packets/s)',
      value: ccfNullRow.packetsPerSecond / tcpdumpRow.packetsPerSecond,
      target: '≥ 1',
      met: ccfNullRow.packetsPerSecond >= tcpdumpRow.packetsPerSecond,
    });
  }
  if (tsharkRow) {
    for (const row of rows.filter((r) => r.name.startsWith('tshark'))) {
      ratios.push({
        label: `ccf packets → CSV file vs ${row.name} (packets/s)`,
        value: ccfCsv.packetsPerSecond / row.packetsPerSecond,
        target: '≈ 30 (issue 2)',
      });
    }
  }
  if (scapyRow) {
    ratios.push({
      label: 'ccf packets → CSV file vs scapy (packets/s, scapy on a slice)',
      value: ccfCsv.packetsPerSecond / scapyRow.packetsPerSecond,
      target: '≈ 150 (issue 2)',
    });
  }
  for (const row of [ccfCsv, parseRow]) {
    ratios.push({
      label: `${row.name}: peak RSS ÷ ${RSS_TARGET_MB} MB`,
      value: row.peakRssMb / RSS_TARGET_MB,
      target: '< 1',
      met: row.peakRssMb < RSS_TARGET_MB,
    });
  }
  notes.push(
    `Parse only, two rows. "In memory": one round of the mix (${round.packets.toLocaleString('en-US')} packets, ${Math.round(round.bytes / MB)} MB) is read into memory first, then parsed ${passes} times through readCapture(buffer), the whole-buffer fast path; only the parsing is timed (CPU time of the process during each pass). The "10 M packets/s on one core" target is compared with the warmed passes ${WARMUP_PASSES + 1}..${passes} (the first ${WARMUP_PASSES} hold V8's tier-up: the first pass alone runs at ${rate(round.packets, parsedMemory.passCpuSeconds[0] ?? Number.NaN)} packets/s): their median (${rate(round.packets, median(warmed))}) is the speed on this shared machine, their best (${rate(round.packets, Math.min(...warmed))}) the code's speed when nothing else slowed the core down. That is the reader + decoders' own speed, with no file I/O and no Node start-up.`,
    `Why the warmed passes of one process vary (same code, same bytes; measured separately with --trace-gc and --trace-deopt: nothing is allocated per packet, a few scavenges per run, ~10 ms in all, and the deopts all fall in the first passes): the machine. A fixed L2-resident compute loop timed after every pass ran at a median ${(controlSpread.best / controlSpread.median).toFixed(2)}× its best speed in this run${walkSpread === undefined ? '' : `, and the bare walk over the record headers of the same buffer (the dependent loads any reader must follow through ${Math.round(round.bytes / MB)} MB, far beyond the caches; no decoding) at ${Math.round(walkSpread.median).toLocaleString('en-US')} records/s median, ${Math.round(walkSpread.best).toLocaleString('en-US')} best`}; reading one byte of each 64-byte line of the buffer ran at ${(streamSpread.median / 1e9).toFixed(1)} GB/s median, ${(streamSpread.best / 1e9).toFixed(1)} GB/s best: a pass that pulls in all ${Math.round(round.bytes / MB)} MB (the hardware prefetcher fetches lines ahead whether the decoders read them or not) cannot beat ${rate(round.packets, round.bytes / streamSpread.median)} packets/s (median) or ${rate(round.packets, round.bytes / streamSpread.best)} (best) on this machine. Parsing this buffer is bound by memory latency (one header line per record, found only once the previous record's length is read) and by the core's caches that the decoders' tables and code live in, both shared with the other jobs; in earlier runs (before this method) single medians of 6.4 M, 7.1 M and 11.7 M packets/s were reported.`,
    `"File, whole process" is the end-to-end figure: Node's start-up, reading ${(capture.bytes / 1e9).toFixed(2)} GB from the page cache in 1 MiB reads into one reused buffer (the kernel's copy is the system time in its note; larger or smaller reads measured no different), and V8 compiling the hot code while the first ~200,000 packets run at ~1 M/s (measured separately, at load ~10). It cannot reach 10 M/s on this machine whatever the parser does: start-up, the copy and the warm-up alone take about half of that budget.`,
    'Both parse-only rows run compiled JavaScript (test/bench/parse-only.ts compiled by tsc with the build’s settings into bench-output/compiled/), so no tsx start-up or on-the-fly transform is measured.',
    'Rates are packets (or capture bytes, MB = 10^6 B) per CPU second (user + system time of the whole process, start-up included, all threads: Node’s GC and I/O threads count against it); wall-clock rates are shown too. Every tool runs alone, one after the other, in the same harness run.',
    `Peak RSS is GNU time's maximum resident set size of the process (MiB = ${MB} B, shown as MB).`,
    'The machine is shared (2 cores, other jobs running), so absolute numbers vary between runs; the ratios between tools measured in the same run are the result.',
  );
  return {
    section: 'packets',
    generatedAt: new Date().toISOString(),
    quick: context.quick,
    machine: machineInfo(),
    capture: {
      path: capture.path.replace(`${context.repoDir}/`, ''),
      bytes: capture.bytes,
      packets: capture.packets,
      description: `${capture.sourceFiles} clean Ethernet pcaps from the shared corpora (zeek, suricata-verify, PcapPlusPlus, StopDDoS, slips) repeated ${capture.repetitions}× with shifted timestamps (IPv4 addresses varied per round)`,
    },
    rows,
    unavailable,
    ratios,
    notes,
  };
}
