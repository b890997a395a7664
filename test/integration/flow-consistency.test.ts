/**
 * Flow engine against the shared corpora (`CCF_SHARED_DIR`, default <repo>/../shared):
 *
 * 1. Accounting, over every capture the reader accepts: each IP packet the decoder sees is either counted in
 *    exactly one flow or counted as unassigned with a reason; non-IP frames are `no_ip_header`; the packets of
 *    the emitted flows add up to the meter's count.
 * 2. tshark agreement, on the attack captures (StopDDoS, slips-dataset) and a sample of the others: per TCP/UDP
 *    5-tuple that our meter keeps as one flow (no termination or timeout split), the packets per direction equal
 *    `tshark -q -z conv,tcp -z conv,udp`, and the payload bytes per direction equal the sum of tshark's
 *    `tcp.len` / `udp.length − 8`.
 *
 * Skips with a message when the corpora or tshark are absent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import type { FlowRecord } from '../../functions/flows/flow-columns.js';
import { FlowMeter, type FlowRunSummary } from '../../functions/flows/flow-meter.js';
import { isCcfError } from '../../functions/platform/errors.js';

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedDir = process.env.CCF_SHARED_DIR ?? resolve(repoDir, '..', 'shared');
const corporaDir = join(sharedDir, 'corpora');
const manifestPath = join(corporaDir, 'MANIFEST.csv');
const haveCorpora = existsSync(manifestPath);
const haveTshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;

if (!haveCorpora) console.warn(`flow-consistency: skipped, no corpora at ${corporaDir} (set CCF_SHARED_DIR)`);
if (!haveTshark) console.warn('flow-consistency: tshark comparison skipped, tshark not installed');

interface ManifestEntry {
  path: string;
  bytes: number;
  collection: string;
}

function manifest(): ManifestEntry[] {
  const lines = readFileSync(manifestPath, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const pathAt = header.indexOf('path');
  const bytesAt = header.indexOf('bytes');
  const collectionAt = header.indexOf('collection');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return { path: cells[pathAt]!, bytes: Number(cells[bytesAt]), collection: cells[collectionAt]! };
  });
}

interface MeterResult {
  frames: number;
  ipPackets: number;
  nonIp: number;
  records: FlowRecord[];
  summary: FlowRunSummary;
}

async function meterFile(path: string): Promise<MeterResult | undefined> {
  const records: FlowRecord[] = [];
  // No VLAN split, as tshark's conversation tables ignore VLANs.
  const meter = new FlowMeter({ vlanAware: false }, (record) => records.push(record));
  const packet = new DecodedPacket();
  let frames = 0;
  let ipPackets = 0;
  let nonIp = 0;
  try {
    await readCaptureFile(path, (frame) => {
      frames++;
      decodeFrame(frame, packet);
      if (packet.ipVersion === 4 || packet.ipVersion === 6) ipPackets++;
      else nonIp++;
      meter.add(frame, packet);
    });
  } catch (error) {
    if (isCcfError(error)) return undefined; // not a capture at all: the reader's tests cover these
    throw error;
  }
  return { frames, ipPackets, nonIp, records, summary: meter.finish() };
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Direction-aware totals keyed by "proto|srcIp|srcPort|dstIp|dstPort". */
type Totals = Map<string, { packets: number; bytes: number }>;

function add(totals: Totals, key: string, packets: number): void {
  const entry = totals.get(key) ?? { packets: 0, bytes: 0 };
  entry.packets += packets;
  totals.set(key, entry);
}

const CONV_LINE = /^(.+):(\d+)\s+<->\s+(.+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+/;

async function tsharkConversations(path: string): Promise<Totals> {
  const text = await run('tshark', ['-n', '-r', path, '-q', '-z', 'conv,tcp', '-z', 'conv,udp']);
  const totals: Totals = new Map();
  let proto = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('TCP Conversations')) proto = 6;
    else if (line.startsWith('UDP Conversations')) proto = 17;
    const match = CONV_LINE.exec(line.trim());
    if (match === null || proto === 0) continue;
    const [, a, aPort, b, bPort, bToA, aToB] = match;
    // tshark lists a 5-tuple once per TCP stream / UDP conversation instance: add them up.
    add(totals, `${proto}|${a}|${aPort}|${b}|${bPort}`, Number(aToB));
    add(totals, `${proto}|${b}|${bPort}|${a}|${aPort}`, Number(bToA));
  }
  return totals;
}

