/**
 * Host-behaviour ("context") features of a flow: properties of the flows around it in the same capture, which a
 * single flow cannot carry. A SYN-flood packet and a SYN-scan probe are the same flow; what separates them is
 * that the flood hits one port thousands of times and the scan hits thousands of ports once each.
 *
 * Computed over the flow stream in the order the flow engine emits it, with a trailing time window on the
 * flows' start times: for flow f, the flows seen so far (f included) that share a key with f and started at
 * most `windowS` seconds before the latest start seen for that key. Deterministic for a given flow order, one
 * pass, O(1) amortised per flow, and memory bounded by `maxKeys` keys × `maxFlowsPerKey` entries per map
 * (counts saturate at `maxFlowsPerKey`).
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
  /** flows of the pair that started within the last second (rate; the window may be longer than the burst) */
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

/**
 * Flows of one key inside the window, oldest first, in a growable ring; with per-entry values for the distinct
 * counts and flags for the shares.
 */
class KeyWindow {
  start: number[] = [];
  value: (string | number)[] = [];
  flags: number[] = [];
  durationUs: number[] = [];
  shape: number[] = [];
  shapes = new Map<number, number>();
  head = 0;
  durationSumUs = 0;
  latestUs = Number.NEGATIVE_INFINITY;
  distinct = new Map<string | number, number>();
  unanswered = 0;
  payload = 0;
  /** Index (into `start`) of the oldest flow within the 1 s rate window. */
  rateHead = 0;

  get size(): number {
    return this.start.length - this.head;
  }

  add(
    startUs: number,
    value: string | number,
    flag: number,
    durationUs: number,
    shape: number,
    windowUs: number,
    maxFlows: number,
  ): void {
    if (startUs > this.latestUs) this.latestUs = startUs;
    const oldest = this.latestUs - windowUs;
    while (this.size > 0 && ((this.start[this.head] as number) < oldest || this.size >= maxFlows)) {
      this.evictHead();
    }
    this.start.push(startUs);
    this.value.push(value);
    this.flags.push(flag);
    this.durationUs.push(durationUs);
    this.durationSumUs += durationUs;
    this.shape.push(shape);
    this.shapes.set(shape, (this.shapes.get(shape) ?? 0) + 1);
    this.distinct.set(value, (this.distinct.get(value) ?? 0) + 1);
    if (flag & 1) this.unanswered++;
    if (flag & 2) this.payload++;
    // Compact the arrays once the evicted prefix dominates, so memory follows the window, not the stream.
    if (this.head > 1024 && this.head * 2 > this.start.length) {
      this.start = this.start.slice(this.head);
      this.value = this.value.slice(this.head);
      this.flags = this.flags.slice(this.head);
      this.durationUs = this.durationUs.slice(this.head);
      this.shape = this.shape.slice(this.head);
      this.rateHead = Math.max(0, this.rateHead - this.head);
      this.head = 0;
    }
  }

  /** Flows that started within `rateUs` before the latest start (ring order = arrival order). */
  recent(rateUs: number): number {
    if (this.rateHead < this.head) this.rateHead = this.head;
    const oldest = this.latestUs - rateUs;
    while (this.rateHead < this.start.length && (this.start[this.rateHead] as number) < oldest)
      this.rateHead++;
    return this.start.length - this.rateHead;
  }

  private evictHead(): void {
    const value = this.value[this.head] as string | number;
    const left = (this.distinct.get(value) ?? 1) - 1;
    if (left === 0) this.distinct.delete(value);
    else this.distinct.set(value, left);
    const flag = this.flags[this.head] as number;
    if (flag & 1) this.unanswered--;
    if (flag & 2) this.payload--;
    this.durationSumUs -= this.durationUs[this.head] as number;
    const shape = this.shape[this.head] as number;
    const same = (this.shapes.get(shape) ?? 1) - 1;
    if (same === 0) this.shapes.delete(shape);
    else this.shapes.set(shape, same);
    this.head++;
  }
}

/**
 * Keyed windows with a bound on the number of keys: keys whose window has emptied are swept periodically; when the
 * map is full even so, the oldest-created keys go first (Map insertion order), so the result stays deterministic.
 */
class KeyedWindows {
  private readonly windows = new Map<string, KeyWindow>();
  constructor(private readonly maxKeys: number) {}

  touch(key: string, oldestUs: number): KeyWindow {
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.maxKeys) {
        this.sweep(oldestUs);
        for (const first of this.windows.keys()) {
          if (this.windows.size < this.maxKeys) break;
          this.windows.delete(first);
        }
      }
      w = new KeyWindow();
      this.windows.set(key, w);
    }
    return w;
  }

  /** Drops keys whose latest flow started before `oldestUs` (their windows are empty for any later flow). */
  sweep(oldestUs: number): void {
    for (const [key, w] of this.windows) {
      if (w.latestUs < oldestUs) this.windows.delete(key);
    }
  }

  get size(): number {
    return this.windows.size;
  }
}

const SWEEP_EVERY = 4096;

/** Streaming context over one capture's flows. Create one per capture; feed flows in emission order. */
export class FlowContext {
  private readonly windowUs: number;
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
    this.maxFlows = options.maxFlowsPerKey ?? 8192;
    const maxKeys = options.maxKeys ?? 65_536;
    this.bySrc = new KeyedWindows(maxKeys);
    this.byPair = new KeyedWindows(maxKeys);
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
    const oldest = this.latestUs - this.windowUs;
    const s = this.bySrc.touch(src, oldest);
    const duration = flow['Flow Duration'];
    // Durations are integers (µs), so the running sums stay exact whatever the order of adds and evictions.
    const durationUs = Number.isFinite(duration) && duration > 0 ? Math.round(duration) : 0;
    // (forward packets, forward bytes / 64) as one number: a Map key without a string per flow.
    const shape = flow['Total Fwd Packet'] * 2 ** 26 + Math.floor(flow['Total Length of Fwd Packet'] / 64);
    s.add(startUs, dst, 0, 0, 0, this.windowUs, this.maxFlows);
    const p = this.byPair.touch(`${src}>${dst}`, oldest);
    p.add(startUs, port, flag, durationUs, shape, this.windowUs, this.maxFlows);
    const v = this.bySvc.touch(`${dst}|${port}|${flow.Protocol}`, oldest);
    v.add(startUs, src, 0, 0, 0, this.windowUs, this.maxFlows);
    if (++this.seen % SWEEP_EVERY === 0) {
      this.bySrc.sweep(oldest);
      this.byPair.sweep(oldest);
      this.bySvc.sweep(oldest);
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
      ctx_pair_flows_1s: p.recent(RATE_WINDOW_US),
      ctx_pair_port_share: p.distinct.size / pairN,
      ctx_pair_svc_share: (p.distinct.get(port) ?? 0) / pairN,
      ctx_pair_open_estimate: p.durationSumUs / this.windowUs,
      ctx_pair_same_shape_share: (p.shapes.get(shape) ?? 0) / pairN,
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
