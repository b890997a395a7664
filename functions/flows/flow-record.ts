/**
 * The FlowRecord objects the meter hands out.
 *
 * Why not a plain 95-key object: with the many one-packet flows of real traffic, building that object was the
 * largest single per-flow cost. Each of its ~85 number fields is a boxed heap number, so one record is ~100 heap
 * objects for the garbage collector to allocate, trace and copy while the record waits in a batch. Here the
 * number columns of a flow live in one row of a shared Float64Array (outside the JS heap, never traced or
 * copied) and the record is a small object: the six text columns as own properties, plus the row's place.
 * Every number column is a getter (and setter) on the prototype, under its CSV column name, so
 * `record['Flow Duration']` reads as it did.
 *
 * What differs from a plain object: the number columns are not own properties, so `Object.keys`, spread and
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

const STRING_COLUMNS: ReadonlySet<FlowColumn> = new Set(FLOW_STRING_COLUMNS);

/** The number columns, in FLOW_CSV_COLUMNS order: a record's row holds them in this order. */
export const FLOW_NUMBER_COLUMNS: readonly Exclude<FlowColumn, (typeof FLOW_STRING_COLUMNS)[number]>[] =
  FLOW_CSV_COLUMNS.filter(
    (column): column is Exclude<FlowColumn, (typeof FLOW_STRING_COLUMNS)[number]> =>
      !STRING_COLUMNS.has(column),
  );

/** Numbers in one record's row. */
export const FLOW_ROW_WIDTH = FLOW_NUMBER_COLUMNS.length;

/** Rows per shared Float64Array: small enough that a few long-kept records pin little memory (~90 KB each). */
export const ROWS_PER_BLOCK = 128;

/** The number columns: the accessors MeterFlowRecord's static block defines on its prototype. */
export interface MeterFlowRecord extends FlowRecordNumbers {}

/** A FlowRecord whose number columns are read from a row of a shared Float64Array (see the file comment). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged interface types accessors defined at run time (static block), which the compiler cannot see.
export class MeterFlowRecord {
  'Flow ID': string;
  'Src IP': string;
  'Dst IP': string;
  Timestamp: string;
  community_id: string;
  expiry_reason: FlowRecord['expiry_reason'];
  readonly #values: Float64Array;
  /** Index of the row's first number (`Src Port`) in `#values`. */
  readonly #at: number;

  constructor(
    values: Float64Array,
    at: number,
    flowId: string,
    srcIp: string,
    dstIp: string,
    timestamp: string,
    communityId: string,
    reason: FlowRecord['expiry_reason'],
  ) {
    this['Flow ID'] = flowId;
    this['Src IP'] = srcIp;
    this['Dst IP'] = dstIp;
    this.Timestamp = timestamp;
    this.community_id = communityId;
    this.expiry_reason = reason;
    this.#values = values;
    this.#at = at;
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
          return this.#values[this.#at + index]!;
        },
        set(this: MeterFlowRecord, value: number) {
          this.#values[this.#at + index] = value;
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
