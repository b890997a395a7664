import { z } from 'zod';
import { EXPIRY_REASONS, FLOW_CSV_COLUMNS, FLOW_STRING_COLUMNS } from '../flows/flow-columns.js';

/**
 * zod schema of a flow record as accepted by POST /api/predict and read back from features/ objects:
 * every column optional (models need only their own features; the scorer names missing ones), each with
 * its type, unknown columns refused so a misspelt feature is reported instead of ignored.
 */
const stringColumns = new Set<string>(FLOW_STRING_COLUMNS);

const shape: Record<string, z.ZodType> = {};
for (const column of FLOW_CSV_COLUMNS) {
  if (column === 'expiry_reason') shape[column] = z.enum(EXPIRY_REASONS).optional();
  else shape[column] = stringColumns.has(column) ? z.string().optional() : z.number().finite().optional();
}

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
