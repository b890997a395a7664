import { z } from 'zod';
import { NotFoundError } from '../platform/errors.js';
import type {
  CaptureRecord,
  CaptureRepository,
  CaptureStore,
  PredictionRepository,
} from '../platform/ports.js';
import { verdictSchema } from '../records/prediction.js';
import { assertCaptureId } from './capture-keys.js';

/** GET /api/history query string. */
export const historyQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(50),
    cursor: z.string().min(1).max(2000).optional(),
    capture_id: z.string().min(1).max(64).optional(),
    verdict: verdictSchema.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type HistoryRequest = z.infer<typeof historyQuerySchema>;

/** The seed's history item `{id, input, result, timestamp}` (result = probability), plus the verdict details. */
export interface HistoryItem {
  id: string;
  input: Record<string, string | number | boolean | null>;
  result: number;
  timestamp: string;
  label: string;
  verdict: string;
  anomaly_score: number | null;
  capture_id: string;
  kind: string;
  model_version: string;
}

export async function listHistory(
  predictions: PredictionRepository,
  request: HistoryRequest,
): Promise<{ items: HistoryItem[]; nextCursor: string | null }> {
  const page = await predictions.history({
    limit: request.limit,
    ...(request.cursor ? { cursor: request.cursor } : {}),
    ...(request.capture_id ? { captureId: request.capture_id } : {}),
    ...(request.verdict ? { verdict: request.verdict } : {}),
    ...(request.from ? { from: request.from } : {}),
    ...(request.to ? { to: request.to } : {}),
  });
  return {
    items: page.items.map((p) => ({
      id: p.prediction_id,
      input: p.input,
      result: p.probability,
      timestamp: p.scored_at,
      label: p.label,
      verdict: p.verdict,
      anomaly_score: p.anomaly_score,
      capture_id: p.capture_id,
      kind: p.kind,
      model_version: p.model_version,
    })),
    nextCursor: page.nextCursor,
  };
}

export interface CaptureView {
  capture_id: string;
  status: CaptureRecord['status'];
  filename: string;
  size_bytes: number;
  tags: Record<string, string>;
  created_at: string;
  updated_at: string;
  counts: { packets: number | null; flows: number | null; predictions: number | null };
  summary: {
    by_verdict: Record<string, number>;
    by_label: Record<string, number>;
    model_versions: string[];
  } | null;
  parse: CaptureRecord['parse'];
  timings_ms: { parse: number | null; score: number | null };
  publish: CaptureRecord['publish'];
  errors: CaptureRecord['errors'];
  links: { upload: string | null; packets: string | null; flows: string | null; features: string | null };
  links_expire_at: string | null;
}

/** GET /api/captures/{id}: status, counts, summary, errors and presigned GET links to what exists. */
export async function describeCapture(
  deps: { captures: CaptureRepository; store: CaptureStore; linkExpiryS: number; now: () => Date },
  captureIdText: string,
): Promise<CaptureView> {
  const captureId = assertCaptureId(captureIdText);
  const capture = await deps.captures.get(captureId);
  if (!capture) throw new NotFoundError(`No capture ${captureId}`, { field: 'id', capture_id: captureId });
  const link = async (key: string | undefined) => {
    if (!key) return null;
    return (await deps.store.headObject(key)) ? deps.store.presignGet(key, deps.linkExpiryS) : null;
  };
  const keys = capture.parse?.keys;
  const [upload, packets, flows, features] = await Promise.all([
    link(capture.uploadKey),
    link(keys?.packets),
    link(keys?.flows),
    link(keys?.features),
  ]);
  return {
    capture_id: capture.captureId,
    status: capture.status,
    filename: capture.filename,
    size_bytes: capture.sizeBytes,
    tags: capture.tags,
    created_at: capture.createdAt,
    updated_at: capture.updatedAt,
    counts: {
      packets: capture.parse?.packets ?? null,
      flows: capture.parse?.flows ?? null,
      predictions: capture.score?.predictions ?? null,
    },
    summary: capture.score
      ? {
          by_verdict: capture.score.byVerdict,
          by_label: capture.score.byLabel,
          model_versions: capture.score.modelVersions,
        }
      : null,
    parse: capture.parse,
    timings_ms: { parse: capture.parse?.parseMs ?? null, score: capture.score?.scoreMs ?? null },
    publish: capture.publish,
    errors: capture.errors,
    links: { upload, packets, flows, features },
    links_expire_at: new Date(deps.now().getTime() + deps.linkExpiryS * 1000).toISOString(),
  };
}
