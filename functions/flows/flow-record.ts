/**
 * The FlowRecord objects the meter hands out.
 *
 * Why not a plain 95-key object: with the many one-packet flows of real traffic, building that object was the
 * largest single per-flow cost. Each of its ~85 number fields is a boxed heap number, so one record is ~100 heap
 * objects for the garbage collector to allocate, trace and copy while the record waits in a batch. Here the
 * number columns of a flow live in one row of its own, a plain array of unboxed doubles (FlowRow: one heap
 * object with no pointers to trace), and the record is a small object: the row, the expiry reason, and the
 * text columns once read. Every number column is a getter (and setter) on the prototype, under its CSV column
 * name, so `record['Flow Duration']` reads as it did.
 *
 * Why a heap array, not a row of a shared Float64Array (the previous form): a typed array's memory comes
 * from the C allocator, which gave the blocks of freed records back to the kernel, so new blocks were fresh
 * pages (two thirds of a bench-mix run's page faults) and a memset; a heap array is a bump of the young
 * generation's pointer, in memory that stays mapped and warm, and a record dropped before the next scavenge
 * costs the collector nothing. Measured on the bench mix: page faults 74 k → 29 k, CPU ~0.87×.
 *
 * The text columns (Flow ID, Src IP, Dst IP, Timestamp, community_id) are getters too, made from the flow's
 * key (kept as numbers after the row's columns) on first read and kept: formatting them at emission (the
 * Community ID is a SHA-1) was about a fifth of the CPU time of reading the bench mix into records, and a
 * consumer that reads only features (a model) never needs them. Every reader sees the same text the CSV path
 * writes (the golden tests' kit compares the two).
 *
 * What differs from a plain object: the columns are not own properties, so `Object.keys`, spread and
 * `structuredClone` do not see them. `toJSON()` (and so `JSON.stringify`) gives a plain object with every
 * column in FLOW_CSV_COLUMNS order, then any properties a consumer added (the flow context's ctx_* columns):
 * use it where a plain copy is needed.
 */
import {
  FLOW_CSV_COLUMNS,
  FLOW_STRING_COLUMNS,
  type FlowColumn,
  type FlowRecord,
  type FlowRecordNumbers,
} from './flow-columns.js';
import { dashNumber, keyAddressText, keyCommunityId, TimestampText } from './flow-text.js';

const STRING_COLUMNS: ReadonlySet<FlowColumn> = new Set(FLOW_STRING_COLUMNS);

/** The number columns, in FLOW_CSV_COLUMNS order: a record's row holds them in this order. */
export const FLOW_NUMBER_COLUMNS: readonly Exclude<FlowColumn, (typeof FLOW_STRING_COLUMNS)[number]>[] =
  FLOW_CSV_COLUMNS.filter(
    (column): column is Exclude<FlowColumn, (typeof FLOW_STRING_COLUMNS)[number]> =>
      !STRING_COLUMNS.has(column),
  );

/** Number columns in one record's row. */
export const FLOW_ROW_WIDTH = FLOW_NUMBER_COLUMNS.length;

/**
 * After its number columns, a record's row holds the flow's key as numbers (never shown as columns): what its
 * text columns are made from, on first read. Offsets from the end of the number columns.
 */
export const KEY_AT = {
  /** 4 or 6. */
  ipVersion: 0,
  /** 1 when the Flow ID starts with the destination (the fork orients it by the first flow of the 5-tuple). */
  idReversed: 1,
  /** The key's protocol (Flow ID, Protocol column) and the packet's own (ICMP inside IPv6: Community ID). */
  keyProto: 2,
  realProto: 3,
  srcPort: 4,
  dstPort: 5,
  icmpType: 6,
  icmpCode: 7,
  /** µs since the epoch of the first packet. */
  startUs: 8,
  /** Source then destination address, 4 words each (signed 32-bit, big-endian order; IPv4 in the first word). */
  srcAddress: 9,
  dstAddress: 13,
} as const;
/** Numbers of the key: up to the destination address's 4 words. */
export const FLOW_KEY_WIDTH = KEY_AT.dstAddress + 4;

/** Numbers in one record's row: the number columns, then the key. */
export const RECORD_ROW_WIDTH = FLOW_ROW_WIDTH + FLOW_KEY_WIDTH;

/**
 * A row of numbers: a plain array whose elements V8 stores as unboxed doubles (PACKED_DOUBLE_ELEMENTS, one heap
 * object). Every row is a copy of ZERO_ROW, which is built with a fractional value first so that it, and
 * every copy, has that elements kind from the start (an array built from zeros holds small integers and would
 * change kind at its first fractional value).
 */
export type FlowRow = number[];
const ZERO_ROW: FlowRow = [];
for (let i = 0; i < RECORD_ROW_WIDTH; i++) ZERO_ROW.push(0.5);
ZERO_ROW.fill(0);

/** A zeroed row for one record (number columns, then its key). */
export function newRecordRow(): FlowRow {
  return ZERO_ROW.slice();
}

/** A zeroed row of the number columns only (the CSV path's scratch row), of the same elements kind. */
export function newScratchRow(): FlowRow {
  return ZERO_ROW.slice(0, FLOW_ROW_WIDTH);
}

/** The number columns: the accessors MeterFlowRecord's static block defines on its prototype. */
export interface MeterFlowRecord extends FlowRecordNumbers {}

