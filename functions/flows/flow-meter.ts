/**
 * The flow meter: groups decoded packets into bidirectional flows and computes the CICFlowMeter feature
 * columns incrementally, emitting each flow as soon as it ends (streaming).
 *
 * Semantics follow the fixed CICFlowMeter fork (GintsEngelen/CICFlowMeter, the version that produced
 * CICIDS2017_improved) in the `cic-fork` feature set, with its quirks; `corrected` fixes them. Every rule and
 * quirk is written down in docs/flow-features.md; comments here point at the rule, not at the fork's code.
 *
 * Performance: all per-flow state lives in one Float64Array (a fixed stride per slot) indexed by the slot the
 * FlowTable hands out, and the table keys are integers. Nothing is allocated per packet. When a flow is emitted
 * its number columns are computed into a row (`fillValues`): the own row of a MeterFlowRecord
 * (flow-record.ts: a small object, not 95 boxed properties), or, with a CsvRowBuffer (the `ccf flows` path), a
 * scratch row written as CSV bytes (`writeCsvRow`) with no record at all. Both forms give the same text: the
 * golden tests' kit runs both and compares.
 */

import type { DecodedPacket } from '../capture/decoded-packet.js';
import type { RawFrame } from '../capture/frame.js';
import { CsvRowBuffer } from './csv-row-buffer.js';
import {
  EXPIRY_REASONS,
  type ExpiryReason,
  FEATURE_SETS,
  type FeatureSet,
  type FlowRecord,
} from './flow-columns.js';
import {
  type FlowMeterOptions,
  type ResolvedFlowMeterOptions,
  resolveFlowMeterOptions,
} from './flow-options.js';
import {
  FLOW_ROW_WIDTH,
  type FlowRow,
  KEY_AT,
  MeterFlowRecord,
  newRecordRow,
  newScratchRow,
} from './flow-record.js';
import { FlowTable, KEY_STRIDE, KEY_WORDS, warmUpFlowTable } from './flow-table.js';
import { keyAddressText, keyCommunityId, TimestampText } from './flow-text.js';
import { forEachWarmUpPacket } from './warm-up-traffic.js';

// --- Per-flow state layout (offsets within a slot's stride) -----------------------------------------------
// Grouped by when a packet touches them, so that a packet reads as few of the slot's 14 cache lines as it can
// (on a large table each one is a miss): first what every packet of either direction updates, then the
// forward side's fields, then the backward side's, then what only a flow's start, rare flags or its emission
// read. A forward packet touches the first group and the forward one (~8 lines), not the whole slot.
// Running statistics, Commons Math SummaryStatistics style: n, sum, min, max, first moment, second moment.
const N = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const M1 = 4;
const M2 = 5;
// Bulk trackers, one block per direction: duration, packets, bytes, bulks, and the candidate bulk's helpers.
const BK_DURATION = 0;
const BK_PACKETS = 1;
const BK_BYTES = 2;
const BK_COUNT = 3;
const BK_CAND_PACKETS = 4;
const BK_CAND_START = 5;
const BK_CAND_BYTES = 6;
const BK_LAST_TS = 7;
// Every packet.
const START = 0;
const LAST = 1;
// Duplicate detection: signature of the flow's last packet (ts, seq, ack, flags|len|direction).
const DUP_TS = 2;
const DUP_SEQ = 3;
const DUP_ACK = 4;
const DUP_MISC = 5;
const TCP_STATE = 6;
/** 1 when both endpoints have the same IP address (the fork then counts every packet as forward). */
const SAME_IP = 7;
/** 1 when the flow's forward side is key endpoint A. */
const FWD_IS_A = 8;
const END_ACTIVE = 9;
const START_ACTIVE = 10;
const SF_COUNT = 11;
const SF_LAST = 12;
const LAST_INDEX = 13;
const C_ACK = 14;
const C_PSH = 15;
const ALL_LEN = 16;
const FLOW_IAT = 22;
// (A packet reads its own direction's candidate bulk and the other direction's last payload time.)
const FWD_BULK = 28;
const BWD_BULK = 36;
// Forward packets.
const FWD_LEN = 44;
const FWD_IAT = 50;
const FWD_LAST = 56;
const FWD_HDR = 57;
const MIN_SEG_FWD = 58;
const ACT_DATA_FWD = 59;
const F_PSH = 60;
const F_URG = 61;
const F_FIN = 62;
const F_RST = 63;
const INIT_WIN_FWD = 64;
// Backward packets.
const BWD_LEN = 65;
const BWD_IAT = 71;
const BWD_LAST = 77;
const BWD_HDR = 78;
const B_PSH = 79;
const B_URG = 80;
const B_FIN = 81;
const B_RST = 82;
const INIT_WIN_BWD = 83;
// A flow's start, rare flags, gaps longer than the activity timeout, emission.
const C_FIN = 84;
const C_SYN = 85;
const C_RST = 86;
const C_URG = 87;
const C_CWR = 88;
const C_ECE = 89;
const OUT_OF_ORDER = 90;
const READY_REASON = 91;
const ACTIVE = 92;
const IDLE = 98;
const CUMULATIVE_TCP = 104;
const ICMP_TYPE = 105;
const ICMP_CODE = 106;
const REAL_PROTO = 107;
const VLAN_ID = 108;
const FIRST_INDEX = 109;
/** Orientation of the first flow ever held in this table entry: the fork's `Flow ID` follows it. */
const ID_FWD_IS_A = 110;
const STRIDE = 111;

// TCP termination states (fork: FIRST_FIN_FLAG_RECEIVED, SECOND_FIN_FLAG_RECEIVED, READY_FOR_TERMINATION).
const TCP_OPEN = 0;
const TCP_FIRST_FIN = 1;
const TCP_SECOND_FIN = 2;
const TCP_READY = 3;
const READY_BY_FIN = 1;
const READY_BY_RST = 2;

// Expiry reasons as their index in EXPIRY_REASONS: counted in an array, turned into text only in the output.
const REASON_FIN = EXPIRY_REASONS.indexOf('fin');
const REASON_RST = EXPIRY_REASONS.indexOf('rst');
const REASON_ACTIVE_TIMEOUT = EXPIRY_REASONS.indexOf('active_timeout');
const REASON_IDLE_TIMEOUT = EXPIRY_REASONS.indexOf('idle_timeout');
const REASON_END_OF_CAPTURE = EXPIRY_REASONS.indexOf('end_of_capture');
const REASON_EVICTED = EXPIRY_REASONS.indexOf('evicted');
const REASON_ICMP_CHANGE = EXPIRY_REASONS.indexOf('icmp_change');

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const ECE = 0x40;
const CWR = 0x80;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

/** Bulk: a gap longer than this (µs) ends the candidate bulk. */
const BULK_GAP_US = 1_000_000;
/** Corrected subflows: a gap longer than this (µs) starts a new subflow. */
const SUBFLOW_GAP_US = 1_000_000;
/**
 * Open flows the state has room for before its first growth (fewer when maxOpenFlows is lower). Each growth
 * copies the whole state (~900 bytes per slot) into an array twice the size and rehashes the table; starting
 * at 65,536 slots saves the five copies from 4,096 that the bench mix (62,000 open flows) made. The arrays
 * are zero-filled by the allocator from fresh pages, so memory is only committed as slots are used (low slot
 * numbers first): a small capture does not pay for the room it never touches.
 */
const INITIAL_SLOTS = 65_536;

/** Why a packet was not put in any flow. */
export const UNASSIGNED_REASONS = [
  /** No decodable IPv4/IPv6 header (ARP, LLDP, STP, unknown link layers, truncated IP headers). */
  'no_ip_header',
  /** A non-first IP fragment: it carries no transport header, so it has no ports to key a flow. */
  'ip_fragment',
  /** IPv6 extension-header chain that could not be followed to a transport protocol. */
  'unknown_transport',
  /** TCP/UDP header cut off by the capture length: no ports. */
  'truncated_transport',
] as const;
export type UnassignedReason = (typeof UNASSIGNED_REASONS)[number];
const UNASSIGNED_NO_IP_HEADER = UNASSIGNED_REASONS.indexOf('no_ip_header');
const UNASSIGNED_IP_FRAGMENT = UNASSIGNED_REASONS.indexOf('ip_fragment');
const UNASSIGNED_UNKNOWN_TRANSPORT = UNASSIGNED_REASONS.indexOf('unknown_transport');
const UNASSIGNED_TRUNCATED_TRANSPORT = UNASSIGNED_REASONS.indexOf('truncated_transport');

