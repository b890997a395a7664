/**
 * Field-by-field conformance with tshark over every capture in ../shared/corpora (CCF_SHARED_DIR).
 *
 * For each capture tshark reads, our reader + decoder and `tshark -T fields` are run on the same file and
 * compared packet by packet: time, lengths, addresses, IP protocol, TTL/hop limit, IP length, ports, TCP
 * flags/seq/ack/window/header length, payload length, ICMP type/code, MACs, VLAN ids. tshark reports every
 * occurrence of a field (outer and inner headers); `frame.protocols` tells which occurrence corresponds to
 * the headers our decoder describes (the innermost IP reached through the tunnels we follow, and the
 * transport header right after it).
 *
 * Differences are allowed only when they fall in one of the classes of KNOWN_DIFFERENCES, each documented
 * with its reason in docs/tshark-differences.md; anything else fails the test with examples.
 * The packet count of each file is also checked against MANIFEST.csv.
 *
 * Two tshark processes run at a time (the budget is ~6 minutes on 2 cores for the whole corpus).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatMac, packetDestinationIp, packetSourceIp } from '../../functions/capture/address-format.js';
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import { frameTimestampUs, type RawFrame } from '../../functions/capture/frame.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sharedDir = process.env.CCF_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
const corporaDir = path.join(sharedDir, 'corpora');
const manifestPath = path.join(corporaDir, 'MANIFEST.csv');
const tsharkPath = process.env.TSHARK ?? 'tshark';
const hasTshark = spawnSync(tsharkPath, ['--version'], { stdio: 'ignore' }).status === 0;
const hasCorpora = existsSync(manifestPath);
const skipReason = !hasCorpora
  ? `tshark conformance skipped: ${manifestPath} not found (set CCF_SHARED_DIR to the shared data directory)`
  : !hasTshark
    ? 'tshark conformance skipped: tshark is not installed (apt-get install -y tshark)'
    : '';
if (skipReason) console.warn(skipReason);

/** Captures per mergecap batch (bounded by open files and by the memory of one tshark output). */
const BATCH_FILES = 120;

/** Link types our decoder follows; frames of other types are compared on time and lengths only. */
const DECODED_LINK_TYPES = new Set([0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276]);

const TSHARK_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.len',
  'ip.frag_offset',
  'ip.flags.mf',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.plen',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.window_size_value',
  'tcp.hdr_len',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'sctp.srcport',
  'sctp.dstport',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'eth.src',
  'eth.dst',
  'vlan.id',
  'ieee8021ad.id',
] as const;
type TsharkField = (typeof TSHARK_FIELDS)[number];
const FIELD_INDEX = new Map<TsharkField, number>(TSHARK_FIELDS.map((name, i) => [name, i]));

/** tshark options: no name resolution; no reassembly, so each packet shows its own headers. */
const TSHARK_ARGS = [
  '-n',
  '-o',
  'ip.defragment:FALSE',
  '-o',
  'ipv6.defragment:FALSE',
  '-o',
  'tcp.desegment_tcp_streams:FALSE',
  '-T',
  'fields',
  '-E',
  'occurrence=a',
  '-E',
  'aggregator=,',
  '-E',
  'separator=/t',
  ...TSHARK_FIELDS.flatMap((field) => ['-e', field]),
];

/** Our view of one packet, in the units tshark prints. */
interface OurPacket {
  linkType: number;
  interfaceId: number;
  /** The snap length of the packet's interface (filled after the file is read). */
  snapLength: number;
  tsUs: number;
  frameLen: number;
  capLen: number;
  ipVersion: number;
  srcIp: string;
  dstIp: string;
  ipProto: number;
  ttl: number;
  ipLen: number;
  ipHeaderLength: number;
  fragOffset: number;
  moreFragments: boolean;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  tcpWindow: number;
  l4HeaderLength: number;
  payloadLength: number;
  icmpType: number;
  icmpCode: number;
  ethSrc: string;
  ethDst: string;
  vlanIds: string;
  tunnel: string;
}

