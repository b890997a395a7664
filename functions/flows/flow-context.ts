/**
 * Host-behaviour ("context") features of a flow: properties of the flows around it in the same capture, which a
 * single flow cannot carry. A SYN-flood packet and a SYN-scan probe are the same flow; what separates them is
 * that the flood hits one port thousands of times and the scan hits thousands of ports once each.
 *
 * Computed over the flow stream in the order the flow engine emits it, with a trailing time window on the
 * flows' start times: for flow f, the flows seen so far that share a key with f and started at most `windowS`
 * seconds (1 s for `ctx_pair_flows_1s`) before the latest start seen for that key, plus f itself (which counts
 * even when it started earlier: a long flow is emitted late, when it ends). Which flows are seen so far depends on
 * the emission order; which of them count does not (each key's flows are held in a min-heap on start time, not
 * in arrival order). `ctx_pair_ended_1s` is the exception to "by start": it counts by end time, over its own
 * min-heap of ends. Deterministic, one pass, O(log n) per flow, and memory bounded by `maxKeys` keys ×
 * `maxFlowsPerKey` entries per map (counts saturate at `maxFlowsPerKey`, the earliest-starting flows leaving
 * first).
 *
 * The same code runs in the CLI (`ccf analyze`), in training (models/training/lab/flow-context-columns.ts over
 * the `ccf flows` CSV of each lab capture) and wherever a whole capture's flows are scored. A record scored on
 * its own (POST /api/predict, CICIDS rows) has no context: its columns are absent and the models read
 * `absent_value` (-1) for them, as they did in training.
 */
import { MeterFlowRecord } from './flow-record.js';

/** Context columns, in the order the models read them. Counts are over the trailing window. */
export const FLOW_CONTEXT_COLUMNS = [
  /** flows from the same source IP */
  'ctx_src_flows',
  /** distinct destination IPs of those flows (host sweeps) */
  'ctx_src_dst_ips',
  /** flows with the same source IP and destination IP */
  'ctx_pair_flows',
  /** distinct destination ports of those flows (one for a flood, many for a scan) */
  'ctx_pair_dst_ports',
  /** share of those flows without a single backward packet (unanswered probes, spoof-free floods) */
  'ctx_pair_unanswered_share',
  /** share of those flows that carried forward payload (scans and SYN floods carry none) */
  'ctx_pair_payload_share',
  /** flows to the same destination IP, port and protocol */
  'ctx_svc_flows',
  /** distinct source IPs of those flows (one attacker or many clients) */
  'ctx_svc_src_ips',
  /**
   * flows of the pair that started within the last second (or the window, if shorter) before its latest start
   * (rate; the window may be longer than the burst)
   */
  'ctx_pair_flows_1s',
  /** distinct destination ports ÷ flows of the pair: ≈ 1 for a scan, ≈ 0 for a flood (scale-free) */
  'ctx_pair_port_share',
  /** share of the pair's flows that went to this flow's destination port */
  'ctx_pair_svc_share',
  /**
   * sum of the pair's flow durations in the window ÷ the window: by Little's law the mean number of the pair's
   * connections open at once (slow DoS holds hundreds open; browsing a few)
   */
  'ctx_pair_open_estimate',
  /**
   * share of the pair's flows with this flow's shape (forward packets, forward bytes in 64-byte steps): tools
   * repeat one request (brute force, floods, scans), people do not
   */
  'ctx_pair_same_shape_share',
  /**
   * flows of the pair that ENDED (start + duration) within the last second (or the window, if shorter) before the
   * latest end seen for the pair, this flow included: a tool that closes all its connections at once (slowhttptest
   * at the end of its run) ends hundreds in one second; people close theirs one at a time. Counted over every flow
   * of the pair seen so far (not only those in the start window), by end time, so the emission order does not
   * matter either
   */
  'ctx_pair_ended_1s',
] as const;

export type FlowContextColumn = (typeof FLOW_CONTEXT_COLUMNS)[number];
export type FlowContextFeatures = { [K in FlowContextColumn]: number };

/** Value of every context column for a flow scored without its capture (the models were trained on it). */
export const CONTEXT_ABSENT_VALUE = -1;

export interface FlowContextOptions {
  /** Trailing window on flow start times (default 10 s). */
  windowS?: number;
  /** Keys kept per map; the least recently seen is dropped beyond it (default 65,536). */
  maxKeys?: number;
  /** Flows remembered per key; counts saturate here (default 8,192). */
  maxFlowsPerKey?: number;
}

/** The fields of a flow record the context needs (a FlowRecord has them all). */
export interface FlowContextInput {
  readonly 'Src IP': string;
  readonly 'Dst IP': string;
  readonly 'Dst Port': number;
  readonly Protocol: number;
  readonly Timestamp: string;
  readonly 'Total Bwd packets': number;
  readonly 'Total Length of Fwd Packet': number;
  readonly 'Total Fwd Packet': number;
  /** µs */
  readonly 'Flow Duration': number;
}

