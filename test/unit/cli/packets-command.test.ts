/**
 * `ccf packets` end to end: the real CLI in a subprocess on hand-built captures, checking exit status,
 * stdout CSV and stderr messages for clean, gzip/stdin, damaged, non-capture and bad-usage inputs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPcap, buildPcapng, ethernetUdpFrame, gzipCapture } from '../../support/capture-files.js';
import { type CliResult, mainTs, repoDir, runCcf } from '../../support/run-ccf.js';

const BASE_US = 1_700_000_000_000_000;
const PACKET_COUNT = 5;
const packets = Array.from({ length: PACKET_COUNT }, (_, i) => ({
  tsUs: BASE_US + i * 1500,
  data: ethernetUdpFrame(60 + i * 10, i),
}));

let dir: string;
let cleanPcap: string;
let damagedPcap: string;
let notCapture: string;
/** Bytes of the file header plus the first three records: the damage starts right after them. */
let damageOffset: number;

function csvLines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ccf-cli-'));
  cleanPcap = join(dir, 'clean.pcap');
  writeFileSync(cleanPcap, buildPcap({ packets }));
  // A record header that claims 2000 bytes where only 10 follow: three good packets, then damage.
  const good = buildPcap({ packets: packets.slice(0, 3) });
  damageOffset = good.length;
  const cut = buildPcap({ packets: packets.slice(0, 4) }).slice(0, good.length + 16 + 10);
  new DataView(cut.buffer).setUint32(good.length + 8, 2000, true);
  new DataView(cut.buffer).setUint32(good.length + 12, 2000, true);
  damagedPcap = join(dir, 'damaged.pcap');
  writeFileSync(damagedPcap, cut);
  notCapture = join(dir, 'notes.txt');
  writeFileSync(notCapture, 'hello, this is not a capture\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ccf packets', () => {
  it('writes a header and one row per packet to stdout for a clean pcap (exit 0)', async () => {
    const result = await runCcf(['packets', cleanPcap]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = csvLines(result.stdout);
    expect(lines).toHaveLength(PACKET_COUNT + 1);
    const header = lines[0]!.split(',');
    expect(header.slice(0, 4)).toEqual(['index', 'ts_us', 'frame_len', 'cap_len']);
    const column = (name: string): number => header.indexOf(name);
    const rows = lines.slice(1).map((line) => line.split(','));
    expect(rows.map((row) => row[column('index')])).toEqual(['1', '2', '3', '4', '5']);
    expect(rows[1]![column('ts_us')]).toBe(String(BASE_US + 1500));
    expect(rows[2]![column('frame_len')]).toBe('80');
    expect(rows[0]![column('src_ip')]).toBe('10.0.0.1');
    expect(rows[0]![column('dst_ip')]).toBe('10.0.0.2');
    expect(rows[0]![column('src_port')]).toBe('12345');
    expect(rows[0]![column('dst_port')]).toBe('53');
    expect(rows[0]![column('ip_proto')]).toBe('17');
    expect(rows[0]![column('eth_src')]).toBe('02:00:00:00:00:02');
  });

  it('writes to a file with -o and reports a one-line summary on stderr', async () => {
    const out = join(dir, 'out.csv');
    const result = await runCcf(['packets', cleanPcap, '-o', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(csvLines(readFileSync(out, 'utf8'))).toHaveLength(PACKET_COUNT + 1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^ccf: ${PACKET_COUNT} packets from .*clean\\.pcap \\(pcap\\) written to .*out\\.csv in [0-9.]+ s\\n$`,
      ),
    );
  });

  it('reads a gzip-compressed pcapng from stdin with -', async () => {
    const capture = gzipCapture(buildPcapng({ linkType: 1, packets }));
    const result = await runCcf(['packets', '-', '-o', '-'], { stdin: capture });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(csvLines(result.stdout)).toHaveLength(PACKET_COUNT + 1);
  });

  it('writes every readable packet of a damaged capture, then exits 2 naming the byte offset', async () => {
    const out = join(dir, 'damaged.csv');
    const result = await runCcf(['packets', damagedPcap, '-o', out]);
    expect(result.code).toBe(2);
    expect(csvLines(readFileSync(out, 'utf8'))).toHaveLength(3 + 1);
    expect(result.stderr).toContain('3 packets from');
    expect(result.stderr).toContain(`ccf: damaged capture ${damagedPcap}: `);
    expect(result.stderr).toContain(`byte offset ${damageOffset}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('also exits 2 on a damaged capture written to stdout, keeping the rows', async () => {
    const result = await runCcf(['packets', damagedPcap]);
    expect(result.code).toBe(2);
    expect(csvLines(result.stdout)).toHaveLength(3 + 1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 1 for a file that is not a capture, without creating the output file', async () => {
    const out = join(dir, 'never.csv');
    const result = await runCcf(['packets', notCapture, '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ccf: .*notes\.txt is not a pcap or pcapng capture/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('exits 1 for an empty file and for a missing file', async () => {
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, new Uint8Array(0));
    const emptyResult = await runCcf(['packets', empty]);
    expect(emptyResult.code).toBe(1);
    expect(emptyResult.stderr).toContain('empty');
    const missing = await runCcf(['packets', join(dir, 'nope.pcap')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ccf: cannot read the capture '.*nope\.pcap': no such file\n$/);
  });

  it('exits 1 when the output directory does not exist', async () => {
    const result = await runCcf(['packets', cleanPcap, '-o', join(dir, 'no', 'such', 'dir', 'x.csv')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ccf: cannot write the output '.*x\.csv': no such directory\n$/);
  });

  it('exits 1 on usage errors: unknown option, missing argument, bad byte count', async () => {
    const unknown = await runCcf(['packets', cleanPcap, '--bogus']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const missing = await runCcf(['packets']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument 'capture'");
    const badSize = await runCcf(['packets', cleanPcap, '--max-snaplen', 'lots']);
    expect(badSize.code).toBe(1);
    expect(badSize.stderr).toBe(
      "ccf: --max-snaplen must be a positive byte count like 65536, 64k or 16M (got 'lots')\n",
    );
  });

  it('treats a packet above --max-snaplen as damage (exit 2) after the packets before it', async () => {
    const capture = join(dir, 'big-packet.pcap');
    writeFileSync(
      capture,
      buildPcap({
        packets: [...packets.slice(0, 2), { tsUs: BASE_US + 9000, data: ethernetUdpFrame(600, 9) }],
      }),
    );
    const result = await runCcf(['packets', capture, '--max-snaplen', '512']);
    expect(result.code).toBe(2);
    expect(csvLines(result.stdout)).toHaveLength(2 + 1);
    expect(result.stderr).toContain(`ccf: damaged capture ${capture}: `);
  });

  it('reads protocol names from --protocol-dir, and reports a malformed map with its path and line (exit 1)', async () => {
    const maps = join(dir, 'maps');
    mkdirSync(maps, { recursive: true });
    for (const name of ['ETHER', 'IP', 'PORT', 'TCP', 'UDP']) {
      writeFileSync(join(maps, name), readFileSync(join(repoDir, 'protocol', name)));
    }
    writeFileSync(join(maps, 'UDP'), '# test map\n53:my-resolver\n');
    const result = await runCcf(['packets', cleanPcap, '--protocol-dir', maps]);
    expect(result.code).toBe(0);
    const lines = csvLines(result.stdout);
    const service = lines[0]!.split(',').indexOf('service');
    expect(lines[1]!.split(',')[service]).toBe('my-resolver');

    writeFileSync(join(maps, 'UDP'), '# test map\nfifty-three is dns\n');
    const bad = await runCcf(['packets', cleanPcap, '--protocol-dir', maps]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(join(maps, 'UDP'));
    expect(bad.stderr).toContain(`${join(maps, 'UDP')}:2: malformed line`);
    expect(bad.stdout).toBe('');
  });

  it('stops quietly with exit 0 when the reader of stdout goes away', async () => {
    const many = join(dir, 'many.pcap');
    const lots = Array.from({ length: 20_000 }, (_, i) => ({
      tsUs: BASE_US + i,
      data: ethernetUdpFrame(60, i),
    }));
    writeFileSync(many, buildPcap({ packets: lots }));
    const result = await new Promise<CliResult>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', mainTs, 'packets', many], {
        cwd: repoDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
      });
      child.stdout.once('data', () => child.stdout.destroy());
      child.once('error', reject);
      child.once('close', (code) => resolvePromise({ code, stdout: '', stderr }));
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('ccf', () => {
  it('prints help listing the packets command (exit 0)', async () => {
    const result = await runCcf(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: ccf');
    expect(result.stdout).toMatch(/packets \[options\] <capture>/);
  });

  it('exits 1 for an unknown command', async () => {
    const result = await runCcf(['frobnicate']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});