function ourPacket(frame: RawFrame, p: DecodedPacket): OurPacket {
  return {
    linkType: frame.linkType,
    interfaceId: frame.interfaceId,
    snapLength: 0,
    tsUs: frameTimestampUs(frame),
    frameLen: frame.originalLength,
    capLen: frame.capturedLength,
    ipVersion: p.ipVersion,
    srcIp: packetSourceIp(p),
    dstIp: packetDestinationIp(p),
    ipProto: p.ipProto,
    ttl: p.ttl,
    ipLen: p.ipTotalLength,
    ipHeaderLength: p.ipHeaderLength,
    fragOffset: p.fragmentOffset,
    moreFragments: p.moreFragments,
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    tcpFlags: p.tcpFlags,
    tcpSeq: p.tcpSeq,
    tcpAck: p.tcpAck,
    tcpWindow: p.tcpWindow,
    l4HeaderLength: p.l4HeaderLength,
    payloadLength: p.payloadLength,
    icmpType: p.icmpType,
    icmpCode: p.icmpCode,
    ethSrc: p.ethSrcOffset >= 0 ? formatMac(p.data, p.ethSrcOffset) : '',
    ethDst: p.ethDstOffset >= 0 ? formatMac(p.data, p.ethDstOffset) : '',
    vlanIds: p.vlanIds.slice(0, p.vlanCount).join(','),
    tunnel: p.tunnel,
  };
}

/** One tshark row: every occurrence of each field. */
class TsharkRow {
  readonly protocols: string[];
  constructor(private readonly cells: string[]) {
    this.protocols = (cells[FIELD_INDEX.get('frame.protocols')!] ?? '').split(':');
  }
  all(field: TsharkField): string[] {
    const cell = this.cells[FIELD_INDEX.get(field)!] ?? '';
    return cell === '' ? [] : cell.split(',');
  }
  at(field: TsharkField, occurrence: number): string | undefined {
    return this.all(field)[occurrence];
  }
  first(field: TsharkField): string | undefined {
    return this.all(field)[0];
  }
}

/** Tokens of frame.protocols we pass through between two IP headers (tunnels we decode). */
const TUNNEL_PATH_TOKENS = new Set([
  'gre',
  'erspan',
  'vxlan',
  'eth',
  'ethertype',
  'vlan',
  'ieee8021ad',
  'ppp',
  'mpls',
  'pppoes',
]);
const IPV6_EXTENSION_TOKENS = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah']);

/**
 * Which IP header our decoder describes, per tshark's protocol list: the first IP, then every IP reached
 * through IP-in-IP, GRE or UDP/VXLAN; and the protocol token right after it (our transport header).
 */
interface Located {
  ipToken: 'ip' | 'ipv6' | undefined;
  /** Occurrence index of that IP's fields (ip.* or ipv6.*). */
  ipOccurrence: number;
  transport: string | undefined;
  transportOccurrence: number;
  /** Position of the transport token in the protocol list (the list's length when there is none). */
  transportIndex: number;
  /** Encapsulations passed, as our `tunnel` names them. */
  tunnel: string;
}

function countBefore(tokens: readonly string[], token: string, end: number): number {
  let count = 0;
  for (let i = 0; i < end; i++) if (tokens[i] === token) count++;
  return count;
}

/**
 * Like `locateIn`, but when tshark gave up on the innermost IP header (a token without addresses: bogus
 * version or length), the row is compared with the enclosing IP header, as our decoder then describes it.
 */
function locate(row: TsharkRow): Located {
  const tokens = row.protocols;
  for (let cut = tokens.length; cut > 0; ) {
    const located = locateIn(tokens.slice(0, cut));
    if (located.ipToken === undefined) return locateIn(tokens);
    const src = row.at(located.ipToken === 'ip' ? 'ip.src' : 'ipv6.src', located.ipOccurrence);
    if (src !== undefined) return located;
    // Drop the address-less IP token and everything after it, and look again.
    let at = cut - 1;
    while (
      at >= 0 &&
      !(tokens[at] === located.ipToken && countBefore(tokens, located.ipToken, at) === located.ipOccurrence)
    )
      at--;
    cut = at;
  }
  return locateIn([]);
}