/** The columns of a flow record the context reads: what a reader of flow CSV lines must pick out for it. */
export const FLOW_CONTEXT_INPUT_COLUMNS = [
  'Src IP',
  'Dst IP',
  'Dst Port',
  'Protocol',
  'Timestamp',
  'Total Bwd packets',
  'Total Length of Fwd Packet',
  'Total Fwd Packet',
  'Flow Duration',
] as const satisfies readonly (keyof FlowContextInput)[];

export const DEFAULT_CONTEXT_WINDOW_S = 10;
/**
 * Up to here a flow's start (µs) is an exact integer and its `Timestamp` text parses back to it (year 2255;
 * pcap's 32-bit seconds end in 2106).
 */
const MAX_ROUND_TRIP_US = Number.MAX_SAFE_INTEGER;
const RATE_WINDOW_US = 1e6;

/**
 * `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, the flow engine's `Timestamp`) → µs since the epoch. The date-time part is
 * cached: consecutive flows mostly start in the same second.
 */
export class TimestampParser {
  private prefix = '';
  private prefixUs = 0;

  parseUs(text: string): number {
    const dot = text.indexOf('.');
    const headLength = dot < 0 ? text.length : dot;
    // Same second as the last flow (the common case): no allocation.
    if (headLength !== this.prefix.length || !text.startsWith(this.prefix)) {
      const head = text.slice(0, headLength);
      const ms = Date.parse(`${head.replace(' ', 'T')}Z`);
      if (Number.isNaN(ms)) return Number.NaN;
      this.prefix = head;
      this.prefixUs = ms * 1000;
    }
    if (dot < 0) return this.prefixUs;
    // Up to six fraction digits, read as microseconds ("5" → 500000 µs).
    let us = 0;
    let scale = 100_000;
    for (let i = dot + 1; i < text.length && scale >= 1; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return Number.NaN;
      us += digit * scale;
      scale /= 10;
    }
    return this.prefixUs + us;
  }
}

/*
 * The state below is struct-of-arrays on purpose. Held as objects (an Entry per flow and map, a KeyWindow with two
 * Maps and up to three heaps per key, a string per key) it was ~200 MB of small objects for a 115 MB capture (86,912
 * flows), and the parse thread's GC took 1.2 s instead of 0.3 s. Here every flow and key is a row of typed arrays,
 * addresses are numbers interned once, and nothing is allocated per flow except the result object.
 */

/** Interned ids stay below this, so that two of them (and a service code) make one exact key number (< 2^53). */
const ID_LIMIT = 2 ** 26;
const NO_ID = -1;
/** Service codes of integer ports 0-65535 and protocols 0-255 are below this; other values are interned above it. */
const ODD_SERVICE_BASE = 2 ** 24;

function grownF64(a: Float64Array, length: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(length);
  b.set(a);
  return b;
}

function grownI32(a: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(length);
  b.set(a);
  return b;
}

function grownU8(a: Uint8Array, length: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(length);
  b.set(a);
  return b;
}

/**
 * Strings (addresses) to small ids, reference-counted: an id is released with the last key or held flow that uses
 * it, so memory stays bounded by the keys and flows held (a spoofed-source flood brings a new address per flow).
 */
class Interner {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private refs = new Int32Array(256);
  private readonly freeIds: number[] = [];
  private nextId = 0;

  /** Id of `text`, with one reference taken. */
  acquire(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.freeIds.pop();
      if (id === undefined) {
        id = this.nextId++;
        // Over 67 M distinct strings held at once would need many GB of flows first; fail rather than collide.
        if (id >= ID_LIMIT) throw new RangeError(`FlowContext: more than ${ID_LIMIT} distinct values held`);
        if (id >= this.refs.length) this.refs = grownI32(this.refs, this.refs.length * 2);
      }
      this.ids.set(text, id);
      this.names[id] = text;
    }
    this.refs[id] = (this.refs[id] as number) + 1;
    return id;
  }

  retain(id: number): void {
    this.refs[id] = (this.refs[id] as number) + 1;
  }

  release(id: number): void {
    const left = (this.refs[id] as number) - 1;
    this.refs[id] = left;
    if (left === 0) {
      this.ids.delete(this.names[id] as string);
      this.names[id] = '';
      this.freeIds.push(id);
    }
  }

  /** Ids held (for tests of the memory bound). */
  get size(): number {
    return this.ids.size;
  }
}

/**
 * Blocks of 2^k doubles in one growable Float64Array, recycled per size class (a freed block holds the offset of
 * the next free block of its class). Offsets stay valid when the array grows; `data` does not.
 */
class Arena {
  data = new Float64Array(4096);
  private top = 0;
  private readonly freeHeads: number[] = new Array<number>(32).fill(-1);