export interface FlowRunSummary {
  featureSet: FeatureSet;
  /** Packets handed to the meter. */
  packets: number;
  /** Packets counted in some flow. */
  packetsInFlows: number;
  unassignedPackets: number;
  unassignedByReason: Record<UnassignedReason, number>;
  flows: number;
  flowsByReason: Record<ExpiryReason, number>;
  /** Flows emitted early because `maxOpenFlows` was reached (same as flowsByReason.evicted). */
  evictedFlows: number;
  /** Packets whose timestamp is earlier than a packet before them in the capture. */
  outOfOrderPackets: number;
  /** Packets identical in direction, timestamp, TCP seq/ack/flags and length to the previous one of their flow. */
  duplicatePackets: number;
  /** Most flows held open at once. */
  peakOpenFlows: number;
}

export type FlowSink = (record: FlowRecord) => void;

function zeroCounts<T extends string>(keys: readonly T[]): Record<T, number> {
  const counts = {} as Record<T, number>;
  for (const key of keys) counts[key] = 0;
  return counts;
}

/**
 * Usage: `const meter = new FlowMeter(options, (record) => ...)`; call `add(frame, packet)` for each decoded
 * packet in capture order, then `finish()` to emit the flows still open and get the run summary.
 */
export class FlowMeter {
  readonly options: ResolvedFlowMeterOptions;
  private readonly fork: boolean;
  private readonly vlanAware: boolean;
  private readonly sink: FlowSink;
  private readonly csvOut: CsvRowBuffer | undefined;
  private readonly table: FlowTable;
  private state: Float64Array;
  private readonly key = new Int32Array(KEY_WORDS);

  private readonly flowTimeoutUs: number;
  private readonly activityTimeoutUs: number;
  private readonly idleTimeoutUs: number;
  /** Latest timestamp seen so far (µs): the meter's clock for idle expiry. */
  private clock = Number.NEGATIVE_INFINITY;
  /** The LRU head's last packet time (µs) as expireIdle read it, and that slot (-1: not read yet). */
  private headLast = 0;
  private headLastSlot = -1;
  /**
   * The flow of the previous packet (slot, or -1) and its key: in real traffic most packets belong to the same
   * flow as the packet before them (61 % of the bench mix), and for those the key compare against this hot copy
   * replaces the hash and the table probe, whose bucket load is a cache miss on a large table.
   */
  private lastSlot = -1;
  private readonly lastKey = new Int32Array(KEY_WORDS);

  private packets = 0;
  private packetsInFlows = 0;
  /** Packets put in no flow, by reason code (index in UNASSIGNED_REASONS). */
  private readonly unassigned = new Float64Array(UNASSIGNED_REASONS.length);
  /** Flows emitted, by expiry reason code (index in EXPIRY_REASONS). */
  private readonly byReason = new Float64Array(EXPIRY_REASONS.length);
  private flows = 0;
  private outOfOrder = 0;
  private duplicates = 0;
  private peakOpen = 0;
  private finished = false;

  private readonly timestamps = new TimestampText();
  // Values of the flow being emitted, shared by buildRecord and writeCsvRow (set by prepareEmit). Numbers
  // only: its texts are made where they are used (emittedAddressText), because every string stored into a
  // field of the long-lived meter costs a write barrier.
  /** 1 when the flow's forward side is key endpoint A (Src IP), and when its Flow ID starts with A. */
  private eFwdIsA = 0;
  private eIdFwdIsA = 0;
  private eIdFirstPort = 0;
  private eIdSecondPort = 0;
  /** IPv4 flows in the CSV path: the addresses as integers (the text fields above are then empty). */
  private eIdFirstV4 = 0;
  private eIdSecondV4 = 0;
  private eSrcV4 = 0;
  private eDstV4 = 0;
  private eSrcPort = 0;
  private eDstPort = 0;
  private eKeyProto = 0;
  private eIpVersion = 0;
  private eRealProto = 0;
  private eIcmpType = 0;
  private eIcmpCode = 0;
  private eSlot = 0;
  /** The numeric columns of the row being written (writeCsvRow), laid out as a record's row. */
  private readonly rowValues = newScratchRow();

  /**
   * With `csvOut`, each flow is written into it as one flow-CSV line (columns FLOW_CSV_COLUMNS) and no
   * FlowRecord is built (`sink` is not called): the fast path for writing the flow CSV. The caller calls
   * `csvOut.flush()` after `finish()`. `initialSlots`: open flows the state has room for before it first
   * grows (the warm-up starts small to take the growth path).
   */
  constructor(
    options: FlowMeterOptions,
    sink: FlowSink,
    csvOut?: CsvRowBuffer,
    initialSlots = INITIAL_SLOTS,
  ) {
    if (!warmedUp) warmUpFlowMeter();
    this.options = resolveFlowMeterOptions(options);
    this.fork = this.options.featureSet === 'cic-fork';
    this.vlanAware = this.options.vlanAware;
    this.sink = sink;
    this.csvOut = csvOut;
    this.flowTimeoutUs = Math.round(this.options.flowTimeoutS * 1e6);
    this.activityTimeoutUs = Math.round(this.options.activityTimeoutS * 1e6);
    this.idleTimeoutUs = Math.round(this.options.idleTimeoutS * 1e6);
    this.table = new FlowTable(initialSlots, this.options.maxOpenFlows);
    this.state = new Float64Array(this.table.capacity * STRIDE);
  }

  /** Flows currently open. */
  get openFlows(): number {
    return this.table.size;
  }

