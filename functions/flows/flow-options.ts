/**
 * Options of the flow meter, parsed once with zod (library callers and the CLI share the same schema and
 * defaults). Units are in the names.
 */
import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';
import { FEATURE_SETS } from './flow-columns.js';

export const DEFAULT_FLOW_TIMEOUT_S = 120;
export const DEFAULT_ACTIVITY_TIMEOUT_S = 5;
/**
 * Equal to the flow timeout on purpose: a flow idle that long has also passed its flow timeout (counted
 * from its start), so the fork would split it at its next packet anyway. Expiring it now frees memory
 * without changing any feature value (see docs/flow-features.md, "Idle timeout").
 */
export const DEFAULT_IDLE_TIMEOUT_S = 120;
/** ~900 bytes of state per open flow: 200,000 flows ≈ 180 MB, well inside a 512 MB budget. */
export const DEFAULT_MAX_OPEN_FLOWS = 200_000;

export const flowMeterOptionsSchema = z
  .object({
    /** `cic-fork` (default): the fixed CICFlowMeter's values, quirks included; `corrected`: quirks fixed. */
    featureSet: z.enum(FEATURE_SETS).default('cic-fork'),
    /** A flow is split when a packet arrives more than this long after the flow's first packet. */
    flowTimeoutS: z.number().positive().max(1e7).default(DEFAULT_FLOW_TIMEOUT_S),
    /** Gaps longer than this end an active period and count as idle time (Active/Idle features). */
    activityTimeoutS: z.number().positive().max(1e7).default(DEFAULT_ACTIVITY_TIMEOUT_S),
    /** A flow without packets for this long is emitted and its memory freed. */
    idleTimeoutS: z.number().positive().max(1e7).default(DEFAULT_IDLE_TIMEOUT_S),
    /** Hard cap on flows held open at once; beyond it the longest-idle flows are emitted as `evicted`. */
    maxOpenFlows: z.number().int().min(1).max(50_000_000).default(DEFAULT_MAX_OPEN_FLOWS),
    /** Keep flows on different VLANs apart (the VLAN ids are part of the flow key). */
    vlanAware: z.boolean().default(true),
  })
  .strict();

export type FlowMeterOptions = z.input<typeof flowMeterOptionsSchema>;
export type ResolvedFlowMeterOptions = z.output<typeof flowMeterOptionsSchema>;

export function resolveFlowMeterOptions(options: FlowMeterOptions = {}): ResolvedFlowMeterOptions {
  const parsed = flowMeterOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new ValidationError(`Invalid flow option ${field || '(options)'}: ${issue?.message ?? 'invalid'}`, {
      field,
    });
  }
  return parsed.data;
}