  alloc(sizeClass: number): number {
    const head = this.freeHeads[sizeClass] as number;
    if (head >= 0) {
      this.freeHeads[sizeClass] = this.data[head] as number;
      return head;
    }
    const off = this.top;
    const end = off + 2 ** sizeClass;
    if (end > this.data.length) this.data = grownF64(this.data, Math.max(end, this.data.length * 2));
    this.top = end;
    return off;
  }

  release(off: number, sizeClass: number): void {
    this.data[off] = this.freeHeads[sizeClass] as number;
    this.freeHeads[sizeClass] = off;
  }
}

/** Min-heap push of `value` onto the `size` numbers at `off`. */
function pushNumber(data: Float64Array, off: number, size: number, value: number): void {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = data[off + parent] as number;
    if (value >= p) break;
    data[off + i] = p;
    i = parent;
  }
  data[off + i] = value;
}

/** Min-heap pop of the `size` (> 0) numbers at `off`. */
function popNumber(data: Float64Array, off: number, size: number): void {
  const n = size - 1;
  if (n === 0) return;
  const last = data[off + n] as number;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const l = data[off + left] as number;
    const child = right < n && (data[off + right] as number) < l ? right : left;
    const c = data[off + child] as number;
    if (c >= last) break;
    data[off + i] = c;
    i = child;
  }
  data[off + i] = last;
}

/**
 * Counts per (key slot, value), for the distinct values and shapes of each key: open addressing with linear
 * probing and backward-shift deletion (no tombstones). Values compare as a Map's keys do (SameValueZero).
 */
class CountTable {
  private slots = new Int32Array(1024).fill(NO_ID);
  private values = new Float64Array(1024);
  private counts = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private mask = 1023;
  private used = 0;

  get(slot: number, value: number): number {
    const mask = this.mask;
    const slots = this.slots;
    for (let i = hashOf(slot, value) & mask; ; i = (i + 1) & mask) {
      const s = slots[i] as number;
      if (s === NO_ID) return 0;
      if (s === slot && sameValueZero(this.values[i] as number, value)) return this.counts[i] as number;
    }
  }

  /** Adds one to (slot, value); returns the new count. */
  increment(slot: number, value: number): number {
    if ((this.used + 1) * 2 > this.slots.length) this.grow();
    const hash = hashOf(slot, value);
    const mask = this.mask;
    const slots = this.slots;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const s = slots[i] as number;
      if (s === NO_ID) {
        slots[i] = slot;
        this.values[i] = value;
        this.counts[i] = 1;
        this.hashes[i] = hash;
        this.used++;
        return 1;
      }
      if (s === slot && sameValueZero(this.values[i] as number, value)) {
        const count = (this.counts[i] as number) + 1;
        this.counts[i] = count;
        return count;
      }
    }
  }

  /** Takes one from (slot, value), which must be counted; returns the new count (0: removed). */
  decrement(slot: number, value: number): number {
    const mask = this.mask;
    const slots = this.slots;
    let i = hashOf(slot, value) & mask;
    while (!((slots[i] as number) === slot && sameValueZero(this.values[i] as number, value)))
      i = (i + 1) & mask;
    const count = (this.counts[i] as number) - 1;
    if (count > 0) {
      this.counts[i] = count;
      return count;
    }
    // Backward shift: move later entries of the probe run into the hole when their home is at or before it.
    for (let j = (i + 1) & mask; (slots[j] as number) !== NO_ID; j = (j + 1) & mask) {
      const home = (this.hashes[j] as number) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots[i] = slots[j] as number;
        this.values[i] = this.values[j] as number;
        this.counts[i] = this.counts[j] as number;
        this.hashes[i] = this.hashes[j] as number;
        i = j;
      }
    }
    slots[i] = NO_ID;
    this.used--;
    return 0;
  }

  private grow(): void {
    const { slots, values, counts, hashes } = this;
    const capacity = slots.length * 2;
    this.slots = new Int32Array(capacity).fill(NO_ID);
    this.values = new Float64Array(capacity);
    this.counts = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j] as number;
      if (s === NO_ID) continue;
      const hash = hashes[j] as number;
      let i = hash & this.mask;
      while ((this.slots[i] as number) !== NO_ID) i = (i + 1) & this.mask;
      this.slots[i] = s;
      this.values[i] = values[j] as number;
      this.counts[i] = counts[j] as number;
      this.hashes[i] = hash;
    }
  }
}

function sameValueZero(a: number, b: number): boolean {
  // biome-ignore lint/suspicious/noSelfCompare: NaN equals NaN as Map keys (SameValueZero).
  return a === b || (a !== a && b !== b);
}

/** Code of an integer port 0-65535 with an integer protocol 0-255 (below ODD_SERVICE_BASE); -1 for other values. */
function serviceCode(port: number, protocol: number): number {
  const valid =
    Number.isInteger(port) && port >= 0 && port <= 0xffff && Number.isInteger(protocol) && protocol >= 0;
  return valid && protocol <= 0xff ? port * 256 + protocol : -1;
}