  /** Feeds one decoded packet (in capture order). */
  add(frame: RawFrame, p: DecodedPacket): void {
    this.packets++;
    const ipVersion = p.ipVersion;
    const realProto = p.ipProto;
    // Every reason is counted by one statement, so that a capture's first packet of a rare kind does not reach
    // code without type feedback (which would throw away this function's optimized code; see warm-up-traffic).
    let unassigned = -1;
    if (ipVersion !== 4 && ipVersion !== 6) unassigned = UNASSIGNED_NO_IP_HEADER;
    else if (p.fragmentOffset > 0) unassigned = UNASSIGNED_IP_FRAGMENT;
    else if (realProto < 0) unassigned = UNASSIGNED_UNKNOWN_TRANSPORT;
    else if ((realProto === PROTO_TCP || realProto === PROTO_UDP) && p.srcPort < 0) {
      // A first fragment too short to hold the ports is a fragment problem, not a capture-length one.
      unassigned = p.moreFragments ? UNASSIGNED_IP_FRAGMENT : UNASSIGNED_TRUNCATED_TRANSPORT;
    }
    if (unassigned >= 0) {
      this.unassigned[unassigned] = this.unassigned[unassigned]! + 1;
      return;
    }

    // Per-protocol view of the packet: what the fork's packet parser extracts (see docs: "Packet fields").
    let keyProto = realProto;
    let srcPort = 0;
    let dstPort = 0;
    let payload = 0;
    let header = 0;
    let flags = 0;
    let window = 0;
    let icmpType = -1;
    let icmpCode = -1;
    if (realProto === PROTO_TCP || realProto === PROTO_UDP) {
      srcPort = p.srcPort;
      dstPort = p.dstPort;
      payload = Math.max(p.payloadLength, 0);
      if (realProto === PROTO_TCP) {
        flags = Math.max(p.tcpFlags, 0);
        window = Math.max(p.tcpWindow, 0);
        header = Math.max(p.l4HeaderLength, 0);
      } else {
        header = 8;
      }
    } else if (realProto === PROTO_ICMP || realProto === PROTO_ICMPV6) {
      icmpType = p.icmpType;
      icmpCode = p.icmpCode;
      // The fork records ICMP packets with zero payload and header bytes; corrected counts them.
      if (!this.fork && icmpType >= 0) {
        header = 8;
        payload = Math.max(p.payloadLength, 0);
      }
    } else if (this.fork) {
      // The fork knows TCP, UDP and ICMP only; everything else becomes protocol 0 without ports.
      keyProto = 0;
    } else if (p.srcPort >= 0) {
      srcPort = p.srcPort;
      dstPort = p.dstPort;
      header = Math.max(p.l4HeaderLength, 0);
      payload = Math.max(p.payloadLength, 0);
    } else if (p.ipTotalLength > 0 && p.ipHeaderLength > 0) {
      payload = Math.max(0, p.ipTotalLength - p.ipHeaderLength);
    }

    const ts = frame.tsSec * 1_000_000 + Math.floor(frame.tsNanos / 1000);
    if (ts < this.clock) this.outOfOrder++;
    else this.clock = ts;
    this.expireIdle();

    // --- Canonical key: endpoint A is the smaller (address, port) ---
    const key = this.key;
    key[0] = keyProto | (ipVersion << 8);
    if (this.vlanAware && p.vlanCount > 0) {
      key[1] = ((p.vlanIds[0]! + 1) << 13) | (p.vlanCount > 1 ? p.vlanIds[1]! + 1 : 0);
    } else {
      key[1] = 0;
    }
    let order = 0;
    let sameIp: boolean;
    if (ipVersion === 4) {
      const src = p.srcIpv4 >>> 0;
      const dst = p.dstIpv4 >>> 0;
      order = src - dst;
      sameIp = order === 0;
      if (order === 0) order = srcPort - dstPort;
      const srcFirst = order <= 0;
      key[3] = srcFirst ? src : dst;
      key[7] = srcFirst ? dst : src;
      // Words 4–6 and 8–10 are left as they are: for an IPv4 key the table's hash, find and insert never read them.
    } else {
      const d = p.data;
      const so = p.srcIpv6Offset;
      const dO = p.dstIpv6Offset;
      for (let w = 0; w < 4 && order === 0; w++) {
        const sw =
          ((d[so + 4 * w]! << 24) |
            (d[so + 4 * w + 1]! << 16) |
            (d[so + 4 * w + 2]! << 8) |
            d[so + 4 * w + 3]!) >>>
          0;
        const dw =
          ((d[dO + 4 * w]! << 24) |
            (d[dO + 4 * w + 1]! << 16) |
            (d[dO + 4 * w + 2]! << 8) |
            d[dO + 4 * w + 3]!) >>>
          0;
        order = sw - dw;
      }
      sameIp = order === 0;
      if (order === 0) order = srcPort - dstPort;
      const aOffset = order <= 0 ? so : dO;
      const bOffset = order <= 0 ? dO : so;
      for (let w = 0; w < 4; w++) {
        key[3 + w] =
          (d[aOffset + 4 * w]! << 24) |
          (d[aOffset + 4 * w + 1]! << 16) |
          (d[aOffset + 4 * w + 2]! << 8) |
          d[aOffset + 4 * w + 3]!;
        key[7 + w] =
          (d[bOffset + 4 * w]! << 24) |
          (d[bOffset + 4 * w + 1]! << 16) |
          (d[bOffset + 4 * w + 2]! << 8) |
          d[bOffset + 4 * w + 3]!;
      }
    }
    const srcIsA = order <= 0;
    key[2] = srcIsA ? (srcPort << 16) | dstPort : (dstPort << 16) | srcPort;
    // Duplicate detection: the packet's signature (timestamp, TCP seq and ack, then flags, payload length and
    // direction as one number), compared with the flow's last packet's and then stored in its place. Written
    // out here, not in helper methods: a call per packet each cost more than the compare and the four stores.
    const seq = p.tcpSeq;
    const ack = p.tcpAck;
    const dupMisc = (payload * 512 + (p.tcpFlags & 0x1ff)) * 2 + (srcIsA ? 1 : 0);

    const table = this.table;
    const lastKey = this.lastKey;
    let slot = this.lastSlot;
    let hash = 0;
    // Word 0 holds the IP version; equal IPv4 keys can differ only in words 1–3 and 7 (the rest are not set).
    const sameFlow =
      slot >= 0 &&
      key[0] === lastKey[0] &&
      key[1] === lastKey[1] &&
      key[2] === lastKey[2] &&
      key[3] === lastKey[3] &&
      key[7] === lastKey[7] &&
      (ipVersion === 4 ||
        (key[4] === lastKey[4] &&
          key[5] === lastKey[5] &&
          key[6] === lastKey[6] &&
          key[8] === lastKey[8] &&
          key[9] === lastKey[9] &&
          key[10] === lastKey[10]));
    if (!sameFlow) {
      hash = this.hashOfKey(ipVersion);
      slot = table.find(key, hash);
      lastKey[0] = key[0]!;
      lastKey[1] = key[1]!;
      lastKey[2] = key[2]!;
      lastKey[3] = key[3]!;
      lastKey[7] = key[7]!;
      if (ipVersion !== 4) {
        lastKey[4] = key[4]!;
        lastKey[5] = key[5]!;
        lastKey[6] = key[6]!;
        lastKey[8] = key[8]!;
        lastKey[9] = key[9]!;
        lastKey[10] = key[10]!;
      }
    }
    this.packetsInFlows++;

    if (slot < 0) {
      if (table.full) this.expireSlot(table.head, REASON_EVICTED);
      const capacityBefore = table.capacity;
      slot = table.insert(key, hash);
      this.lastSlot = slot;
      if (table.capacity !== capacityBefore) this.growState(table.capacity);
      if (table.size > this.peakOpen) this.peakOpen = table.size;
      const b = slot * STRIDE;
      this.startFlow(
        b,
        srcIsA ? 1 : 0,
        srcIsA ? 1 : 0,
        sameIp,
        0,
        ts,
        frame.index,
        realProto,
        p,
        srcIsA,
        payload,
        header,
        flags,
        window,
        icmpType,
        icmpCode,
      );
      const s = this.state;
      s[b + DUP_TS] = ts;
      s[b + DUP_SEQ] = seq;
      s[b + DUP_ACK] = ack;
      s[b + DUP_MISC] = dupMisc;
      return;
    }

    this.lastSlot = slot;
    // This packet changes the flow's last time: forget it if it is the one expireIdle holds.
    if (slot === this.headLastSlot) this.headLastSlot = -1;
    table.touch(slot);
    const s = this.state;
    const b = slot * STRIDE;
    let pts = ts;
    if (ts < s[b + LAST]!) {
      // Timestamp went backwards within the flow: count it, and use the flow's last time so no IAT is negative.
      pts = s[b + LAST]!;
      s[b + OUT_OF_ORDER] = s[b + OUT_OF_ORDER]! + 1;
    }
    if (
      s[b + DUP_TS] === ts &&
      s[b + DUP_SEQ] === seq &&
      s[b + DUP_ACK] === ack &&
      s[b + DUP_MISC] === dupMisc
    ) {
      this.duplicates++;
    }

    const tcpState = s[b + TCP_STATE]!;
    // Fork rules: a packet more than the flow timeout after the flow's start, or a SYN after the connection
    // was terminated, ends the flow; so does an ICMP message whose type and code both differ from the flow's
    // first one. The packet starts the next flow. (ICMP packets carry no TCP flags, so the ICMP test cannot
    // pre-empt the FIN/RST/ACK rules below.)
    const timedOut =
      pts - s[b + START]! > this.flowTimeoutUs || (tcpState === TCP_READY && (flags & SYN) !== 0);
    const icmpChanged =
      !timedOut &&
      (realProto === PROTO_ICMP || realProto === PROTO_ICMPV6) &&
      s[b + ICMP_CODE] !== icmpCode &&
      s[b + ICMP_TYPE] !== icmpType;
    if (timedOut || icmpChanged) {
      const idFwdIsA = s[b + ID_FWD_IS_A]!;
      let fwdIsA = srcIsA ? 1 : 0;
      let cumulative = 0;
      let reason = REASON_ICMP_CHANGE;
      if (timedOut) {
        let continued = 0;
        if (s[b + REAL_PROTO] === PROTO_TCP) {
          s[b + CUMULATIVE_TCP] = s[b + CUMULATIVE_TCP]! + (s[b + LAST]! - s[b + START]!);
          continued = s[b + CUMULATIVE_TCP]! + (pts - s[b + LAST]!);
        }
        reason = tcpState === TCP_READY ? readyReason(s[b + READY_REASON]!) : REASON_ACTIVE_TIMEOUT;
        // A fresh connection (SYN without ACK after termination) or a non-TCP flow starts in the packet's own
        // direction; a TCP connection cut by the timeout keeps its direction and its cumulative time.
        const fresh =
          (tcpState === TCP_READY && (flags & SYN) !== 0 && (flags & ACK) === 0) || realProto !== PROTO_TCP;
        if (!fresh) {
          fwdIsA = s[b + FWD_IS_A]!;
          cumulative = continued;
        }
      }
      this.emit(slot, reason);
      this.startFlow(
        b,
        fwdIsA,
        idFwdIsA,
        sameIp,
        cumulative,
        pts,
        frame.index,
        realProto,
        p,
        srcIsA,
        payload,
        header,
        flags,
        window,
        icmpType,
        icmpCode,
      );
    } else {
      // Fork: direction is decided by comparing IP addresses only, so with equal IPs every packet is forward.
      const isFwd = (this.fork && s[b + SAME_IP] === 1) || (s[b + FWD_IS_A] === 1) === srcIsA;
      this.updateActiveIdle(b, pts);
      this.addPacket(b, isFwd, pts, payload, header, flags, window);
      if ((flags & FIN) !== 0) {
        if (tcpState === TCP_OPEN) s[b + TCP_STATE] = TCP_FIRST_FIN;
        else if (tcpState === TCP_FIRST_FIN && s[b + F_FIN]! > 0 && s[b + B_FIN]! > 0)
          s[b + TCP_STATE] = TCP_SECOND_FIN;
      } else if ((flags & RST) !== 0) {
        s[b + TCP_STATE] = TCP_READY;
        s[b + READY_REASON] = READY_BY_RST;
      } else if ((flags & ACK) !== 0 && tcpState === TCP_SECOND_FIN) {
        s[b + TCP_STATE] = TCP_READY;
        s[b + READY_REASON] = READY_BY_FIN;
      }
    }
    s[b + LAST_INDEX] = frame.index;
    s[b + DUP_TS] = ts;
    s[b + DUP_SEQ] = seq;
    s[b + DUP_ACK] = ack;
    s[b + DUP_MISC] = dupMisc;
  }