/** Payload bytes per direction from tshark's own dissection (innermost header when tunneled). */
async function tsharkPayloadBytes(path: string): Promise<Totals> {
  const fields = [
    'ip.src',
    'ip.dst',
    'ipv6.src',
    'ipv6.dst',
    'tcp.srcport',
    'tcp.dstport',
    'tcp.len',
    'udp.srcport',
    'udp.dstport',
    'udp.length',
    'ip.len',
    'ip.hdr_len',
    'ipv6.plen',
    'icmp.type',
    'icmpv6.type',
  ];
  const text = await run('tshark', [
    '-n',
    '-r',
    path,
    '-T',
    'fields',
    '-E',
    'separator=\t',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  const totals: Totals = new Map();
  const last = (cell: string | undefined): string =>
    (cell ?? '')
      .split(',')
      .filter((v) => v !== '')
      .at(-1) ?? '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const c = line.split('\t');
    // ICMP errors quote the offending packet's UDP/TCP header; that is not a UDP/TCP packet (conv agrees).
    if (last(c[13]) !== '' || last(c[14]) !== '') continue;
    const v4 = last(c[0]) !== '';
    const src = v4 ? last(c[0]) : last(c[2]);
    const dst = v4 ? last(c[1]) : last(c[3]);
    let key: string;
    let bytes: number;
    if (last(c[4]) !== '') {
      key = `6|${src}|${last(c[4])}|${dst}|${last(c[5])}`;
      bytes = Number(last(c[6]) || 0);
    } else if (last(c[7]) !== '') {
      key = `17|${src}|${last(c[7])}|${dst}|${last(c[8])}`;
      // A UDP length field larger than the IP payload is capped by the IP length (as the decoder does).
      const ipPayload = v4 ? Number(last(c[10])) - Number(last(c[11])) : Number(last(c[12]));
      const udpLength = Number(last(c[9]) || 8);
      bytes = Math.max(
        0,
        (Number.isFinite(ipPayload) && ipPayload > 0 ? Math.min(udpLength, ipPayload) : udpLength) - 8,
      );
    } else continue;
    const entry = totals.get(key) ?? { packets: 0, bytes: 0 };
    entry.packets++;
    entry.bytes += bytes;
    totals.set(key, entry);
  }
  return totals;
}

describe.skipIf(!haveCorpora)('flow accounting over every corpus capture', () => {
  it('puts every IP packet in exactly one flow or counts it as unassigned with a reason', async () => {
    const entries = manifest();
    let checked = 0;
    let packetsInFlows = 0;
    const unassigned = new Map<string, number>();
    for (const entry of entries) {
      const result = await meterFile(join(corporaDir, entry.path));
      if (result === undefined) continue;
      checked++;
      const { summary, records } = result;
      const where = entry.path;
      expect(summary.packets, where).toBe(result.frames);
      expect(summary.unassignedByReason.no_ip_header, where).toBe(result.nonIp);
      const ipUnassigned = summary.unassignedPackets - summary.unassignedByReason.no_ip_header;
      expect(summary.packetsInFlows + ipUnassigned, where).toBe(result.ipPackets);
      const inRecords = records.reduce(
        (total, r) => total + r['Total Fwd Packet'] + r['Total Bwd packets'],
        0,
      );
      expect(inRecords, where).toBe(summary.packetsInFlows);
      expect(records.length, where).toBe(summary.flows);
      packetsInFlows += summary.packetsInFlows;
      for (const [reason, count] of Object.entries(summary.unassignedByReason)) {
        unassigned.set(reason, (unassigned.get(reason) ?? 0) + count);
      }
    }
    console.info(
      `flow-consistency: ${checked} captures, ${packetsInFlows} packets in flows, unassigned ${JSON.stringify(Object.fromEntries(unassigned))}`,
    );
    expect(checked).toBeGreaterThan(1000);
  }, 240_000);
});

describe.skipIf(!haveCorpora || !haveTshark)('flows agree with tshark conversations', () => {
  it('per unsplit TCP/UDP 5-tuple: packets and payload bytes per direction', async () => {
    const entries = manifest();
    const attack = entries.filter(
      (e) => e.collection === 'StopDDoS-packet-captures' || e.collection === 'slips-dataset',
    );
    // A deterministic sample of the other collections (small and mid-size files), to keep the run short.
    const others = entries
      .filter((e) => !attack.includes(e) && e.bytes > 2_000 && e.bytes < 3_000_000)
      .filter((_, i) => i % 60 === 0);
    const files = [...attack, ...others].filter((e) => /\.(pcap|pcapng|cap)$/i.test(e.path));
    let compared = 0;
    const mismatches: string[] = [];
    const compareFile = async (entry: ManifestEntry): Promise<void> => {
      const path = join(corporaDir, entry.path);
      const ours = await meterFile(path);
      // IP fragments: tshark reassembles datagrams (bytes of the whole datagram, or nothing when a fragment is
      // missing); the meter attributes the first fragment and counts the rest as unassigned. Not comparable.
      if (ours === undefined || ours.summary.unassignedByReason.ip_fragment > 0) return;
      const [conversations, payload] = await Promise.all([
        tsharkConversations(path),
        tsharkPayloadBytes(path),
      ]);
      // Our flows per 5-tuple; only tuples kept whole as one flow are comparable.
      const flowsPerTuple = new Map<string, FlowRecord[]>();
      for (const r of ours.records) {
        if (r.Protocol !== 6 && r.Protocol !== 17) continue;
        const [a, b] = [`${r['Src IP']}|${r['Src Port']}`, `${r['Dst IP']}|${r['Dst Port']}`].sort();
        const tuple = `${r.Protocol}|${a}|${b}`;
        flowsPerTuple.set(tuple, [...(flowsPerTuple.get(tuple) ?? []), r]);
      }
      for (const records of flowsPerTuple.values()) {
        if (records.length !== 1) continue;
        const r = records[0]!;
        const forward = `${r.Protocol}|${r['Src IP']}|${r['Src Port']}|${r['Dst IP']}|${r['Dst Port']}`;
        const backward = `${r.Protocol}|${r['Dst IP']}|${r['Dst Port']}|${r['Src IP']}|${r['Src Port']}`;
        const convForward = conversations.get(forward);
        if (convForward === undefined) continue; // e.g. inside a tunnel tshark does not table
        compared++;
        const convBackward = conversations.get(backward) ?? { packets: 0, bytes: 0 };
        const bytesForward = payload.get(forward)?.bytes ?? 0;
        const bytesBackward = payload.get(backward)?.bytes ?? 0;
        const ours2 = [
          r['Total Fwd Packet'],
          r['Total Bwd packets'],
          r['Total Length of Fwd Packet'],
          r['Total Length of Bwd Packet'],
        ];
        const theirs = [convForward.packets, convBackward.packets, bytesForward, bytesBackward];
        // cic-fork decides direction by IP address alone, so with equal IPs every packet is forward: compare totals.
        const ok =
          r['Src IP'] === r['Dst IP']
            ? ours2[0]! + ours2[1]! === theirs[0]! + theirs[1]! &&
              ours2[2]! + ours2[3]! === theirs[2]! + theirs[3]!
            : ours2.every((value, i) => value === theirs[i]);
        if (!ok) {
          mismatches.push(
            `${entry.path} ${forward}: ours ${ours2.join('/')}, tshark ${theirs.join('/')} (fwd/bwd packets, fwd/bwd bytes)`,
          );
        }
      }
    };
    // Two files at a time: tshark start-up dominates, and CI has two cores.
    const queue = [...files];
    await Promise.all(
      [0, 1].map(async () => {
        for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) await compareFile(entry);
      }),
    );
    console.info(
      `flow-consistency: ${compared} unsplit 5-tuples compared with tshark over ${files.length} captures`,
    );
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(compared).toBeGreaterThan(500);
  }, 240_000);
});