const hashScratch = new Float64Array(1);
const hashWords = new Uint32Array(hashScratch.buffer);

function hashOf(slot: number, value: number): number {
  let lo: number;
  let hi: number;
  // biome-ignore lint/suspicious/noSelfCompare: every NaN (and -0 with 0) must hash alike, as they compare alike.
  if (value !== value) {
    lo = 0;
    hi = 0x7ff80000;
  } else {
    hashScratch[0] = value === 0 ? 0 : value;
    lo = hashWords[0] as number;
    hi = hashWords[1] as number;
  }
  let h = Math.imul(slot ^ 0x27d4eb2f, 0x85ebca6b) ^ lo;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ hi;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Keyed windows: per key (a slot, a row of the arrays below) the flows inside the window in a min-heap on start
 * time, running distinct counts, flags for the shares and, where the rate is read (the pair map), a heap of the
 * starts within the rate window (the last second) and one of the ends.
 *
 * Ordered by start, not by arrival: flows are emitted when they end, so a long flow arrives after shorter ones
 * that started later, and concurrent connections (an HTTP flood) end in any order. Keeping arrival order (as an
 * earlier version did) let an old long flow sit behind younger ones, never evicted, and counted it in the last
 * second's rate. A heap evicts the earliest start whatever the arrival order, O(log n) per flow.
 *
 * The number of keys is bounded: keys that no later flow can reach are swept periodically; when the map is full
 * even so, the oldest-created keys go first (Map insertion order), an eighth of the map at a time so that a stream
 * of new keys (a scan) costs one sweep per `maxKeys / 8` keys, and the result stays deterministic.
 */
class KeyedWindows {
  private readonly slotOf = new Map<number, number>();
  private readonly freeSlots: number[] = [];
  private slotCount = 0;
  private readonly arena = new Arena();
  /** (slot, value) counts for the distinct values; (slot, shape) counts in `shapes` (pair map only). */
  private readonly distinct = new CountTable();
  private readonly shapes = new CountTable();

  // Per key slot.
  latestUs = new Float64Array(64);
  private seq = new Float64Array(64);
  private winOff = new Int32Array(64);
  private winClass = new Uint8Array(64);
  /** Flows held (the window heap's size). */
  size = new Int32Array(64);
  distinctSize = new Int32Array(64);
  durationSumUs = new Float64Array(64);
  unanswered = new Int32Array(64);
  payload = new Int32Array(64);
  /** Starts of the held flows within the rate window of the latest start (a subset of the window). */
  private rateOff = new Int32Array(64);
  private rateClass = new Uint8Array(64);
  private rateSize = new Int32Array(64);
  /**
   * Ends of the key's flows within the rate window of the latest end. Separate from the window: a flow's end and
   * its start are not in the same order across flows, and a long flow that started before the start window still
   * ended now.
   */
  private endOff = new Int32Array(64);
  private endClass = new Uint8Array(64);
  private endSize = new Int32Array(64);
  private latestEndUs = new Float64Array(64);
  /** Whether the last flow added started before the rate window (it counts for itself only). */
  private lastBeforeRate = new Uint8Array(64);
  /** Whether the last flow added ended before the rate window of the latest end (it counts for itself only). */
  private lastEndedBefore = new Uint8Array(64);
  /** Interned ids the key holds (released with it). */
  private keyIdA = new Int32Array(64);
  private keyIdB = new Int32Array(64);
  private keyOddService = new Int32Array(64);

  // Per held flow (an entry); the window heaps hold entry numbers.
  private entryStart = new Float64Array(256);
  /** Arrival number within the key: orders equal starts, so that which flow leaves first is deterministic. */
  private entrySeq = new Float64Array(256);
  private entryValue = new Float64Array(256);
  private entryFlag = new Uint8Array(256);
  private entryDuration = new Float64Array(256);
  private entryShape = new Float64Array(256);
  private readonly freeEntries: number[] = [];
  private entryCount = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly withRate: boolean,
    /** Values are ids of `ips` (held while the flow is) rather than plain numbers. */
    private readonly valuesAreIps: boolean,
    private readonly ips: Interner,
    private readonly oddServices: Interner,
  ) {}

  /** Slot of `key`, created (taking references on the ids) when absent. */
  touch(key: number, idA: number, idB: number, oddService: number, sweepBeforeUs: number): number {
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      if (this.slotOf.size >= this.maxKeys) {
        this.sweep(sweepBeforeUs);
        const keep = this.maxKeys - Math.max(1, this.maxKeys >> 3);
        for (const [first, s] of this.slotOf) {
          if (this.slotOf.size <= keep) break;
          this.slotOf.delete(first);
          this.drop(s);
        }
      }
      slot = this.newSlot(idA, idB, oddService);
      this.slotOf.set(key, slot);
    }
    return slot;
  }

  /** Drops keys whose latest flow started before `beforeUs`. */
  sweep(beforeUs: number): void {
    for (const [key, slot] of this.slotOf) {
      if ((this.latestUs[slot] as number) < beforeUs) {
        this.slotOf.delete(key);
        this.drop(slot);
      }
    }
  }

  get keys(): number {
    return this.slotOf.size;
  }

  /**
   * Adds a flow after evicting the flows that started before the window (`windowUs`) and, past `maxFlows`, the
   * earliest-starting ones. The new flow always counts for its own context, even when it started before the
   * window (a long flow emitted late); being the earliest then, it is evicted by the next add. `rateUs` ≤
   * `windowUs`, so every start in the rate heap is also in the window.
   */
  add(
    slot: number,
    startUs: number,
    value: number,
    flag: number,
    durationUs: number,
    shape: number,
    windowUs: number,
    rateUs: number,
    maxFlows: number,
  ): void {
    let latestUs = this.latestUs[slot] as number;
    if (startUs > latestUs) {
      latestUs = startUs;
      this.latestUs[slot] = startUs;
    }
    const withRate = this.withRate;
    const rateOldest = latestUs - rateUs;
    if (withRate) {
      const off = this.rateOff[slot] as number;
      let n = this.rateSize[slot] as number;
      const data = this.arena.data;
      while (n > 0 && (data[off] as number) < rateOldest) popNumber(data, off, n--);
      this.rateSize[slot] = n;
    }
    const oldest = latestUs - windowUs;
    for (let n = this.size[slot] as number; n > 0; n--) {
      const data = this.arena.data;
      const off = this.winOff[slot] as number;
      const e = data[off] as number;
      const eStart = this.entryStart[e] as number;
      if (eStart >= oldest && n < maxFlows) break;
      this.popEntry(data, off, n);
      this.size[slot] = n - 1;
      // Evicted for the cap while inside the rate window: it is the earliest start there too.
      if (withRate && eStart >= rateOldest) {
        const r = this.rateSize[slot] as number;
        popNumber(data, this.rateOff[slot] as number, r);
        this.rateSize[slot] = r - 1;
      }
      this.forget(slot, e);
    }
    const e = this.newEntry(startUs, this.seq[slot] as number, value, flag, durationUs, shape);
    this.seq[slot] = (this.seq[slot] as number) + 1;
    this.pushEntry(slot, e);
    const beforeRate = startUs < rateOldest;
    this.lastBeforeRate[slot] = beforeRate ? 1 : 0;
    if (withRate && !beforeRate) this.pushNumberTo(slot, false, startUs);
    this.durationSumUs[slot] = (this.durationSumUs[slot] as number) + durationUs;
    if (withRate) this.shapes.increment(slot, shape);
    if (this.distinct.increment(slot, value) === 1)
      this.distinctSize[slot] = (this.distinctSize[slot] as number) + 1;
    if (this.valuesAreIps) this.ips.retain(value);
    if (flag & 1) this.unanswered[slot] = (this.unanswered[slot] as number) + 1;
    if (flag & 2) this.payload[slot] = (this.payload[slot] as number) + 1;
    if (withRate) {
      const endUs = startUs + durationUs;
      let latestEndUs = this.latestEndUs[slot] as number;
      if (endUs > latestEndUs) {
        latestEndUs = endUs;
        this.latestEndUs[slot] = endUs;
      }
      const endOldest = latestEndUs - rateUs;
      const data = this.arena.data;
      const off = this.endOff[slot] as number;
      let n = this.endSize[slot] as number;
      while (n > 0 && (data[off] as number) < endOldest) popNumber(data, off, n--);
      const endedBefore = endUs < endOldest;
      this.lastEndedBefore[slot] = endedBefore ? 1 : 0;
      if (!endedBefore && n >= maxFlows) {
        // Past the cap the earliest end leaves (the count saturates, like the others).
        popNumber(data, off, n--);
      }
      this.endSize[slot] = n;
      if (!endedBefore) this.pushNumberTo(slot, true, endUs);
    }
  }

  /** Count of `value` among the key's held flows. */
  countOf(slot: number, value: number): number {
    return this.distinct.get(slot, value);
  }

  /** Count of `shape` among the key's held flows (pair map only). */
  shapeCount(slot: number, shape: number): number {
    return this.shapes.get(slot, shape);
  }

  /**
   * Flows that ended within the rate window of the latest end, plus the last flow added if it did not (0 without
   * a rate heap).
   */
  ended(slot: number): number {
    return this.withRate ? (this.endSize[slot] as number) + (this.lastEndedBefore[slot] as number) : 0;
  }

  /**
   * Flows that started within the rate window of the latest start, plus the last flow added if it did not
   * (0 without a rate heap).
   */
  recent(slot: number): number {
    return this.withRate ? (this.rateSize[slot] as number) + (this.lastBeforeRate[slot] as number) : 0;
  }

  private forget(slot: number, e: number): void {
    const value = this.entryValue[e] as number;
    if (this.distinct.decrement(slot, value) === 0)
      this.distinctSize[slot] = (this.distinctSize[slot] as number) - 1;
    if (this.valuesAreIps) this.ips.release(value);
    const flag = this.entryFlag[e] as number;
    if (flag & 1) this.unanswered[slot] = (this.unanswered[slot] as number) - 1;
    if (flag & 2) this.payload[slot] = (this.payload[slot] as number) - 1;
    this.durationSumUs[slot] = (this.durationSumUs[slot] as number) - (this.entryDuration[e] as number);
    if (this.withRate) this.shapes.decrement(slot, this.entryShape[e] as number);
    this.freeEntries.push(e);
  }

  /** Removes a key: its flows, counts, blocks and id references. */
  private drop(slot: number): void {
    const data = this.arena.data;
    const off = this.winOff[slot] as number;
    for (let n = this.size[slot] as number; n > 0; n--) this.forget(slot, data[off + n - 1] as number);
    this.size[slot] = 0;
    this.arena.release(off, this.winClass[slot] as number);
    if (this.withRate) {
      this.arena.release(this.rateOff[slot] as number, this.rateClass[slot] as number);
      this.arena.release(this.endOff[slot] as number, this.endClass[slot] as number);
    }
    const a = this.keyIdA[slot] as number;
    const b = this.keyIdB[slot] as number;
    const odd = this.keyOddService[slot] as number;
    if (a !== NO_ID) this.ips.release(a);
    if (b !== NO_ID) this.ips.release(b);
    if (odd !== NO_ID) this.oddServices.release(odd);
    this.freeSlots.push(slot);
  }

  private newSlot(idA: number, idB: number, oddService: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.slotCount++;
      if (slot >= this.size.length) this.growSlots(this.size.length * 2);
    }
    this.latestUs[slot] = Number.NEGATIVE_INFINITY;
    this.seq[slot] = 0;
    this.winOff[slot] = this.arena.alloc(0);
    this.winClass[slot] = 0;
    this.size[slot] = 0;
    this.distinctSize[slot] = 0;
    this.durationSumUs[slot] = 0;
    this.unanswered[slot] = 0;
    this.payload[slot] = 0;
    this.lastBeforeRate[slot] = 0;
    this.lastEndedBefore[slot] = 0;
    if (this.withRate) {
      this.rateOff[slot] = this.arena.alloc(0);
      this.rateClass[slot] = 0;
      this.rateSize[slot] = 0;
      this.endOff[slot] = this.arena.alloc(0);
      this.endClass[slot] = 0;
      this.endSize[slot] = 0;
      this.latestEndUs[slot] = Number.NEGATIVE_INFINITY;
    }
    this.keyIdA[slot] = idA;
    this.keyIdB[slot] = idB;
    this.keyOddService[slot] = oddService;
    if (idA !== NO_ID) this.ips.retain(idA);
    if (idB !== NO_ID) this.ips.retain(idB);
    if (oddService !== NO_ID) this.oddServices.retain(oddService);
    return slot;
  }

  private growSlots(length: number): void {
    this.latestUs = grownF64(this.latestUs, length);
    this.seq = grownF64(this.seq, length);
    this.winOff = grownI32(this.winOff, length);
    this.winClass = grownU8(this.winClass, length);
    this.size = grownI32(this.size, length);
    this.distinctSize = grownI32(this.distinctSize, length);
    this.durationSumUs = grownF64(this.durationSumUs, length);
    this.unanswered = grownI32(this.unanswered, length);
    this.payload = grownI32(this.payload, length);
    this.rateOff = grownI32(this.rateOff, length);
    this.rateClass = grownU8(this.rateClass, length);
    this.rateSize = grownI32(this.rateSize, length);
    this.endOff = grownI32(this.endOff, length);
    this.endClass = grownU8(this.endClass, length);
    this.endSize = grownI32(this.endSize, length);
    this.latestEndUs = grownF64(this.latestEndUs, length);
    this.lastBeforeRate = grownU8(this.lastBeforeRate, length);
    this.lastEndedBefore = grownU8(this.lastEndedBefore, length);
    this.keyIdA = grownI32(this.keyIdA, length);
    this.keyIdB = grownI32(this.keyIdB, length);
    this.keyOddService = grownI32(this.keyOddService, length);
  }

  private newEntry(
    startUs: number,
    seq: number,
    value: number,
    flag: number,
    durationUs: number,
    shape: number,
  ): number {
    let e = this.freeEntries.pop();
    if (e === undefined) {
      e = this.entryCount++;
      if (e >= this.entryStart.length) {
        const length = this.entryStart.length * 2;
        this.entryStart = grownF64(this.entryStart, length);
        this.entrySeq = grownF64(this.entrySeq, length);
        this.entryValue = grownF64(this.entryValue, length);
        this.entryFlag = grownU8(this.entryFlag, length);
        this.entryDuration = grownF64(this.entryDuration, length);
        this.entryShape = grownF64(this.entryShape, length);
      }
    }
    this.entryStart[e] = startUs;
    this.entrySeq[e] = seq;
    this.entryValue[e] = value;
    this.entryFlag[e] = flag;
    this.entryDuration[e] = durationUs;
    this.entryShape[e] = shape;
    return e;
  }

  private before(a: number, b: number): boolean {
    const sa = this.entryStart[a] as number;
    const sb = this.entryStart[b] as number;
    return sa < sb || (sa === sb && (this.entrySeq[a] as number) < (this.entrySeq[b] as number));
  }

  private pushEntry(slot: number, e: number): void {
    const n = this.size[slot] as number;
    if (n === 2 ** (this.winClass[slot] as number)) {
      this.winOff[slot] = this.moveBlock(this.winOff[slot] as number, this.winClass[slot] as number, n);
      this.winClass[slot] = (this.winClass[slot] as number) + 1;
    }
    const data = this.arena.data;
    const off = this.winOff[slot] as number;
    let i = n;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = data[off + parent] as number;
      if (!this.before(e, p)) break;
      data[off + i] = p;
      i = parent;
    }
    data[off + i] = e;
    this.size[slot] = n + 1;
  }

  /** Pops the earliest entry of the `size` (> 0) at `off`. */
  private popEntry(data: Float64Array, off: number, size: number): void {
    const n = size - 1;
    if (n === 0) return;
    const last = data[off + n] as number;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const l = data[off + left] as number;
      const child = right < n && this.before(data[off + right] as number, l) ? right : left;
      const c = data[off + child] as number;
      if (!this.before(c, last)) break;
      data[off + i] = c;
      i = child;
    }
    data[off + i] = last;
  }

  /** Pushes onto the rate heap (or the ends heap) of `slot`, growing its block when full. */
  private pushNumberTo(slot: number, toEnds: boolean, value: number): void {
    const offs = toEnds ? this.endOff : this.rateOff;
    const classes = toEnds ? this.endClass : this.rateClass;
    const sizes = toEnds ? this.endSize : this.rateSize;
    const n = sizes[slot] as number;
    if (n === 2 ** (classes[slot] as number)) {
      offs[slot] = this.moveBlock(offs[slot] as number, classes[slot] as number, n);
      classes[slot] = (classes[slot] as number) + 1;
    }
    pushNumber(this.arena.data, offs[slot] as number, n, value);
    sizes[slot] = n + 1;
  }

  /** Copies a full block of class `sizeClass` into one twice its size; returns the new offset. */
  private moveBlock(off: number, sizeClass: number, n: number): number {
    const to = this.arena.alloc(sizeClass + 1);
    const data = this.arena.data;
    data.copyWithin(to, off, off + n);
    this.arena.release(off, sizeClass);
    return to;
  }
}