  /**
   * The hash of the key in `this.key`, as hashKey computes it (the same value): the five words an IPv4 key uses
   * (0–3 and 7) written out, all eleven of an IPv6 key in a loop. hashKey's loop over a table of word indexes
   * cost more per packet than the mixing itself, and hashKey is too large for the optimizer to inline.
   */
  private hashOfKey(ipVersion: number): number {
    const key = this.key;
    let h = 0x2545f491;
    let k = 0;
    if (ipVersion === 4) {
      k = Math.imul(key[0]!, 0xcc9e2d51);
      h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      k = Math.imul(key[1]!, 0xcc9e2d51);
      h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      k = Math.imul(key[2]!, 0xcc9e2d51);
      h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      k = Math.imul(key[3]!, 0xcc9e2d51);
      h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      k = Math.imul(key[7]!, 0xcc9e2d51);
      h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
    } else {
      for (let j = 0; j < KEY_WORDS; j++) {
        k = Math.imul(key[j]!, 0xcc9e2d51);
        h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
        h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      }
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** Emits every flow still open (reason `end_of_capture`, or fin/rst when the connection had ended). */
  finish(): FlowRunSummary {
    if (!this.finished) {
      this.finished = true;
      while (this.table.head >= 0) this.expireSlot(this.table.head, REASON_END_OF_CAPTURE);
    }
    return this.summary();
  }

  summary(): FlowRunSummary {
    const unassignedByReason = zeroCounts(UNASSIGNED_REASONS);
    let unassignedTotal = 0;
    UNASSIGNED_REASONS.forEach((reason, code) => {
      unassignedByReason[reason] = this.unassigned[code]!;
      unassignedTotal += this.unassigned[code]!;
    });
    return {
      featureSet: this.options.featureSet,
      packets: this.packets,
      packetsInFlows: this.packetsInFlows,
      unassignedPackets: unassignedTotal,
      unassignedByReason,
      flows: this.flows,
      flowsByReason: countsByReason(this.byReason),
      evictedFlows: this.byReason[REASON_EVICTED]!,
      outOfOrderPackets: this.outOfOrder,
      duplicatePackets: this.duplicates,
      peakOpenFlows: this.peakOpen,
    };
  }

  // --- flow lifecycle -------------------------------------------------------------------------------------

  private expireIdle(): void {
    const table = this.table;
    const limit = this.clock - this.idleTimeoutUs;
    for (;;) {
      const head = table.head;
      if (head < 0) return;
      // The head's last time is read once per head, not per packet: on a large table it is a cache miss.
      if (head !== this.headLastSlot) {
        this.headLastSlot = head;
        this.headLast = this.state[head * STRIDE + LAST]!;
      }
      if (!(this.headLast < limit)) return;
      this.expireSlot(head, REASON_IDLE_TIMEOUT);
    }
  }

  /**
   * Emits a flow and frees its slot. A terminated TCP connection waiting for its idle/end expiry reports
   * fin/rst (why it ended); an eviction always reports `evicted` so the summary counts every one.
   */
  private expireSlot(slot: number, trigger: number): void {
    if (slot === this.headLastSlot) this.headLastSlot = -1;
    if (slot === this.lastSlot) this.lastSlot = -1;
    const b = slot * STRIDE;
    const s = this.state;
    if (s[b + REAL_PROTO] === PROTO_TCP)
      s[b + CUMULATIVE_TCP] = s[b + CUMULATIVE_TCP]! + (s[b + LAST]! - s[b + START]!);
    const reason =
      trigger !== REASON_EVICTED && s[b + TCP_STATE] === TCP_READY
        ? readyReason(s[b + READY_REASON]!)
        : trigger;
    this.emit(slot, reason);
    this.table.remove(slot);
  }

  private growState(capacity: number): void {
    const grown = new Float64Array(capacity * STRIDE);
    grown.set(this.state);
    this.state = grown;
  }

  /**
   * Starts a flow in slot state `b` with its first packet: the fork's `Flow` constructor and `firstPacket`
   * (with its omissions in `cic-fork`). The slot is zeroed (one `fill`: cheaper than storing its 111 numbers
   * one by one), then only the numbers a first packet makes non-zero are written, as their final values: what
   * the per-packet updates give on an empty state (the golden tests and the corpus comparison pin that),
   * without their reads and calls. The duplicate signature (DUP_*) is left to the caller, which always writes it.
   */
  private startFlow(
    b: number,
    fwdIsA: number,
    idFwdIsA: number,
    sameIp: boolean,
    cumulativeTcp: number,
    ts: number,
    index: number,
    realProto: number,
    p: DecodedPacket,
    srcIsA: boolean,
    payload: number,
    header: number,
    flags: number,
    window: number,
    icmpType: number,
    icmpCode: number,
  ): void {
    const s = this.state;
    const fork = this.fork;
    s.fill(0, b, b + STRIDE);
    // Fork: direction is decided by comparing IP addresses only, so with equal IPs every packet is forward.
    const isFwd = (fork && sameIp) || (fwdIsA === 1) === srcIsA;
    // One value in Packet Length and in its direction's block: n 1; sum, min, max and mean the payload; M2 0.
    const all = b + ALL_LEN;
    s[all + N] = 1;
    s[all + SUM] = payload;
    s[all + MIN] = payload;
    s[all + MAX] = payload;
    s[all + M1] = payload;
    const own = b + (isFwd ? FWD_LEN : BWD_LEN);
    s[own + N] = 1;
    s[own + SUM] = payload;
    s[own + MIN] = payload;
    s[own + MAX] = payload;
    s[own + M1] = payload;
    s[b + START] = ts;
    s[b + LAST] = ts;
    s[b + START_ACTIVE] = ts;
    s[b + END_ACTIVE] = ts;
    // One subflow so far (fork and corrected alike).
    s[b + SF_COUNT] = 1;
    s[b + SF_LAST] = ts;
    if (isFwd) {
      // Fork: Fwd Seg Size Min and FWD Init Win Bytes are only ever initialised from a forward first packet.
      s[b + FWD_LAST] = ts;
      s[b + FWD_HDR] = header;
      s[b + MIN_SEG_FWD] = header;
      s[b + INIT_WIN_FWD] = window;
      if (!fork && payload >= 1) s[b + ACT_DATA_FWD] = 1;
    } else {
      s[b + BWD_LAST] = ts;
      s[b + BWD_HDR] = header;
      s[b + INIT_WIN_BWD] = window;
      // Corrected Fwd Seg Size Min starts above any header length so the first forward packet sets it.
      if (!fork) s[b + MIN_SEG_FWD] = Number.POSITIVE_INFINITY;
    }
    if (flags !== 0) {
      this.countFlags(b, flags);
      if ((flags & PSH) !== 0) s[b + (isFwd ? F_PSH : B_PSH)] = 1;
      if ((flags & URG) !== 0) s[b + (isFwd ? F_URG : B_URG)] = 1;
      if (!fork) {
        if ((flags & FIN) !== 0) s[b + (isFwd ? F_FIN : B_FIN)] = 1;
        if ((flags & RST) !== 0) s[b + (isFwd ? F_RST : B_RST)] = 1;
      }
    }
    if (!(payload <= 0)) {
      // A payload packet opens its direction's candidate bulk (addPacket's bulk rule on an empty state).
      const bulk = b + (isFwd ? FWD_BULK : BWD_BULK);
      s[bulk + BK_CAND_PACKETS] = 1;
      s[bulk + BK_CAND_START] = ts;
      s[bulk + BK_CAND_BYTES] = payload;
      s[bulk + BK_LAST_TS] = ts;
    }
    s[b + CUMULATIVE_TCP] = cumulativeTcp;
    s[b + ICMP_TYPE] = icmpType;
    s[b + ICMP_CODE] = icmpCode;
    s[b + REAL_PROTO] = realProto;
    s[b + VLAN_ID] = p.vlanCount > 0 ? p.vlanIds[0]! : -1;
    s[b + FIRST_INDEX] = index;
    s[b + LAST_INDEX] = index;
    s[b + FWD_IS_A] = fwdIsA;
    s[b + ID_FWD_IS_A] = idFwdIsA;
    s[b + SAME_IP] = sameIp ? 1 : 0;
  }

  /**
   * Every later packet of the flow (the fork's `addPacket`). Its bulk, subflow and flag updates are written out
   * here rather than called: with them as methods the optimizer inlined only two of the packet's four `addStat`
   * calls (its inlining budget), and each call left out cost more than the work it does.
   */
  private addPacket(
    b: number,
    isFwd: boolean,
    ts: number,
    payload: number,
    header: number,
    flags: number,
    window: number,
  ): void {
    const s = this.state;
    // Bulk (fork rule): payload packets in one direction form a candidate bulk while gaps stay ≤ 1 s and the
    // other direction sends no payload after the candidate started; the 4th packet makes it a bulk, later ones
    // extend it.
    const own = b + (isFwd ? FWD_BULK : BWD_BULK);
    const other = b + (isFwd ? BWD_BULK : FWD_BULK);
    if (s[other + BK_LAST_TS]! > s[own + BK_CAND_START]!) s[own + BK_CAND_START] = 0;
    if (payload <= 0) {
      // No payload: not part of any bulk.
    } else if (s[own + BK_CAND_START] === 0 || ts - s[own + BK_LAST_TS]! > BULK_GAP_US) {
      // A new candidate bulk (the first payload packet, or one after a gap).
      s[own + BK_CAND_START] = ts;
      s[own + BK_CAND_PACKETS] = 1;
      s[own + BK_CAND_BYTES] = payload;
      s[own + BK_LAST_TS] = ts;
    } else {
      const packets = s[own + BK_CAND_PACKETS]! + 1;
      s[own + BK_CAND_PACKETS] = packets;
      s[own + BK_CAND_BYTES] = s[own + BK_CAND_BYTES]! + payload;
      if (packets === 4) {
        s[own + BK_COUNT] = s[own + BK_COUNT]! + 1;
        s[own + BK_PACKETS] = s[own + BK_PACKETS]! + packets;
        s[own + BK_BYTES] = s[own + BK_BYTES]! + s[own + BK_CAND_BYTES]!;
        s[own + BK_DURATION] = s[own + BK_DURATION]! + (ts - s[own + BK_CAND_START]!);
      } else if (packets > 4) {
        s[own + BK_PACKETS] = s[own + BK_PACKETS]! + 1;
        s[own + BK_BYTES] = s[own + BK_BYTES]! + payload;
        s[own + BK_DURATION] = s[own + BK_DURATION]! + (ts - s[own + BK_LAST_TS]!);
      }
      s[own + BK_LAST_TS] = ts;
    }
    // Subflows. Fork quirk: its gap test compares microseconds with seconds, so every packet starts a
    // "subflow" and the count equals the packet count. Corrected: a new subflow starts after a gap of more
    // than 1 s.
    if (this.fork || s[b + SF_COUNT] === 0 || ts - s[b + SF_LAST]! > SUBFLOW_GAP_US) {
      s[b + SF_COUNT] = s[b + SF_COUNT]! + 1;
    }
    s[b + SF_LAST] = ts;
    // Flag counts (as countFlags).
    if (flags !== 0) {
      if ((flags & FIN) !== 0) s[b + C_FIN] = s[b + C_FIN]! + 1;
      if ((flags & SYN) !== 0) s[b + C_SYN] = s[b + C_SYN]! + 1;
      if ((flags & RST) !== 0) s[b + C_RST] = s[b + C_RST]! + 1;
      if ((flags & PSH) !== 0) s[b + C_PSH] = s[b + C_PSH]! + 1;
      if ((flags & ACK) !== 0) s[b + C_ACK] = s[b + C_ACK]! + 1;
      if ((flags & URG) !== 0) s[b + C_URG] = s[b + C_URG]! + 1;
      if ((flags & CWR) !== 0) s[b + C_CWR] = s[b + C_CWR]! + 1;
      if ((flags & ECE) !== 0) s[b + C_ECE] = s[b + C_ECE]! + 1;
    }
    addStat(s, b + ALL_LEN, payload);
    if (isFwd) {
      if (payload >= 1) s[b + ACT_DATA_FWD] = s[b + ACT_DATA_FWD]! + 1;
      addStat(s, b + FWD_LEN, payload);
      s[b + FWD_HDR] = s[b + FWD_HDR]! + header;
      if (s[b + FWD_LEN + N]! > 1) addStat(s, b + FWD_IAT, ts - s[b + FWD_LAST]!);
      s[b + FWD_LAST] = ts;
      if (header < s[b + MIN_SEG_FWD]!) s[b + MIN_SEG_FWD] = header;
      if (!this.fork && s[b + FWD_LEN + N] === 1) s[b + INIT_WIN_FWD] = window;
      if ((flags & PSH) !== 0) s[b + F_PSH] = s[b + F_PSH]! + 1;
      if ((flags & URG) !== 0) s[b + F_URG] = s[b + F_URG]! + 1;
      if ((flags & FIN) !== 0) s[b + F_FIN] = s[b + F_FIN]! + 1;
      if ((flags & RST) !== 0) s[b + F_RST] = s[b + F_RST]! + 1;
    } else {
      addStat(s, b + BWD_LEN, payload);
      // Fork quirk: Bwd Init Win Bytes is overwritten by every backward packet (so it ends as the last one's).
      if (this.fork || s[b + BWD_LEN + N] === 1) s[b + INIT_WIN_BWD] = window;
      s[b + BWD_HDR] = s[b + BWD_HDR]! + header;
      if (s[b + BWD_LEN + N]! > 1) addStat(s, b + BWD_IAT, ts - s[b + BWD_LAST]!);
      s[b + BWD_LAST] = ts;
      if ((flags & PSH) !== 0) s[b + B_PSH] = s[b + B_PSH]! + 1;
      if ((flags & URG) !== 0) s[b + B_URG] = s[b + B_URG]! + 1;
      if ((flags & FIN) !== 0) s[b + B_FIN] = s[b + B_FIN]! + 1;
      if ((flags & RST) !== 0) s[b + B_RST] = s[b + B_RST]! + 1;
    }
    addStat(s, b + FLOW_IAT, ts - s[b + LAST]!);
    s[b + LAST] = ts;
  }

  private countFlags(b: number, flags: number): void {
    if (flags === 0) return;
    const s = this.state;
    if ((flags & FIN) !== 0) s[b + C_FIN] = s[b + C_FIN]! + 1;
    if ((flags & SYN) !== 0) s[b + C_SYN] = s[b + C_SYN]! + 1;
    if ((flags & RST) !== 0) s[b + C_RST] = s[b + C_RST]! + 1;
    if ((flags & PSH) !== 0) s[b + C_PSH] = s[b + C_PSH]! + 1;
    if ((flags & ACK) !== 0) s[b + C_ACK] = s[b + C_ACK]! + 1;
    if ((flags & URG) !== 0) s[b + C_URG] = s[b + C_URG]! + 1;
    if ((flags & CWR) !== 0) s[b + C_CWR] = s[b + C_CWR]! + 1;
    if ((flags & ECE) !== 0) s[b + C_ECE] = s[b + C_ECE]! + 1;
  }

  /**
   * Active/Idle (fork rule): a gap longer than the activity timeout since the end of the current active period
   * records that period (if longer than 0) and the gap, and starts a new period; otherwise the period extends.
   */
  private updateActiveIdle(b: number, ts: number): void {
    const s = this.state;
    const endActive = s[b + END_ACTIVE]!;
    if (ts - endActive > this.activityTimeoutUs) {
      const active = endActive - s[b + START_ACTIVE]!;
      if (active > 0) addStat(s, b + ACTIVE, active);
      addStat(s, b + IDLE, ts - endActive);
      s[b + START_ACTIVE] = ts;
    }
    s[b + END_ACTIVE] = ts;
  }

  // --- emission -------------------------------------------------------------------------------------------

  private emit(slot: number, reason: number): void {
    this.flows++;
    this.byReason[reason] = this.byReason[reason]! + 1;
    const text = EXPIRY_REASONS[reason]!;
    if (this.csvOut === undefined) this.sink(this.buildRecord(slot, text));
    else this.writeCsvRow(slot, text, this.csvOut);
  }

  /** The flow's start time as text (TimestampText), written into `out`. */
  private writeTimestamp(us: number, out: CsvRowBuffer): void {
    const micros = this.timestamps.select(us);
    out.text(this.timestamps.prefix);
    out.paddedInt(micros, 6);
  }

  /** Text of the address of key endpoint A (`endpointA`) or B of the flow being emitted (after prepareEmit). */
  private emittedAddressText(endpointA: boolean): string {
    return keyAddressText(this.eIpVersion, this.table.keys, this.eSlot * KEY_STRIDE + (endpointA ? 3 : 7));
  }

  /**
   * The per-flow values shared by both emission forms (record and CSV row), left in the `e*` fields. Also
   * applies the corrected set's final active period. Called exactly once per emitted flow.
   */
  private prepareEmit(slot: number): void {
    const s = this.state;
    const fork = this.fork;
    const b = slot * STRIDE;
    const keys = this.table.keys;
    const kb = slot * KEY_STRIDE;
    const keyProto = keys[kb]! & 0xff;
    const ipVersion = (keys[kb]! >>> 8) & 0xff;
    const ports = keys[kb + 2]!;
    const portA = (ports >>> 16) & 0xffff;
    const portB = ports & 0xffff;
    const v4A = keys[kb + 3]! >>> 0;
    const v4B = keys[kb + 7]! >>> 0;
    const fwdIsA = s[b + FWD_IS_A] === 1;
    this.eSlot = slot;
    const srcPort = fwdIsA ? portA : portB;
    const dstPort = fwdIsA ? portB : portA;

    // Fork: Flow ID follows the orientation of the table entry (the first flow of this 5-tuple), which
    // differs from Src/Dst when a later flow of the same tuple started from the other side.
    const idFwdIsA = fork ? s[b + ID_FWD_IS_A] === 1 : fwdIsA;

    const realProto = s[b + REAL_PROTO]!;
    const icmpType = Math.max(s[b + ICMP_TYPE]!, 0);
    const icmpCode = Math.max(s[b + ICMP_CODE]!, 0);
    // Corrected: the final active period counts too (the fork never records it).
    if (!fork) {
      const active = s[b + END_ACTIVE]! - s[b + START_ACTIVE]!;
      if (active > 0) addStat(s, b + ACTIVE, active);
    }
    this.eFwdIsA = fwdIsA ? 1 : 0;
    this.eIdFwdIsA = idFwdIsA ? 1 : 0;
    this.eIdFirstPort = idFwdIsA ? portA : portB;
    this.eIdSecondPort = idFwdIsA ? portB : portA;
    this.eIdFirstV4 = idFwdIsA ? v4A : v4B;
    this.eIdSecondV4 = idFwdIsA ? v4B : v4A;
    this.eSrcV4 = fwdIsA ? v4A : v4B;
    this.eDstV4 = fwdIsA ? v4B : v4A;
    this.eSrcPort = srcPort;
    this.eDstPort = dstPort;
    this.eKeyProto = keyProto;
    this.eIpVersion = ipVersion;
    this.eRealProto = realProto;
    this.eIcmpType = icmpType;
    this.eIcmpCode = icmpCode;
  }

  /** The Community ID of the flow being emitted (after prepareEmit), for the CSV path. */
  private emittedCommunityId(): string {
    const kb = this.eSlot * KEY_STRIDE;
    const fwdIsA = this.eFwdIsA === 1;
    return keyCommunityId(
      this.eIpVersion,
      this.table.keys,
      kb + (fwdIsA ? 3 : 7),
      kb + (fwdIsA ? 7 : 3),
      this.eRealProto,
      this.eSrcPort,
      this.eDstPort,
      this.eIcmpType,
      this.eIcmpCode,
    );
  }

  /**
   * The number columns of the flow being emitted, in FLOW_CSV_COLUMNS order (FLOW_NUMBER_COLUMNS), into
   * `v[at .. at + FLOW_ROW_WIDTH)`: Src Port, Dst Port, Protocol, the CIC columns from `Flow Duration` to
   * `Total TCP Flow Time`, then ip_version, vlan_id, first_packet_index, last_packet_index,
   * out_of_order_packets. Both emission forms (record and CSV line) take them from here, so they cannot drift
   * apart. Call after prepareEmit.
   */
  private fillValues(slot: number, v: FlowRow, at: number, rowIsZero: boolean): void {
    const s = this.state;
    // The row starts with Src Port, Dst Port, Protocol; `o` is where Flow Duration goes.
    const o = at + 3;
    v[at] = this.eSrcPort;
    v[at + 1] = this.eDstPort;
    v[at + 2] = this.eKeyProto;
    const b = slot * STRIDE;
    const realProto = this.eRealProto;
    const start = s[b + START]!;
    const duration = s[b + LAST]! - start;
    const durationS = duration / 1e6;
    const fwdPackets = s[b + FWD_LEN + N]!;
    const bwdPackets = s[b + BWD_LEN + N]!;
    const packets = fwdPackets + bwdPackets;
    const fwdBytes = s[b + FWD_LEN + SUM]!;
    const bwdBytes = s[b + BWD_LEN + SUM]!;
    const sfCount = s[b + SF_COUNT]!;
    const fb = b + FWD_BULK;
    const bb = b + BWD_BULK;
    const minSegFwd = s[b + MIN_SEG_FWD]!;
    const isIcmp = realProto === PROTO_ICMP || realProto === PROTO_ICMPV6;
    // Columns copied from the state as they are, the same for one packet or many.
    v[o + 29] = s[b + F_PSH]!;
    v[o + 30] = s[b + B_PSH]!;
    v[o + 31] = s[b + F_URG]!;
    v[o + 32] = s[b + B_URG]!;
    v[o + 33] = s[b + F_RST]!;
    v[o + 34] = s[b + B_RST]!;
    v[o + 35] = s[b + FWD_HDR]!;
    v[o + 36] = s[b + BWD_HDR]!;
    v[o + 44] = s[b + C_FIN]!;
    v[o + 45] = s[b + C_SYN]!;
    v[o + 46] = s[b + C_RST]!;
    v[o + 47] = s[b + C_PSH]!;
    v[o + 48] = s[b + C_ACK]!;
    v[o + 49] = s[b + C_URG]!;
    v[o + 50] = s[b + C_CWR]!;
    v[o + 51] = s[b + C_ECE]!;
    v[o + 66] = s[b + INIT_WIN_FWD]!;
    v[o + 67] = s[b + INIT_WIN_BWD]!;
    v[o + 68] = s[b + ACT_DATA_FWD]!;
    v[o + 69] = minSegFwd === Number.POSITIVE_INFINITY ? 0 : minSegFwd;
    v[o + 78] = isIcmp ? s[b + ICMP_CODE]! : -1;
    v[o + 79] = isIcmp ? s[b + ICMP_TYPE]! : -1;
    v[o + 80] = realProto === PROTO_TCP ? s[b + CUMULATIVE_TCP]! : 0;
    v[o + 81] = this.eIpVersion;
    v[o + 82] = s[b + VLAN_ID]!;
    v[o + 83] = s[b + FIRST_INDEX]!;
    v[o + 84] = s[b + LAST_INDEX]!;
    v[o + 85] = s[b + OUT_OF_ORDER]!;
    if (packets === 1) {
      this.fillOnePacketStatistics(b, v, o, rowIsZero);
      return;
    }
    // Empty statistics and zero durations give 0, never NaN or Infinity (docs/flow-features.md).
    v[o + 0] = duration;
    v[o + 1] = fwdPackets;
    v[o + 2] = bwdPackets;
    v[o + 3] = fwdBytes;
    v[o + 4] = bwdBytes;
    putMaxMinMeanStd(s, b + FWD_LEN, v, o + 5);
    putMaxMinMeanStd(s, b + BWD_LEN, v, o + 9);
    v[o + 13] = duration > 0 ? (fwdBytes + bwdBytes) / durationS : 0;
    v[o + 14] = duration > 0 ? packets / durationS : 0;
    putMeanStdMaxMin(s, b + FLOW_IAT, v, o + 15);
    v[o + 19] = s[b + FWD_IAT + SUM]!;
    putMeanStdMaxMin(s, b + FWD_IAT, v, o + 20);
    v[o + 24] = s[b + BWD_IAT + SUM]!;
    putMeanStdMaxMin(s, b + BWD_IAT, v, o + 25);
    v[o + 37] = duration > 0 ? fwdPackets / durationS : 0;
    v[o + 38] = duration > 0 ? bwdPackets / durationS : 0;
    // Packet Length Min, Max, Mean, Std, Variance.
    const all = b + ALL_LEN;
    const allN = s[all + N]!;
    if (allN > 0) {
      const variance = allN > 1 ? s[all + M2]! / (allN - 1) : 0;
      v[o + 39] = s[all + MIN]!;
      v[o + 40] = s[all + MAX]!;
      v[o + 41] = s[all + M1]!;
      v[o + 42] = Math.sqrt(variance);
      v[o + 43] = variance;
    } else {
      v[o + 39] = 0;
      v[o + 40] = 0;
      v[o + 41] = 0;
      v[o + 42] = 0;
      v[o + 43] = 0;
    }
    v[o + 52] = fwdPackets > 0 ? bwdPackets / fwdPackets : 0;
    v[o + 53] = packets > 0 ? s[all + SUM]! / packets : 0;
    v[o + 54] = fwdPackets > 0 ? fwdBytes / fwdPackets : 0;
    v[o + 55] = bwdPackets > 0 ? bwdBytes / bwdPackets : 0;
    // Fork quirk: subflow and bulk averages are Java long divisions (truncated); corrected divides for real.
    if (this.fork) {
      v[o + 56] = longRatio(s[fb + BK_BYTES]!, s[fb + BK_COUNT]!);
      v[o + 57] = longRatio(s[fb + BK_PACKETS]!, s[fb + BK_COUNT]!);
      v[o + 58] = longRatio(s[fb + BK_BYTES]!, s[fb + BK_DURATION]! / 1e6);
      v[o + 59] = longRatio(s[bb + BK_BYTES]!, s[bb + BK_COUNT]!);
      v[o + 60] = longRatio(s[bb + BK_PACKETS]!, s[bb + BK_COUNT]!);
      v[o + 61] = longRatio(s[bb + BK_BYTES]!, s[bb + BK_DURATION]! / 1e6);
      v[o + 62] = longRatio(fwdPackets, sfCount);
      v[o + 63] = longRatio(fwdBytes, sfCount);
      v[o + 64] = longRatio(bwdPackets, sfCount);
      v[o + 65] = longRatio(bwdBytes, sfCount);
    } else {
      v[o + 56] = realRatio(s[fb + BK_BYTES]!, s[fb + BK_COUNT]!);
      v[o + 57] = realRatio(s[fb + BK_PACKETS]!, s[fb + BK_COUNT]!);
      v[o + 58] = realRatio(s[fb + BK_BYTES]!, s[fb + BK_DURATION]! / 1e6);
      v[o + 59] = realRatio(s[bb + BK_BYTES]!, s[bb + BK_COUNT]!);
      v[o + 60] = realRatio(s[bb + BK_PACKETS]!, s[bb + BK_COUNT]!);
      v[o + 61] = realRatio(s[bb + BK_BYTES]!, s[bb + BK_DURATION]! / 1e6);
      v[o + 62] = realRatio(fwdPackets, sfCount);
      v[o + 63] = realRatio(fwdBytes, sfCount);
      v[o + 64] = realRatio(bwdPackets, sfCount);
      v[o + 65] = realRatio(bwdBytes, sfCount);
    }
    putMeanStdMaxMin(s, b + ACTIVE, v, o + 70);
    putMeanStdMaxMin(s, b + IDLE, v, o + 74);
  }

  /**
   * The statistics columns of a one-packet flow (most flows of real traffic; `fillValues` writes the columns
   * copied from the state for every flow), with what one packet implies written out:
   * duration 0 (so every rate is 0), no gaps (IAT, Active and Idle statistics empty: 0), the packet's payload
   * as min, max and mean of its direction and of all packets with std and variance 0, no bulk (it needs 4
   * packets), one subflow (fork and corrected alike), so the subflow columns equal the totals. The general path
   * gives the same values (the golden tests' one-packet flows and the corpus output pin both).
   * `rowIsZero`: the row holds only zeros (a fresh record row), so the 38 columns that are always 0
   * here are not written again; storing them was about half of this function's cost.
   */
  private fillOnePacketStatistics(b: number, v: FlowRow, o: number, rowIsZero: boolean): void {
    const s = this.state;
    const fwd = s[b + FWD_LEN + N]! === 1;
    const payload = s[b + ALL_LEN + SUM]!;
    const fwdPackets = fwd ? 1 : 0;
    const bwdPackets = fwd ? 0 : 1;
    const fwdBytes = fwd ? payload : 0;
    const bwdBytes = fwd ? 0 : payload;
    v[o + 1] = fwdPackets;
    v[o + 2] = bwdPackets;
    v[o + 3] = fwdBytes;
    v[o + 4] = bwdBytes;
    // Fwd then Bwd Packet Length Max, Min, Mean (Std: 0).
    v[o + 5] = fwdBytes;
    v[o + 6] = fwdBytes;
    v[o + 7] = fwdBytes;
    v[o + 9] = bwdBytes;
    v[o + 10] = bwdBytes;
    v[o + 11] = bwdBytes;
    // Packet Length Min, Max, Mean (Std and Variance: 0).
    v[o + 39] = payload;
    v[o + 40] = payload;
    v[o + 41] = payload;
    // Average Packet Size, Fwd and Bwd Segment Size Avg.
    v[o + 53] = payload;
    v[o + 54] = fwdBytes;
    v[o + 55] = bwdBytes;
    // Subflow Fwd/Bwd Packets/Bytes: totals ÷ 1 subflow.
    v[o + 62] = fwdPackets;
    v[o + 63] = fwdBytes;
    v[o + 64] = bwdPackets;
    v[o + 65] = bwdBytes;
    if (rowIsZero) return;
    // The columns that are 0 for one packet: Flow Duration, the two Std columns, Flow Bytes/s and Packets/s,
    // the Flow, Fwd and Bwd IAT columns, Fwd and Bwd Packets/s, Packet Length Std and Variance, Down/Up Ratio
    // (bwd ÷ fwd packets: 0 with or without forward packets), the bulk columns, Active and Idle.
    v[o] = 0;
    v[o + 8] = 0;
    v[o + 12] = 0;
    for (let i = o + 13; i < o + 29; i++) v[i] = 0;
    v[o + 37] = 0;
    v[o + 38] = 0;
    v[o + 42] = 0;
    v[o + 43] = 0;
    v[o + 52] = 0;
    for (let i = o + 56; i < o + 62; i++) v[i] = 0;
    for (let i = o + 70; i < o + 78; i++) v[i] = 0;
  }

  private buildRecord(slot: number, reason: ExpiryReason): FlowRecord {
    this.prepareEmit(slot);
    // A fresh zeroed row (records already handed out keep theirs), so fillValues need not store the ~38 zeros
    // of a one-packet flow one by one (see fillOnePacketStatistics), and an IPv4 key leaves its address words
    // 1-3 as they are.
    const rows = newRecordRow();
    const at = 0;
    this.fillValues(slot, rows, at, true);
    // The key, for the record's text columns (made on first read: flow-record.ts).
    const k = at + FLOW_ROW_WIDTH;
    const fwdIsA = this.eFwdIsA === 1;
    rows[k + KEY_AT.ipVersion] = this.eIpVersion;
    rows[k + KEY_AT.idReversed] = this.eIdFwdIsA === this.eFwdIsA ? 0 : 1;
    rows[k + KEY_AT.keyProto] = this.eKeyProto;
    rows[k + KEY_AT.realProto] = this.eRealProto;
    rows[k + KEY_AT.srcPort] = this.eSrcPort;
    rows[k + KEY_AT.dstPort] = this.eDstPort;
    rows[k + KEY_AT.icmpType] = this.eIcmpType;
    rows[k + KEY_AT.icmpCode] = this.eIcmpCode;
    rows[k + KEY_AT.startUs] = this.state[slot * STRIDE + START]!;
    const keys = this.table.keys;
    const kb = slot * KEY_STRIDE;
    const src = k + KEY_AT.srcAddress;
    const dst = k + KEY_AT.dstAddress;
    const a = kb + 3;
    const b = kb + 7;
    rows[src] = keys[fwdIsA ? a : b]!;
    rows[dst] = keys[fwdIsA ? b : a]!;
    if (this.eIpVersion !== 4) {
      for (let w = 1; w < 4; w++) {
        rows[src + w] = keys[(fwdIsA ? a : b) + w]!;
        rows[dst + w] = keys[(fwdIsA ? b : a) + w]!;
      }
    }
    return new MeterFlowRecord(rows, reason);
  }

  /**
   * Writes the flow's CSV line (with its newline) into `out` straight from the state: the same values, in the
   * same order and spelling as `flowCsvRow(buildRecord(...))`, without the 95-key object or per-value strings.
   * Our strings (addresses, timestamp, community id, reason) never need quoting.
   */
  private writeCsvRow(slot: number, reason: ExpiryReason, out: CsvRowBuffer): void {
    this.prepareEmit(slot);
    const communityId = this.emittedCommunityId();
    this.fillValues(slot, this.rowValues, 0, false);
    const keyProto = this.eKeyProto;
    out.beginRow();
    // IPv4 addresses are spelled from their integers; IPv6 ones need their text.
    const v4 = this.eIpVersion === 4;
    const textA = v4 ? '' : this.emittedAddressText(true);
    const textB = v4 ? '' : this.emittedAddressText(false);
    const idFwdIsA = this.eIdFwdIsA === 1;
    const fwdIsA = this.eFwdIsA === 1;
    if (v4) out.ipv4(this.eIdFirstV4);
    else out.text(idFwdIsA ? textA : textB);
    out.text('-');
    if (v4) out.ipv4(this.eIdSecondV4);
    else out.text(idFwdIsA ? textB : textA);
    out.text('-');
    out.number(this.eIdFirstPort);
    out.text('-');
    out.number(this.eIdSecondPort);
    out.text('-');
    out.number(keyProto);
    out.comma();
    if (v4) out.ipv4(this.eSrcV4);
    else out.text(fwdIsA ? textA : textB);
    out.field(this.eSrcPort);
    out.comma();
    if (v4) out.ipv4(this.eDstV4);
    else out.text(fwdIsA ? textB : textA);
    out.field(this.eDstPort);
    out.field(keyProto);
    out.comma();
    this.writeTimestamp(this.state[slot * STRIDE + START]!, out);
    // The numeric columns go through one tight loop in the buffer (a call per value cost more than writing
    // it: most are 0).
    const values = this.rowValues;
    out.fields(values, 3, 81);
    out.textField(communityId);
    out.textField(reason);
    out.fields(values, 84, 5);
    out.endRow();
  }
}

let warmedUp = false;
/** Open-flow cap of the warm-up meters: small, so that their tables grow and then evict. */
const WARM_UP_MAX_OPEN_FLOWS = 16;
/**
 * Times the warm-up packets are run (each time through fresh meters). V8 gives a function its feedback vector
 * only after the function has run for a while, and what its calls before that see is not recorded: one pass
 * left the rare branches its first packets take (the duplicate, CWR/ECE, forward URG) without feedback, so on
 * the bench mix `add` was still compiled 3 times. With the second pass it is compiled once.
 */
const WARM_UP_PASSES = 2;

/**
 * Once per process, before the first real meter: runs the warm-up packets (warm-up-traffic.ts) through
 * throwaway meters (the fork's feature set emitting records, the corrected one writing CSV), so that every common
 * branch of the per-packet and emission code has type feedback before V8 optimizes it, and the optimized code
 * is not thrown away and rebuilt each time a capture first takes one of them (see warm-up-traffic.ts for the
 * measured cost). Nothing of it is observable: the meters, their records and their CSV text are dropped.
 * Costs ~25 ms of CPU once per process (two passes, WARM_UP_PASSES).
 */
function warmUpFlowMeter(): void {
  warmedUp = true;
  for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
    warmUpFlowTable();
    // Two meters cover both feature sets and both emission forms (the emission code does not depend on the
    // feature set).
    const recordMeter = new FlowMeter(
      { featureSet: FEATURE_SETS[0], maxOpenFlows: WARM_UP_MAX_OPEN_FLOWS },
      () => {},
      undefined,
      2,
    );
    const csvMeter = new FlowMeter(
      { featureSet: FEATURE_SETS[1], maxOpenFlows: WARM_UP_MAX_OPEN_FLOWS },
      () => {},
      new CsvRowBuffer(() => {}, 4096),
      2,
    );
    forEachWarmUpPacket((frame, packet) => {
      recordMeter.add(frame, packet);
      csvMeter.add(frame, packet);
    });
    recordMeter.finish();
    csvMeter.finish();
  }
}

function longRatio(a: number, c: number): number {
  return c > 0 ? Math.trunc(a / c) : 0;
}
function realRatio(a: number, c: number): number {
  return c > 0 ? a / c : 0;
}

function readyReason(code: number): number {
  return code === READY_BY_RST ? REASON_RST : REASON_FIN;
}

function countsByReason(counts: Float64Array): Record<ExpiryReason, number> {
  const byReason = {} as Record<ExpiryReason, number>;
  EXPIRY_REASONS.forEach((reason, code) => {
    byReason[reason] = counts[code]!;
  });
  return byReason;
}

/**
 * Commons Math SummaryStatistics update: min/max, sum, and the incremental first and second moments. The block's
 * offsets (N, SUM, MIN, MAX, M1, M2 = 0 .. 5) are written as numbers and the moments read once: the smaller
 * bytecode lets the optimizer inline all four calls of a packet (`addPacket`), not two.
 */
function addStat(s: Float64Array, o: number, value: number): void {
  const n = s[o]! + 1;
  s[o] = n;
  s[o + 1] = s[o + 1]! + value;
  let m1 = 0;
  let m2 = 0;
  if (n === 1) {
    s[o + 2] = value;
    s[o + 3] = value;
  } else {
    if (value < s[o + 2]!) s[o + 2] = value;
    if (value > s[o + 3]!) s[o + 3] = value;
    m1 = s[o + 4]!;
    m2 = s[o + 5]!;
  }
  const dev = value - m1;
  const nDev = dev / n;
  s[o + 4] = m1 + nDev;
  s[o + 5] = m2 + (n - 1) * dev * nDev;
}

// Empty statistics are 0, never NaN (FLOW-FEATURES: "statistics of empty sets: 0"); the standard deviation is
// the square root of the sample variance (n - 1), 0 for fewer than two values.

/** `values[at .. at+4)` = max, min, mean, std of the statistics block at `o`. */
function putMaxMinMeanStd(s: Float64Array, o: number, values: FlowRow, at: number): void {
  const n = s[o + N]!;
  if (n > 0) {
    values[at] = s[o + MAX]!;
    values[at + 1] = s[o + MIN]!;
    values[at + 2] = s[o + M1]!;
    values[at + 3] = n > 1 ? Math.sqrt(s[o + M2]! / (n - 1)) : 0;
  } else {
    values[at] = 0;
    values[at + 1] = 0;
    values[at + 2] = 0;
    values[at + 3] = 0;
  }
}

/** `values[at .. at+4)` = mean, std, max, min of the statistics block at `o`. */
function putMeanStdMaxMin(s: Float64Array, o: number, values: FlowRow, at: number): void {
  const n = s[o + N]!;
  if (n > 0) {
    values[at] = s[o + M1]!;
    values[at + 1] = n > 1 ? Math.sqrt(s[o + M2]! / (n - 1)) : 0;
    values[at + 2] = s[o + MAX]!;
    values[at + 3] = s[o + MIN]!;
  } else {
    values[at] = 0;
    values[at + 1] = 0;
    values[at + 2] = 0;
    values[at + 3] = 0;
  }
}