function locateIn(tokens: readonly string[]): Located {
  let at = tokens.findIndex((t) => t === 'ip' || t === 'ipv6');
  const located: Located = {
    ipToken: undefined,
    ipOccurrence: 0,
    transport: undefined,
    transportOccurrence: 0,
    transportIndex: tokens.length,
    tunnel: '',
  };
  const tunnels: string[] = [];
  while (at >= 0) {
    const token = tokens[at] as 'ip' | 'ipv6';
    located.ipToken = token;
    located.ipOccurrence = countBefore(tokens, token, at);
    let next = at + 1;
    while (next < tokens.length && IPV6_EXTENSION_TOKENS.has(tokens[next]!)) next++;
    const after = tokens[next];
    located.transport = after;
    located.transportIndex = after === undefined ? tokens.length : next;
    located.transportOccurrence = after === undefined ? 0 : countBefore(tokens, after, next);
    at = -1;
    if (after === 'ip' || after === 'ipv6') {
      tunnels.push('ipip');
      at = next;
    } else if (after === 'gre' || (after === 'udp' && tokens[next + 1] === 'vxlan')) {
      let scan = after === 'gre' ? next + 1 : next + 2;
      while (scan < tokens.length && TUNNEL_PATH_TOKENS.has(tokens[scan]!)) scan++;
      if (tokens[scan] === 'ip' || tokens[scan] === 'ipv6') {
        tunnels.push(after === 'gre' ? 'gre' : 'vxlan');
        at = scan;
      }
    }
  }
  located.tunnel = tunnels.join('+');
  return located;
}

interface Difference {
  file: string;
  packet: number;
  field: string;
  ours: string;
  theirs: string;
  protocols: string;
}

/**
 * Classes of differences we know about and accept, each explained in docs/tshark-differences.md.
 * A class matches specific fields in specific situations; nothing else is tolerated.
 */
interface KnownDifference {
  /** Class name, as listed in docs/tshark-differences.md. */
  name: string;
  matches: (d: Difference, ours: OurPacket, row: TsharkRow) => boolean;
}

const has = (row: TsharkRow, token: string): boolean => row.protocols.includes(token);
/** IPv4 Total Length 0 (TSO/BIG TCP, reported as the frame's length, so > 65535 here) or IPv6 Payload Length 0. */
const isJumbo = (ours: OurPacket, row: TsharkRow): boolean =>
  (ours.ipVersion === 4 && ours.ipLen > 0xffff) ||
  row.all('ipv6.plen').includes('0') ||
  row.all('udp.length').includes('0');
const UNDECODED_ENCAPSULATIONS = new Set(['cfp', 'avsp', 'nsh', 'pwethcw', 'pwethheuristic', 'macsec']);

/** Damaged or deliberately malformed captures, with the fields that differ and why (see the docs). */
const FILE_SPECIFIC_DIFFERENCES = new Map<string, { fields: readonly string[]; reason: string }>([
  [
    'tcpdump/tests/timestamp_invalid_micro.pcap',
    { fields: ['ts_us'], reason: 'sub-second field >= 10^6: we carry it into the seconds, tshark does not' },
  ],
  [
    'tcpdump/tests/timestamp_invalid_nano.pcap',
    { fields: ['ts_us'], reason: 'sub-second field >= 10^9: we carry it into the seconds, tshark does not' },
  ],
  [
    'tcpdump/tests/rx_serviceid_oobr.pcap',
    { fields: ['ts_us'], reason: 'fuzzed record timestamp out of range' },
  ],
  [
    'tcpdump/tests/atm-oam-loopback-print-overrun.pcap',
    { fields: ['ts_us', 'frame_len', 'cap_len'], reason: 'fuzzed SunATM record' },
  ],
  [
    'suricata-verify/tests/bug-6875-01/fuzz.pcap',
    {
      fields: [
        'eth_src',
        'eth_dst',
        'ip_version',
        'src_ip',
        'dst_ip',
        'ttl',
        'ip_len',
        'ip_proto',
        'frag_offset',
        'more_fragments',
        'src_port',
        'dst_port',
        'tcp_flags',
        'tcp_seq',
        'tcp_ack',
        'tcp_window',
        'l4_header_len',
        'payload_len',
      ],
      reason: 'fuzzed record: tshark decodes the frame from a different start',
    },
  ],
  [
    'zeek/testing/btest/Traces/trunc/mpls-6in6-broken.pcap.gz',
    {
      fields: [
        'ip_version',
        'src_ip',
        'dst_ip',
        'ttl',
        'ip_len',
        'ip_proto',
        'frag_offset',
        'more_fragments',
        'tunnel',
        'src_port',
        'dst_port',
      ],
      reason: 'deliberately broken MPLS/IPv6-in-IPv6 trace: tshark shows partial headers',
    },
  ],
  [
    'suricata-verify/tests/ipv6-evasion/ipv6-malformed-fragments-28/frag-28.pcap',
    { fields: ['icmp_type', 'icmp_code'], reason: 'overlapping-fragment evasion test' },
  ],
  [
    'zeek/testing/btest/Traces/trunc/mpls-6in6-6in6-4in6-trunc.pcap',
    {
      fields: ['ip_len', 'src_ip', 'dst_ip', 'ttl', 'ip_proto', 'tunnel', 'frag_offset', 'more_fragments'],
      reason: 'truncated nested tunnel: tshark stops one header earlier',
    },
  ],
  [
    'zeek/testing/btest/Traces/trunc/ipv4-truncated-broken-header.pcap',
    {
      fields: ['src_ip', 'dst_ip', 'ttl', 'ip_proto', 'frag_offset', 'more_fragments'],
      reason: 'truncated, broken IPv4 header',
    },
  ],
  [
    'zeek/testing/btest/Traces/ipv6-mobility-dst-opts.pcap',
    {
      fields: ['src_port', 'dst_port'],
      reason: 'Home Address destination option before a mobility header: tshark decodes no transport',
    },
  ],
]);