/**
 * How far behind the latest start a late flow can start: the flow engine emits a flow when it ends, at most its
 * flow timeout (120 s by default) after its start plus its idle timeout (120 s) later. A key is dropped only once
 * its latest flow is older than the window plus this, so that a long flow emitted late still finds the pair's
 * flows that started near it (exactly as if the flows had come in start order), up to the `maxKeys` bound.
 */
const KEY_HORIZON_US = 300e6;

const SWEEP_EVERY = 4096;

/** Streaming context over one capture's flows. Create one per capture; feed flows in emission order. */
export class FlowContext {
  private readonly windowUs: number;
  /** The rate window: 1 s, or the whole window if that is shorter. */
  private readonly rateUs: number;
  private readonly maxFlows: number;
  private readonly ips = new Interner();
  /** `port|protocol` of flows whose port or protocol is not an integer in range (the flow engine emits none). */
  private readonly oddServices = new Interner();
  private readonly bySrc: KeyedWindows;
  private readonly byPair: KeyedWindows;
  private readonly bySvc: KeyedWindows;
  private readonly time = new TimestampParser();
  private latestUs = Number.NEGATIVE_INFINITY;
  private seen = 0;

  constructor(options: FlowContextOptions = {}) {
    const windowS = options.windowS ?? DEFAULT_CONTEXT_WINDOW_S;
    if (!(windowS > 0)) throw new RangeError('windowS must be > 0');
    this.windowUs = windowS * 1e6;
    this.rateUs = Math.min(RATE_WINDOW_US, this.windowUs);
    this.maxFlows = options.maxFlowsPerKey ?? 8192;
    const maxKeys = options.maxKeys ?? 65_536;
    this.bySrc = new KeyedWindows(maxKeys, false, true, this.ips, this.oddServices);
    this.byPair = new KeyedWindows(maxKeys, true, false, this.ips, this.oddServices);
    this.bySvc = new KeyedWindows(maxKeys, false, true, this.ips, this.oddServices);
  }

