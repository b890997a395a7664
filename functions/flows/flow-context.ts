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

/** One flow in a key's window: its start, the value counted as distinct, share flags, duration and shape. */
interface Entry {
  readonly startUs: number;
  /** Arrival number within the key: orders equal starts, so that which flow leaves first is deterministic. */
  readonly seq: number;
  readonly value: string | number;
  readonly flag: number;
  readonly durationUs: number;
  readonly shape: number;
}

function entryBefore(a: Entry, b: Entry): boolean {
  return a.startUs < b.startUs || (a.startUs === b.startUs && a.seq < b.seq);
}

/** Binary min-heap of entries, earliest start first. */
class EntryHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    const items = this.items;
    let i = items.length;
    items.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as Entry;
      if (!entryBefore(entry, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): Entry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && entryBefore(items[right] as Entry, items[left] as Entry) ? right : left;
      const c = items[child] as Entry;
      if (!entryBefore(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * Binary min-heap of numbers (start times; only their count matters). A second copy of the heap on purpose: one
 * generic heap with a comparator callback measured 30-40% slower for FlowContext.next (inference bench, same
 * machine, old and new alternated), because the callback is not inlined at the shared call site.
 */
class NumberHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  push(value: number): void {
    const items = this.items;
    let i = items.length;
    items.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as number;
      if (value >= p) break;
      items[i] = p;
      i = parent;
    }
    items[i] = value;
  }

  pop(): void {
    const items = this.items;
    const last = items.pop();
    if (last === undefined || items.length === 0) return;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (items[right] as number) < (items[left] as number) ? right : left;
      const c = items[child] as number;
      if (c >= last) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
  }
}

/**
 * Flows of one key inside the window, in a min-heap on start time; with running distinct counts, flags for the
 * shares and a second heap of the starts within the rate window (the last second).
 *
 * Ordered by start, not by arrival: flows are emitted when they end, so a long flow arrives after shorter ones
 * that started later, and concurrent connections (an HTTP flood) end in any order. Keeping arrival order (as an
 * earlier version did) let an old long flow sit behind younger ones, never evicted, and counted it in the last
 * second's rate. A heap evicts the earliest start whatever the arrival order, O(log n) per flow.
 */
class KeyWindow {
  private readonly window = new EntryHeap();
  /**
   * Starts of the held flows that are within the rate window of `latestUs` (a subset of `window`); kept only
   * where the rate is read (the pair map).
   */
  private readonly rate: NumberHeap | undefined;
  private seq = 0;
  shapes = new Map<number, number>();
  durationSumUs = 0;
  latestUs = Number.NEGATIVE_INFINITY;
  distinct = new Map<string | number, number>();
  unanswered = 0;
  payload = 0;
  /** Whether the last flow added started before the rate window (it counts for itself only). */
  private lastBeforeRate = false;
  /**
   * Ends of the key's flows within the rate window of `latestEndUs` (pair map only). Separate from `window`: a
   * flow's end and its start are not in the same order across flows, and a long flow that started before the
   * start window still ended now.
   */
  private readonly ends: NumberHeap | undefined;
  private latestEndUs = Number.NEGATIVE_INFINITY;
  /** Whether the last flow added ended before the rate window of the latest end (it counts for itself only). */
  private lastEndedBefore = false;

  constructor(withRate: boolean) {
    this.rate = withRate ? new NumberHeap() : undefined;
    this.ends = withRate ? new NumberHeap() : undefined;
  }

  get size(): number {
    return this.window.size;
  }

  /**
   * Adds a flow after evicting the flows that started before the window (`windowUs`) and, past `maxFlows`, the
   * earliest-starting ones. The new flow always counts for its own context, even when it started before the
   * window (a long flow emitted late); being the earliest then, it is evicted by the next add. `rateUs` ≤
   * `windowUs`, so every start in the rate heap is also in the window.
   */
  add(
    startUs: number,
    value: string | number,
    flag: number,
    durationUs: number,
    shape: number,
    windowUs: number,
    rateUs: number,
    maxFlows: number,
  ): void {
    if (startUs > this.latestUs) this.latestUs = startUs;
    const rate = this.rate;
    const rateOldest = this.latestUs - rateUs;
    if (rate !== undefined) while (rate.size > 0 && (rate.peek() as number) < rateOldest) rate.pop();
    const oldest = this.latestUs - windowUs;
    for (let e = this.window.peek(); e !== undefined; e = this.window.peek()) {
      if (e.startUs >= oldest && this.window.size < maxFlows) break;
      this.window.pop();
      // Evicted for the cap while inside the rate window: it is the earliest start there too.
      if (rate !== undefined && e.startUs >= rateOldest) rate.pop();
      this.forget(e);
    }
    this.window.push({ startUs, seq: this.seq++, value, flag, durationUs, shape });
    this.lastBeforeRate = startUs < rateOldest;
    if (rate !== undefined && !this.lastBeforeRate) rate.push(startUs);
    this.durationSumUs += durationUs;
    this.shapes.set(shape, (this.shapes.get(shape) ?? 0) + 1);
    this.distinct.set(value, (this.distinct.get(value) ?? 0) + 1);
    if (flag & 1) this.unanswered++;
    if (flag & 2) this.payload++;
    const ends = this.ends;
    if (ends !== undefined) {
      const endUs = startUs + durationUs;
      if (endUs > this.latestEndUs) this.latestEndUs = endUs;
      const endOldest = this.latestEndUs - rateUs;
      while (ends.size > 0 && (ends.peek() as number) < endOldest) ends.pop();
      this.lastEndedBefore = endUs < endOldest;
      if (!this.lastEndedBefore) {
        // Past the cap the earliest end leaves (the count saturates, like the others).
        if (ends.size >= maxFlows) ends.pop();
        ends.push(endUs);
      }
    }
  }

  /**
   * Flows that ended within the rate window of the latest end, plus the last flow added if it did not (0 without
   * a rate heap).
   */
  ended(): number {
    return (this.ends?.size ?? 0) + (this.lastEndedBefore ? 1 : 0);
  }

  /**
   * Flows that started within the rate window of the latest start, plus the last flow added if it did not
   * (0 without a rate heap).
   */
  recent(): number {
    return (this.rate?.size ?? 0) + (this.lastBeforeRate ? 1 : 0);
  }

  private forget(e: Entry): void {
    const left = (this.distinct.get(e.value) ?? 1) - 1;
    if (left === 0) this.distinct.delete(e.value);
    else this.distinct.set(e.value, left);
    if (e.flag & 1) this.unanswered--;
    if (e.flag & 2) this.payload--;
    this.durationSumUs -= e.durationUs;
    const same = (this.shapes.get(e.shape) ?? 1) - 1;
    if (same === 0) this.shapes.delete(e.shape);
    else this.shapes.set(e.shape, same);
  }
}

/**
 * Keyed windows with a bound on the number of keys: keys that no later flow can reach are swept periodically; when
 * the map is full even so, the oldest-created keys go first (Map insertion order), an eighth of the map at a time
 * so that a stream of new keys (a scan) costs one sweep per `maxKeys / 8` keys, and the result stays deterministic.
 */
class KeyedWindows {
  private readonly windows = new Map<string, KeyWindow>();
  constructor(
    private readonly maxKeys: number,
    private readonly withRate = false,
  ) {}

  touch(key: string, sweepBeforeUs: number): KeyWindow {
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.maxKeys) {
        this.sweep(sweepBeforeUs);
        const keep = this.maxKeys - Math.max(1, this.maxKeys >> 3);
        for (const first of this.windows.keys()) {
          if (this.windows.size <= keep) break;
          this.windows.delete(first);
        }
      }
      w = new KeyWindow(this.withRate);
      this.windows.set(key, w);
    }
    return w;
  }

  /** Drops keys whose latest flow started before `beforeUs`. */
  sweep(beforeUs: number): void {
    for (const [key, w] of this.windows) {
      if (w.latestUs < beforeUs) this.windows.delete(key);
    }
  }

  get size(): number {
    return this.windows.size;
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
    this.bySrc = new KeyedWindows(maxKeys);
    this.byPair = new KeyedWindows(maxKeys, true);
    this.bySvc = new KeyedWindows(maxKeys);
  }

  /** Context of `flow` (which joins the window of the flows after it). */
  next(flow: FlowContextInput): FlowContextFeatures {
    let startUs = this.time.parseUs(flow.Timestamp);
    // A flow without a readable start joins at the latest time seen (keeps the state monotone).
    if (Number.isNaN(startUs)) startUs = Number.isFinite(this.latestUs) ? this.latestUs : 0;
    if (startUs > this.latestUs) this.latestUs = startUs;
    const src = flow['Src IP'];
    const dst = flow['Dst IP'];
    const port = flow['Dst Port'];
    const flag = (flow['Total Bwd packets'] === 0 ? 1 : 0) | (flow['Total Length of Fwd Packet'] > 0 ? 2 : 0);
    const sweepBefore = this.latestUs - this.windowUs - KEY_HORIZON_US;
    const s = this.bySrc.touch(src, sweepBefore);
    const duration = flow['Flow Duration'];
    // Durations are integers (µs), so the running sums stay exact whatever the order of adds and evictions.
    const durationUs = Number.isFinite(duration) && duration > 0 ? Math.round(duration) : 0;
    // (forward packets, forward bytes / 64) as one number: a Map key without a string per flow.
    const shape = flow['Total Fwd Packet'] * 2 ** 26 + Math.floor(flow['Total Length of Fwd Packet'] / 64);
    s.add(startUs, dst, 0, 0, 0, this.windowUs, this.rateUs, this.maxFlows);
    const p = this.byPair.touch(`${src}>${dst}`, sweepBefore);
    p.add(startUs, port, flag, durationUs, shape, this.windowUs, this.rateUs, this.maxFlows);
    const v = this.bySvc.touch(`${dst}|${port}|${flow.Protocol}`, sweepBefore);
    v.add(startUs, src, 0, 0, 0, this.windowUs, this.rateUs, this.maxFlows);
    if (++this.seen % SWEEP_EVERY === 0) {
      this.bySrc.sweep(sweepBefore);
      this.byPair.sweep(sweepBefore);
      this.bySvc.sweep(sweepBefore);
    }
    const pairN = p.size;
    return {
      ctx_src_flows: s.size,
      ctx_src_dst_ips: s.distinct.size,
      ctx_pair_flows: pairN,
      ctx_pair_dst_ports: p.distinct.size,
      ctx_pair_unanswered_share: p.unanswered / pairN,
      ctx_pair_payload_share: p.payload / pairN,
      ctx_svc_flows: v.size,
      ctx_svc_src_ips: v.distinct.size,
      ctx_pair_flows_1s: p.recent(),
      ctx_pair_port_share: p.distinct.size / pairN,
      ctx_pair_svc_share: (p.distinct.get(port) ?? 0) / pairN,
      ctx_pair_open_estimate: p.durationSumUs / this.windowUs,
      ctx_pair_same_shape_share: (p.shapes.get(shape) ?? 0) / pairN,
      ctx_pair_ended_1s: p.ended(),
    };
  }

  /** Adds the context columns to `flow` in place and returns it (for scoring whole captures). */
  annotate<T extends FlowContextInput>(flow: T): T & FlowContextFeatures {
    return Object.assign(flow, this.next(flow));
  }

  /** Keys held (for tests of the memory bound). */
  get keys(): number {
    return this.bySrc.size + this.byPair.size + this.bySvc.size;
  }
}