/** Fields that describe the frame, not its headers. */
const FRAME_FIELDS = new Set(['ts_us', 'frame_len', 'cap_len']);

const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    // libpcap (and our reader) cut a record longer than the file's snaplen to the snaplen; tshark keeps it.
    // Headers that lie in the cut-off bytes are then absent on our side.
    name: 'caplen-above-snaplen',
    matches: (d, ours, row) =>
      ours.capLen === ours.snapLength &&
      ours.capLen < Number(row.first('frame.cap_len')) &&
      (d.field === 'cap_len' || d.ours === '' || d.field === 'payload_len'),
  },
  {
    // Wireshark shows the 4-byte SunATM pseudo-header outside the frame (LINKTYPE_SUNATM = 123).
    name: 'sunatm-pseudo-header',
    matches: (d, ours) =>
      ours.linkType === 123 &&
      (d.field === 'frame_len' || d.field === 'cap_len') &&
      Number(d.ours) - Number(d.theirs) === 4,
  },
  {
    // tshark reports udp.length from the header even when it claims more than the IP payload holds; our
    // payload length is bounded by the IP datagram.
    name: 'udp-length-beyond-ip-payload',
    matches: (d, ours) =>
      d.field === 'payload_len' && ours.ipProto === 17 && Number(d.theirs) > Number(d.ours),
  },
  {
    // Jumbo/BIG TCP/TSO packets (IPv4 Total Length 0, IPv6 Payload Length 0, UDP Length 0, RFC 2675): we
    // take the lengths from the frame and decode on (incl. VXLAN inside); tshark flags the zero lengths as
    // bogus and stops at the header.
    name: 'zero-length-jumbo',
    matches: (d, ours, row) => !FRAME_FIELDS.has(d.field) && isJumbo(ours, row),
  },
  {
    // With reassembly off, tshark does not compute tcp.len for a first fragment (the segment is incomplete);
    // we report the TCP payload bytes this fragment carries.
    name: 'first-fragment-tcp-length',
    matches: (d, ours) =>
      d.field === 'payload_len' && d.theirs === '' && ours.moreFragments && ours.fragOffset === 0,
  },
  {
    // IPv4 with an Authentication Header: ip_proto names the protocol AH protects (as for IPv6 extension
    // headers); tshark's ip.proto is 51.
    name: 'ah-in-ipv4',
    matches: (d, ours, row) => d.field === 'ip_proto' && ours.ipVersion === 4 && has(row, 'ah'),
  },
  {
    // With a loose/strict source route option, tshark's ip.dst is the route's final destination (RFC 791
    // §3.1 "Loose Source and Record Route"); ours is the header's Destination Address.
    name: 'ipv4-source-route-destination',
    matches: (d, ours) => d.field === 'dst_ip' && ours.ipVersion === 4 && ours.ipHeaderLength > 20,
  },
  {
    // tshark stops at malformed IPv4 options (exception) and shows no transport; we skip options by IHL.
    name: 'malformed-ipv4-options',
    matches: (d, ours) =>
      ours.ipVersion === 4 &&
      ours.ipHeaderLength > 20 &&
      d.theirs === '' &&
      ['src_port', 'dst_port', 'tcp_flags', 'icmp_type', 'payload_len'].includes(d.field),
  },
  {
    // An IPv6 packet behind the IPv4 EtherType/link type: tshark shows an (address-less) ip layer, then ipv6;
    // we decode it as IPv6 directly, with no tunnel.
    name: 'ipv6-mislabelled-as-ipv4',
    matches: (d, ours, row) =>
      d.field === 'tunnel' &&
      d.ours === '' &&
      ours.ipVersion === 6 &&
      row.protocols.join(':').includes('ip:ipv6') &&
      row.first('ip.src') === undefined,
  },
  {
    // ERSPAN: tshark does not report the mirrored frame's 802.1Q tag as vlan.id (it shows erspan.vlan).
    name: 'erspan-inner-vlan',
    matches: (d, _ours, row) => d.field === 'vlan_ids' && d.theirs === '' && has(row, 'erspan'),
  },
  {
    // Cisco ISL frames (tshark: eth:eth): tshark shows the encapsulated frame's MACs as the first eth.*.
    name: 'cisco-isl',
    matches: (d, _ours, row) =>
      (d.field === 'eth_src' || d.field === 'eth_dst') && row.protocols[1] === 'eth',
  },
  {
    // Encapsulations we do not decode (Cisco FabricPath 'cfp', Arista 'avsp', NSH, MPLS pseudowires with a
    // control word): the inner network layer is absent on our side (and tshark shows FabricPath's inner MACs).
    name: 'encapsulation-not-decoded',
    matches: (d, _ours, row) =>
      row.protocols.some((token) => UNDECODED_ENCAPSULATIONS.has(token)) &&
      (d.ours === '' || d.field === 'eth_src' || d.field === 'eth_dst'),
  },
  {
    // We do not decode an IP header with a wrong version, an IHL below 5, a Total/Payload Length shorter than
    // the header, or fewer than 20/40 captured bytes; tshark shows the address fields it could read first.
    name: 'invalid-or-cut-ip-header',
    matches: (d) => d.field === 'ip_version' && d.ours === '',
  },
  {
    // Captures with one-off damage that tshark and we read differently; each is named with its reason.
    name: 'file-specific',
    matches: (d) => FILE_SPECIFIC_DIFFERENCES.get(d.file)?.fields.includes(d.field) ?? false,
  },
];