/** Timestamps of records: one cache of the last second's text for all of them. */
const recordTimestamps = new TimestampText();
/** A FlowRecord whose number columns are read from a row of its own (see the file comment). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged interface types accessors defined at run time (static block), which the compiler cannot see.
export class MeterFlowRecord {
  expiry_reason: FlowRecord['expiry_reason'];
  /** The number columns in FLOW_NUMBER_COLUMNS order, then the key (KEY_AT). */
  readonly #values: FlowRow;
  // The text columns, made on first read (or set by a consumer).
  #flowId: string | undefined = undefined;
  #srcIp: string | undefined = undefined;
  #dstIp: string | undefined = undefined;
  #timestamp: string | undefined = undefined;
  #communityId: string | undefined = undefined;

  constructor(values: FlowRow, reason: FlowRecord['expiry_reason']) {
    this.expiry_reason = reason;
    this.#values = values;
  }

  get 'Flow ID'(): string {
    if (this.#flowId === undefined) {
      const key = FLOW_ROW_WIDTH;
      const v = this.#values;
      const src = this['Src IP'];
      const dst = this['Dst IP'];
      // `| 0`: small integers index the text tables (a double index took a slower element load).
      const srcPort = dashNumber(v[key + KEY_AT.srcPort]! | 0);
      const dstPort = dashNumber(v[key + KEY_AT.dstPort]! | 0);
      const proto = dashNumber(v[key + KEY_AT.keyProto]! | 0);
      const reversed = v[key + KEY_AT.idReversed] === 1;
      // Joined with + (a template literal measured slower: ToString on every part).
      this.#flowId =
        (reversed ? dst : src) +
        '-' +
        (reversed ? src : dst) +
        (reversed ? dstPort : srcPort) +
        (reversed ? srcPort : dstPort) +
        proto;
    }
    return this.#flowId;
  }
  set 'Flow ID'(text: string) {
    this.#flowId = text;
  }

  get 'Src IP'(): string {
    this.#srcIp ??= this.#addressText(KEY_AT.srcAddress);
    return this.#srcIp;
  }
  set 'Src IP'(text: string) {
    this.#srcIp = text;
  }

  get 'Dst IP'(): string {
    this.#dstIp ??= this.#addressText(KEY_AT.dstAddress);
    return this.#dstIp;
  }
  set 'Dst IP'(text: string) {
    this.#dstIp = text;
  }

  get Timestamp(): string {
    this.#timestamp ??= recordTimestamps.format(this.#values[FLOW_ROW_WIDTH + KEY_AT.startUs]!);
    return this.#timestamp;
  }
  set Timestamp(text: string) {
    this.#timestamp = text;
    // The key's start no longer matches the text: startUs must not be believed any more.
    this.#values[FLOW_ROW_WIDTH + KEY_AT.startUs] = Number.NaN;
  }

  /**
   * The flow's start in µs since the epoch, the number `Timestamp` is the text of (NaN once a consumer has set
   * `Timestamp`): for consumers that need the time, not the text (the flow context), so that neither is made.
   */
  get startUs(): number {
    return this.#values[FLOW_ROW_WIDTH + KEY_AT.startUs]!;
  }

  get community_id(): string {
    if (this.#communityId === undefined) {
      const key = FLOW_ROW_WIDTH;
      const v = this.#values;
      this.#communityId = keyCommunityId(
        v[key + KEY_AT.ipVersion]!,
        v,
        key + KEY_AT.srcAddress,
        key + KEY_AT.dstAddress,
        v[key + KEY_AT.realProto]!,
        v[key + KEY_AT.srcPort]!,
        v[key + KEY_AT.dstPort]!,
        v[key + KEY_AT.icmpType]!,
        v[key + KEY_AT.icmpCode]!,
      );
    }
    return this.#communityId;
  }
  set community_id(text: string) {
    this.#communityId = text;
  }

  #addressText(offset: number): string {
    const v = this.#values;
    return keyAddressText(v[FLOW_ROW_WIDTH + KEY_AT.ipVersion]!, v, FLOW_ROW_WIDTH + offset);
  }

  /** Every column as a plain object, in FLOW_CSV_COLUMNS order, then the own properties a consumer added. */
  toJSON(): FlowRecord {
    const plain: Record<string, unknown> = {};
    for (const column of FLOW_CSV_COLUMNS) plain[column] = this[column];
    for (const [key, value] of Object.entries(this)) if (!(key in plain)) plain[key] = value;
    // Every FlowRecord column was just copied from this record.
    return plain as FlowRecord;
  }

  static {
    // One accessor pair per number column, each with its index fixed in its closure (monomorphic and
    // inlined by the optimizer at a call site that reads a fixed column).
    FLOW_NUMBER_COLUMNS.forEach((column, index) => {
      Object.defineProperty(MeterFlowRecord.prototype, column, {
        get(this: MeterFlowRecord): number {
          return this.#values[index]!;
        },
        set(this: MeterFlowRecord, value: number) {
          this.#values[index] = value;
        },
        enumerable: true,
        configurable: false,
      });
    });
  }
}

/**
 * A plain-object copy of a flow record (every column an own property, in FLOW_CSV_COLUMNS order, then any
 * added columns): for spreading, `Object.keys`/`entries`, `structuredClone` or posting to a worker.
 */
export function plainFlowRecord(record: FlowRecord): FlowRecord {
  return record instanceof MeterFlowRecord ? record.toJSON() : { ...record };
}