  /** Context of `flow` (which joins the window of the flows after it). */
  next(flow: FlowContextInput): FlowContextFeatures {
    // A flow engine record carries its start as a number: no text to make and parse back (where the text
    // round-trips exactly: from 1970 on, while µs are exact integers).
    let startUs = flow instanceof MeterFlowRecord ? flow.startUs : Number.NaN;
    if (!(startUs >= 0 && startUs <= MAX_ROUND_TRIP_US)) startUs = this.time.parseUs(flow.Timestamp);
    // A flow without a readable start joins at the latest time seen (keeps the state monotone).
    if (Number.isNaN(startUs)) startUs = Number.isFinite(this.latestUs) ? this.latestUs : 0;
    if (startUs > this.latestUs) this.latestUs = startUs;
    // References held until the flow is in all three maps: evicting keys for it must not free its ids.
    const src = this.ips.acquire(flow['Src IP']);
    const dst = this.ips.acquire(flow['Dst IP']);
    const port = flow['Dst Port'];
    const protocol = flow.Protocol;
    let oddService = NO_ID;
    let service = serviceCode(port, protocol);
    if (service < 0) {
      // Keyed by text, as `${port}|${protocol}` keyed the map before.
      oddService = this.oddServices.acquire(`${port}|${protocol}`);
      service = ODD_SERVICE_BASE + oddService;
    }
    const flag = (flow['Total Bwd packets'] === 0 ? 1 : 0) | (flow['Total Length of Fwd Packet'] > 0 ? 2 : 0);
    const sweepBefore = this.latestUs - this.windowUs - KEY_HORIZON_US;
    const duration = flow['Flow Duration'];
    // Durations are integers (µs), so the running sums stay exact whatever the order of adds and evictions.
    const durationUs = Number.isFinite(duration) && duration > 0 ? Math.round(duration) : 0;
    // (forward packets, forward bytes / 64) as one number: a count key without a string per flow.
    const shape = flow['Total Fwd Packet'] * 2 ** 26 + Math.floor(flow['Total Length of Fwd Packet'] / 64);
    const { windowUs, rateUs, maxFlows } = this;
    const s = this.bySrc.touch(src, src, NO_ID, NO_ID, sweepBefore);
    this.bySrc.add(s, startUs, dst, 0, 0, 0, windowUs, rateUs, maxFlows);
    const pairs = this.byPair;
    const p = pairs.touch(src * ID_LIMIT + dst, src, dst, NO_ID, sweepBefore);
    pairs.add(p, startUs, port, flag, durationUs, shape, windowUs, rateUs, maxFlows);
    // Service codes are below 2^24 + ID_LIMIT, so below ID_LIMIT * 2: the key stays exact (< 2^53).
    const v = this.bySvc.touch(dst * (ID_LIMIT * 2) + service, dst, NO_ID, oddService, sweepBefore);
    this.bySvc.add(v, startUs, src, 0, 0, 0, windowUs, rateUs, maxFlows);
    const pairN = pairs.size[p] as number;
    const pairPorts = pairs.distinctSize[p] as number;
    const features: FlowContextFeatures = {
      ctx_src_flows: this.bySrc.size[s] as number,
      ctx_src_dst_ips: this.bySrc.distinctSize[s] as number,
      ctx_pair_flows: pairN,
      ctx_pair_dst_ports: pairPorts,
      ctx_pair_unanswered_share: (pairs.unanswered[p] as number) / pairN,
      ctx_pair_payload_share: (pairs.payload[p] as number) / pairN,
      ctx_svc_flows: this.bySvc.size[v] as number,
      ctx_svc_src_ips: this.bySvc.distinctSize[v] as number,
      ctx_pair_flows_1s: pairs.recent(p),
      ctx_pair_port_share: pairPorts / pairN,
      ctx_pair_svc_share: pairs.countOf(p, port) / pairN,
      ctx_pair_open_estimate: (pairs.durationSumUs[p] as number) / windowUs,
      ctx_pair_same_shape_share: pairs.shapeCount(p, shape) / pairN,
      ctx_pair_ended_1s: pairs.ended(p),
    };
    this.ips.release(src);
    this.ips.release(dst);
    if (oddService !== NO_ID) this.oddServices.release(oddService);
    // After reading the features: a sweep may drop this flow's own keys (a flow that started long before the rest).
    if (++this.seen % SWEEP_EVERY === 0) {
      this.bySrc.sweep(sweepBefore);
      this.byPair.sweep(sweepBefore);
      this.bySvc.sweep(sweepBefore);
    }
    return features;
  }

  /** Adds the context columns to `flow` in place and returns it (for scoring whole captures). */
  annotate<T extends FlowContextInput>(flow: T): T & FlowContextFeatures {
    return Object.assign(flow, this.next(flow));
  }

  /** Keys held (for tests of the memory bound). */
  get keys(): number {
    return this.bySrc.keys + this.byPair.keys + this.bySvc.keys;
  }
}