function intOrUndefined(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  return text.startsWith('0x') ? Number.parseInt(text, 16) : Number(text);
}

/** Compares one packet; returns the differences. */
function comparePacket(file: string, packetNumber: number, ours: OurPacket, row: TsharkRow): Difference[] {
  const differences: Difference[] = [];
  const protocols = row.protocols.join(':');
  const check = (
    field: string,
    mine: string | number | boolean,
    theirs: string | number | boolean | undefined,
  ): void => {
    const theirsText = theirs === undefined ? '' : String(theirs);
    const mineText = typeof mine === 'number' && mine < 0 ? '' : String(mine);
    if (mineText !== theirsText)
      differences.push({ file, packet: packetNumber, field, ours: mineText, theirs: theirsText, protocols });
  };

  const epoch = row.first('frame.time_epoch') ?? '';
  const [seconds = '0', fraction = ''] = epoch.split('.');
  const theirsUs = Number(seconds) * 1_000_000 + Number(fraction.padEnd(9, '0').slice(0, 6));
  check('ts_us', ours.tsUs, theirsUs);
  check('frame_len', ours.frameLen, row.first('frame.len'));
  check('cap_len', ours.capLen, row.first('frame.cap_len'));
  if (!DECODED_LINK_TYPES.has(ours.linkType)) return differences;

  if (ours.linkType === 1) {
    check('eth_src', ours.ethSrc, row.first('eth.src') ?? '');
    check('eth_dst', ours.ethDst, row.first('eth.dst') ?? '');
  }
  const where = locate(row);
  // 802.1ad service tags are ieee8021ad.id in tshark, customer tags vlan.id; ours are outermost first. Tags
  // inside payloads we do not decode (sFlow samples, ICMP errors) are not ours.
  const tagsBefore = (token: string): number => countBefore(row.protocols, token, where.transportIndex);
  const theirTags = [
    ...row.all('ieee8021ad.id').slice(0, tagsBefore('ieee8021ad')),
    ...row.all('vlan.id').slice(0, tagsBefore('vlan')),
  ];
  check('vlan_ids', ours.vlanIds, theirTags.join(','));

  check(
    'ip_version',
    ours.ipVersion === 0 ? '' : ours.ipVersion,
    where.ipToken === 'ip' ? 4 : where.ipToken === 'ipv6' ? 6 : '',
  );
  if (where.ipToken === undefined || ours.ipVersion === 0) return differences;
  check('tunnel', ours.tunnel, where.tunnel);
  const n = where.ipOccurrence;
  if (where.ipToken === 'ip') {
    check('src_ip', ours.srcIp, row.at('ip.src', n));
    check('dst_ip', ours.dstIp, row.at('ip.dst', n));
    check('ttl', ours.ttl, row.at('ip.ttl', n));
    check('ip_len', ours.ipLen, row.at('ip.len', n));
    check('ip_proto', ours.ipProto, row.at('ip.proto', n));
    // tshark 4.0 prints ip.frag_offset in 8-byte units; our column is in bytes.
    const fragmentUnits = intOrUndefined(row.at('ip.frag_offset', n));
    check('frag_offset', ours.fragOffset, fragmentUnits === undefined ? undefined : fragmentUnits * 8);
    check('more_fragments', ours.moreFragments ? 1 : 0, intOrUndefined(row.at('ip.flags.mf', n)));
  } else {
    check('src_ip', ours.srcIp, row.at('ipv6.src', n));
    check('dst_ip', ours.dstIp, row.at('ipv6.dst', n));
    check('ttl', ours.ttl, row.at('ipv6.hlim', n));
    const plen = intOrUndefined(row.at('ipv6.plen', n));
    check('ip_len', ours.ipLen, plen === undefined ? undefined : plen + 40);
  }

  const transport = where.transport;
  const k = where.transportOccurrence;
  const fragmentTail = ours.fragOffset > 0;
  if (transport === 'tcp') {
    check('ip_proto_transport', ours.ipProto, 6);
    check('src_port', ours.srcPort, row.at('tcp.srcport', k));
    check('dst_port', ours.dstPort, row.at('tcp.dstport', k));
    const flags = intOrUndefined(row.at('tcp.flags', k));
    check('tcp_flags', ours.tcpFlags, flags === undefined ? undefined : flags & 0x1ff);
    check('tcp_seq', ours.tcpSeq, row.at('tcp.seq_raw', k));
    check('tcp_ack', ours.tcpAck, row.at('tcp.ack_raw', k));
    check('tcp_window', ours.tcpWindow, row.at('tcp.window_size_value', k));
    check('l4_header_len', ours.l4HeaderLength, row.at('tcp.hdr_len', k));
    check('payload_len', ours.payloadLength, row.at('tcp.len', k));
  } else if (transport === 'udp') {
    check('ip_proto_transport', ours.ipProto, 17);
    check('src_port', ours.srcPort, row.at('udp.srcport', k));
    check('dst_port', ours.dstPort, row.at('udp.dstport', k));
    const length = intOrUndefined(row.at('udp.length', k));
    if (!ours.moreFragments && !fragmentTail && length !== undefined && length >= 8) {
      check('payload_len', ours.payloadLength, length - 8);
    }
  } else if (transport === 'sctp') {
    check('ip_proto_transport', ours.ipProto, 132);
    check('src_port', ours.srcPort, row.at('sctp.srcport', k));
    check('dst_port', ours.dstPort, row.at('sctp.dstport', k));
  } else if (transport === 'icmp') {
    check('ip_proto_transport', ours.ipProto, 1);
    check('icmp_type', ours.icmpType, row.at('icmp.type', k));
    check('icmp_code', ours.icmpCode, row.at('icmp.code', k));
  } else if (transport === 'icmpv6') {
    check('ip_proto_transport', ours.ipProto, 58);
    check('icmp_type', ours.icmpType, row.at('icmpv6.type', k));
    check('icmp_code', ours.icmpCode, row.at('icmpv6.code', k));
  } else if (!fragmentTail) {
    // tshark found no transport we decode: neither should we.
    check('src_port', ours.srcPort, undefined);
    check('tcp_flags', ours.tcpFlags, undefined);
    check('icmp_type', ours.icmpType, undefined);
  }
  return differences;
}

