import { z } from 'zod';
import { EXPIRY_REASONS, FLOW_CSV_COLUMNS, FLOW_STRING_COLUMNS } from '../flows/flow-columns.js';
import { FLOW_CONTEXT_COLUMNS } from '../flows/flow-context.js';
import { ValidationError } from '../platform/errors.js';

/**
 * zod schema of a flow record as accepted by POST /api/predict: every column optional (models need only
 * their own features; the scorer names missing ones), each with its type, unknown columns refused so a
 * misspelt feature is reported instead of ignored. The capture-context columns (FLOW_CONTEXT_COLUMNS) are
 * accepted too: a record taken from history carries them and is then scored exactly as its capture was.
 */
const stringColumns = new Set<string>(FLOW_STRING_COLUMNS);

const shape: Record<string, z.ZodType> = {};
for (const column of FLOW_CSV_COLUMNS) {
  if (column === 'expiry_reason') shape[column] = z.enum(EXPIRY_REASONS).optional();
  else shape[column] = stringColumns.has(column) ? z.string().optional() : z.number().finite().optional();
}
for (const column of FLOW_CONTEXT_COLUMNS) shape[column] = z.number().finite().optional();

export const flowRecordInputSchema = z.object(shape).strict();
export type FlowRecordInput = Record<string, string | number>;

export function parseFlowRecordInput(value: unknown): FlowRecordInput {
  const parsed = flowRecordInputSchema.parse(value);
  const record: FlowRecordInput = {};
  for (const [key, entry] of Object.entries(parsed)) {
    if (typeof entry === 'string' || typeof entry === 'number') record[key] = entry;
  }
  return record;
}

/**
 * features/{id}/…: the model input of one capture in parts, written by parse-capture and read by score-flows
 * (feature-parts.ts). Each part is the flow CSV plus the capture context columns (header = column names, then
 * one flow per line in emission order): numbers are written in JavaScript's shortest round-trip form, so
 * `Number(text)` gives back exactly the value the meter had.
 */
export const featuresHeaderSchema = z.array(z.enum([...FLOW_CSV_COLUMNS, ...FLOW_CONTEXT_COLUMNS])).min(1);

const EXPIRY = new Set<string>(EXPIRY_REASONS);

/** The fields of one CSV line (RFC 4180 quoting; lines never hold line breaks in this format). */
export function csvFields(line: string): string[] {
  // Fast path: flow CSV lines are quoted only when a text field holds a comma or a quote.
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) throw new ValidationError('unterminated quoted CSV field', { field: 'features' });
        text += line.slice(i, close);
        if (line[close + 1] === '"') {
          text += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      fields.push(text);
      i++; // the comma (or past the end)
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return fields;
}

/**
 * One features line as a flow record, checked per column (text, finite number, expiry reason) with plain
 * comparisons: the zod object schema above costs ~50 µs per 97-column record, which was 5 s of an
 * 87k-flow capture. A bad line names its line number and column.
 */
export function flowRecordFromCsv(
  columns: readonly string[],
  line: string,
  lineNumber: number,
): FlowRecordInput {
  const fields = csvFields(line);
  if (fields.length !== columns.length) throw fieldCountError(columns.length, fields.length, lineNumber);
  const record: FlowRecordInput = {};
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as string;
    const text = fields[i] as string;
    if (column === 'expiry_reason') {
      if (!EXPIRY.has(text)) throw badField(column, lineNumber);
      record[column] = text;
    } else if (stringColumns.has(column)) {
      record[column] = text;
    } else {
      const value = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(value)) throw badField(column, lineNumber);
      record[column] = value;
    }
  }
  return record;
}

/** A features line with the wrong number of fields. */
export function fieldCountError(expected: number, got: number, lineNumber: number): ValidationError {
  return new ValidationError(`features line ${lineNumber}: expected ${expected} fields, got ${got}`, {
    field: 'features',
    line: lineNumber,
  });
}

/** How `flowRecordFromCsv` reads a column: text as is, an expiry reason, or a finite number. */
export function flowColumnKind(column: string): 'text' | 'expiry' | 'number' {
  if (column === 'expiry_reason') return 'expiry';
  return stringColumns.has(column) ? 'text' : 'number';
}

export function isExpiryReason(text: string): boolean {
  return EXPIRY.has(text);
}

export function badField(column: string, line: number): ValidationError {
  return new ValidationError(`features line ${line}: ${column} has a wrong value`, { field: column, line });
}
