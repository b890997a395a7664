import { z } from 'zod';

/**
 * One scored record: the unit stored in DynamoDB, published to Kafka (topic `network_predictions`)
 * and indexed into OpenSearch. Versioned so consumers can refuse what they do not understand.
 * Owned jointly by the pipeline (producer) and the streaming/search code (consumer): change only additively.
 */
export const PREDICTION_SCHEMA_VERSION = 1;

export const verdictSchema = z.enum(['benign', 'malicious']);
export type Verdict = z.infer<typeof verdictSchema>;

export const predictionSchema = z
  .object({
    schema_version: z.literal(PREDICTION_SCHEMA_VERSION),
    /** Deterministic: `${capture_id}:${flow index}` for captures, `api:${page uuid}:${slot}` for API calls (their page). Used as OpenSearch _id. */
    prediction_id: z.string().min(1),
    /** Capture id, or 'api' for records scored through POST /api/predict. */
    capture_id: z.string().min(1),
    /** 'flow' for CICFlowMeter flow records, 'packet' for the single-packet contract. */
    kind: z.enum(['flow', 'packet']),
    /** ISO-8601 time the prediction was made. */
    scored_at: z.string().datetime({ offset: true }),
    label: z.string(),
    probability: z.number().min(0).max(1),
    anomaly_score: z.number().nullable(),
    verdict: verdictSchema,
    /** Which model decided the verdict under the combination policy. */
    decided_by: z.string(),
    model_version: z.string(),
    /** The record as scored (flow columns by CIC name, or the packet fields). */
    input: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  })
  .strict();

export type Prediction = z.infer<typeof predictionSchema>;