interface ManifestRow {
  path: string;
  packets: number;
  /** Packets capinfos counted (tshark's own reader). */
  capinfosPackets: number;
  structError: string;
}

function readManifest(): ManifestRow[] {
  const lines = readFileSync(manifestPath, 'utf8').trim().split('\n');
  const header = parseCsvLine(lines[0]!);
  const column = (name: string): number => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const cells = parseCsvLine(line);
    return {
      path: cells[column('path')]!,
      packets: Number(cells[column('packets')] || 0),
      capinfosPackets: Number(cells[column('capinfos_packets')] || 0),
      structError: cells[column('struct_error')] ?? '',
    };
  });
}

function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

function runProcess(
  command: string,
  args: readonly string[],
): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString();
    });
    child.on('close', (status) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, status }));
  });
}

async function runTshark(file: string): Promise<string[][]> {
  const { stdout } = await runProcess(tsharkPath, ['-r', file, ...TSHARK_ARGS]);
  if (stdout === '') return [];
  const timeColumn = FIELD_INDEX.get('frame.time_epoch')!;
  // tshark 4 also lists pcapng records that are not packets (custom, journal export, secrets blocks) as
  // frames without a timestamp; readers deliver packets only.
  return stdout
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((cells) => (cells[timeColumn] ?? '') !== '');
}

