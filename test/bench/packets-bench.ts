/**
 * PACKETS section: per-packet throughput and peak memory of `ccf packets` against tcpdump, tshark and a scapy
 * reader, all on the same large capture in the same run (ratios, not absolute numbers, are the result).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BenchSetupError } from './support/bench-errors.js';
import { type BenchContext, benchCapture, ccfBin, commandExists, ensureCliBuilt } from './support/context.js';
import { slicePcap } from './support/large-capture.js';
import { measure } from './support/measure.js';
import { ensurePeer, SCAPY } from './support/python-peers.js';
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
  packets: z.number(),
  ipPackets: z.number(),
  seconds: z.number(),
  cpuSeconds: z.number(),
});
const PeerOutput = z.object({ packets: z.number(), seconds: z.number() });

const MB = 1024 * 1024;
const RSS_TARGET_MB = 256;

function countLines(path: string): number {
  const result = spawnSync('wc', ['-l', path], { encoding: 'utf8' });
  return Number(result.stdout.trim().split(/\s+/)[0]);
}

function lastJsonLine(text: string): unknown {
  const line = text.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
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

  // 3. Parse only: container reader + decoders, no CSV, in its own process.
  context.log('measuring parse-only');
  const parse = await measure(
    node,
    ['--import', 'tsx', join('test', 'bench', 'parse-only.ts'), capture.path],
    {
      cwd: context.repoDir,
    },
  );
  if (parse.exitCode !== 0) {
    throw new BenchSetupError(`parse-only failed: ${parse.stderr.slice(-1000)}`);
  }
  const parsed = ParseOnlyOutput.parse(lastJsonLine(parse.stdout));
  if (parsed.packets !== capture.packets) {
    throw new BenchSetupError(`parse-only read ${parsed.packets} of ${capture.packets} packets`);
  }
  const parseRow = rowFrom({
    name: 'ccf parse only (reader + decoders)',
    command: `node --import tsx test/bench/parse-only.ts ${capture.path}`,
    input: 'full',
    ...full,
    wallSeconds: parse.wallSeconds,
    cpuSeconds: parse.cpuSeconds,
    peakRssBytes: parse.peakRssBytes,
    exitCode: parse.exitCode,
    note: `excluding start-up: ${Math.round(parsed.packets / parsed.cpuSeconds).toLocaleString('en-US')} packets per CPU second; ${parsed.ipPackets} IP packets`,
  });
  rows.push(parseRow);

  // One round of the mix (its first `sourcePacketsPerRepetition` packets) is the whole traffic mix once: the
  // input of the slower peers, and of a second tcpdump run (tcpdump slows down per packet as the capture grows).
  const roundPackets = capture.sourcePacketsPerRepetition;
  const roundPath = join(context.outputDir, `round-${roundPackets}.pcap`);
  const round = await slicePcap(capture.path, roundPath, roundPackets);

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
  const scapy = ensurePeer(context.outputDir, SCAPY, context.log);
  if (scapy.ok) {
    const slicePackets = context.quick ? 10_000 : 50_000;
    const slicePath = join(context.outputDir, `slice-${slicePackets}.pcap`);
    const slice = await slicePcap(capture.path, slicePath, slicePackets);
    const scapyOut = join(context.outputDir, 'scapy.csv');
    context.log(`measuring scapy on ${slice.packets} packets`);
    const run = await measure(scapy.python, [
      join(context.repoDir, 'test', 'bench', 'peers', 'scapy_packets.py'),
      slicePath,
      scapyOut,
    ]);
    if (run.exitCode !== 0) {
      unavailable.push({
        name: 'scapy',
        reason: `runner failed (exit ${run.exitCode}): ${run.stderr.slice(-300)}`,
      });
    } else {
      const out = PeerOutput.parse(lastJsonLine(run.stdout));
      scapyRow = rowFrom({
        name: `scapy ${SCAPY.requirement.split('==')[1]} PcapReader per packet → CSV`,
        command: `python test/bench/peers/scapy_packets.py ${slicePath} ${scapyOut}`,
        input: 'slice',
        packets: out.packets,
        bytes: slice.bytes,
        wallSeconds: run.wallSeconds,
        cpuSeconds: run.cpuSeconds,
        peakRssBytes: run.peakRssBytes,
        exitCode: run.exitCode,
        note: `first ${out.packets} packets of the capture`,
      });
      rows.push(scapyRow);
    }
    rmSync(scapyOut, { force: true });
  } else {
    unavailable.push({ name: 'scapy', reason: scapy.reason });
  }

  const ratios: Ratio[] = [];
  const steadyParseRate = parsed.packets / parsed.cpuSeconds;
  ratios.push({
    label: 'ccf parse-only packets per CPU second, whole process ÷ 10 M',
    value: parseRow.packetsPerSecond / 10_000_000,
    target: '≥ 1 (10 M packets/s)',
    met: parseRow.packetsPerSecond >= 10_000_000,
  });
  ratios.push({
    label: 'ccf parse-only packets per CPU second, excluding start-up ÷ 10 M',
    value: steadyParseRate / 10_000_000,
    target: '≥ 1 (10 M packets/s)',
    met: steadyParseRate >= 10_000_000,
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