/** Our reader + decoder over one file; `undefined` when the reader rejects it. */
async function readOurs(
  entry: ManifestRow,
): Promise<{ packets: OurPacket[]; countMismatch: string | undefined }> {
  const packets: OurPacket[] = [];
  const packet = new DecodedPacket();
  let countMismatch: string | undefined;
  try {
    const summary = await readCaptureFile(path.join(corporaDir, entry.path), (frame) => {
      decodeFrame(frame, packet);
      packets.push(ourPacket(frame, packet));
    });
    for (const p of packets)
      p.snapLength = summary.interfaces.find((i) => i.interfaceId === p.interfaceId)?.snapLength ?? 0;
    // For a file whose last record is cut short, MANIFEST counts that partial record; our reader reports
    // it as damage instead of a packet.
    const partialLast =
      /^truncated packet data/.test(entry.structError) && summary.packets === entry.packets - 1;
    if (summary.packets !== entry.packets && !partialLast)
      countMismatch = `reader ${summary.packets} vs MANIFEST ${entry.packets}`;
  } catch (error) {
    if (entry.packets !== 0) countMismatch = `reader failed (${String(error)}) vs MANIFEST ${entry.packets}`;
  }
  return { packets, countMismatch };
}

interface FileResult {
  file: string;
  ourPackets: number;
  tsharkPackets: number;
  compared: number;
  differences: Difference[];
  known: Map<string, number>;
  countMismatch: string | undefined;
}

function compareRows(
  entry: ManifestRow,
  ours: readonly OurPacket[],
  rows: readonly string[][],
  countMismatch: string | undefined,
): FileResult {
  const result: FileResult = {
    file: entry.path,
    ourPackets: ours.length,
    tsharkPackets: rows.length,
    compared: 0,
    differences: [],
    known: new Map(),
    countMismatch,
  };
  const count = Math.min(ours.length, rows.length);
  for (let i = 0; i < count; i++) {
    const row = new TsharkRow(rows[i]!);
    const mine = ours[i]!;
    result.compared++;
    for (const difference of comparePacket(entry.path, i + 1, mine, row)) {
      const known = KNOWN_DIFFERENCES.find((k) => k.matches(difference, mine, row));
      if (known) result.known.set(known.name, (result.known.get(known.name) ?? 0) + 1);
      else result.differences.push(difference);
    }
  }
  return result;
}

async function compareSingleFile(entry: ManifestRow): Promise<FileResult> {
  const [rows, ours] = await Promise.all([runTshark(path.join(corporaDir, entry.path)), readOurs(entry)]);
  return compareRows(entry, ours.packets, rows, ours.countMismatch);
}

/**
 * tshark spends most of its time starting up, so whole batches of captures are concatenated with
 * `mergecap -a` into one pcapng (frames keep their link type, timestamps and lengths) and dissected by one
 * tshark process; rows are then split per file by our own packet counts. A file mergecap cannot take
 * (unsupported link type) is moved out of the batch and compared on its own; a batch whose row total does
 * not match ours falls back to file-by-file comparison.
 */
async function compareBatch(
  batch: readonly ManifestRow[],
  scratchDir: string,
  batchIndex: string,
  singles: ManifestRow[],
): Promise<FileResult[]> {
  let files = [...batch];
  const merged = path.join(scratchDir, `batch-${batchIndex}.pcapng`);
  for (let attempt = 0; files.length > 0; attempt++) {
    const { status, stderr } = await runProcess('mergecap', [
      '-a',
      '-F',
      'pcapng',
      '-w',
      merged,
      ...files.map((f) => path.join(corporaDir, f.path)),
    ]);
    if (status === 0) break;
    const culprit = /The file "([^"]+)"/.exec(stderr)?.[1];
    const rejected = files.find((f) => culprit !== undefined && path.join(corporaDir, f.path) === culprit);
    if (rejected === undefined || attempt > 50) {
      singles.push(...files);
      return [];
    }
    singles.push(rejected);
    files = files.filter((f) => f !== rejected);
  }
  if (files.length === 0) return [];
  const tshark = runTshark(merged);
  const ours: { packets: OurPacket[]; countMismatch: string | undefined }[] = [];
  for (const entry of files) ours.push(await readOurs(entry));
  const rows = await tshark;
  rmSync(merged, { force: true });
  const total = ours.reduce((sum, o) => sum + o.packets.length, 0);
  if (total !== rows.length) {
    // Some file is read differently by mergecap: split the batch to find it, then compare it on its own.
    if (files.length <= 2) {
      singles.push(...files);
      return [];
    }
    const half = Math.ceil(files.length / 2);
    return [
      ...(await compareBatch(files.slice(0, half), scratchDir, `${batchIndex}a`, singles)),
      ...(await compareBatch(files.slice(half), scratchDir, `${batchIndex}b`, singles)),
    ];
  }
  const results: FileResult[] = [];
  let at = 0;
  files.forEach((entry, i) => {
    const mine = ours[i]!;
    results.push(
      compareRows(entry, mine.packets, rows.slice(at, at + mine.packets.length), mine.countMismatch),
    );
    at += mine.packets.length;
  });
  return results;
}

async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

describe.skipIf(skipReason !== '')('tshark conformance over the shared corpora', () => {
  it('agrees with tshark field by field, except for the documented classes of difference', async () => {
    const started = Date.now();
    const onlyMatching = process.env.CCF_CONFORMANCE_FILTER;
    const manifest = readManifest().filter((entry) => !onlyMatching || entry.path.includes(onlyMatching));
    const scratchDir = mkdtempSync(path.join(tmpdir(), 'ccf-tshark-'));
    // Damaged files and files tshark counts differently are compared one by one; the rest in batches.
    const singles: ManifestRow[] = manifest.filter(
      (e) => e.structError !== '' || e.capinfosPackets !== e.packets,
    );
    const mergeable = manifest.filter((e) => !singles.includes(e));
    const batches: ManifestRow[][] = [];
    for (let i = 0; i < mergeable.length; i += BATCH_FILES) batches.push(mergeable.slice(i, i + BATCH_FILES));
    const batchResults = await mapWithConcurrency(
      batches.map((batch, i) => ({ batch, i })),
      2,
      ({ batch, i }) => compareBatch(batch, scratchDir, String(i), singles),
    );
    const batchSeconds = Math.round((Date.now() - started) / 1000);
    const singleResults = await mapWithConcurrency(singles, 2, compareSingleFile);
    rmSync(scratchDir, { recursive: true, force: true });
    const results = [...batchResults.flat(), ...singleResults];

    const differences = results.flatMap((r) => r.differences);
    const known = new Map<string, number>();
    for (const r of results) for (const [name, n] of r.known) known.set(name, (known.get(name) ?? 0) + n);
    const compared = results.reduce((sum, r) => sum + r.compared, 0);
    const filesRead = results.filter((r) => r.tsharkPackets > 0).length;
    const countMismatches = results.filter((r) => r.countMismatch !== undefined);
    const byField = new Map<string, number>();
    for (const d of differences) byField.set(d.field, (byField.get(d.field) ?? 0) + 1);
    const packetsWithDifferences = new Set(differences.map((d) => `${d.file}#${d.packet}`)).size;
    const summary = {
      files: manifest.length,
      filesTsharkRead: filesRead,
      filesComparedOneByOne: singles.length,
      batchSeconds,
      packetsCompared: compared,
      packetsAgreeing: compared - packetsWithDifferences,
      unexplainedDifferences: differences.length,
      unexplainedByField: Object.fromEntries(byField),
      knownDifferences: Object.fromEntries(known),
      packetCountMismatches: countMismatches.length,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    console.log(`tshark conformance: ${JSON.stringify(summary, null, 2)}`);
    if (process.env.CCF_CONFORMANCE_DUMP) {
      writeFileSync(
        process.env.CCF_CONFORMANCE_DUMP,
        JSON.stringify(
          {
            summary,
            singles: singles.map((e) => e.path),
            differences,
            countMismatches: countMismatches.map((r) => [r.file, r.countMismatch]),
          },
          null,
          1,
        ),
      );
    }
    expect(countMismatches.map((r) => `${r.file}: ${r.countMismatch}`)).toEqual([]);
    expect(differences.slice(0, 20)).toEqual([]);
  }, 900_000);
});
