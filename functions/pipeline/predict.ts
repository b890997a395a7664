import { z } from 'zod';
import { PayloadTooLargeError, ValidationError } from '../platform/errors.js';
import type {
  Clock,
  PredictionDraft,
  PredictionPublisher,
  PredictionRepository,
  PublishResult,
} from '../platform/ports.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../records/prediction.js';
import { type FlowRecordInput, flowRecordInputSchema } from './flow-record-schema.js';
import type { PacketInput, PredictionScorer, RecordScore } from './scoring.js';

/** The seed's single-packet contract, kept verbatim: `{"len":60,"source_port":80,"dest_port":443}`. */
export const packetInputSchema = z
  .object({
    len: z.number().int().min(0).max(262_144),
    source_port: z.number().int().min(0).max(65_535),
    dest_port: z.number().int().min(0).max(65_535),
    // Optional header fields the packet model also reads.
    protocol: z.number().int().min(0).max(255).optional(),
    ttl: z.number().int().min(0).max(255).optional(),
    tcp_flags: z.number().int().min(0).max(511).optional(),
    tcp_window: z.number().int().min(0).max(65_535).optional(),
  })
  .strict();

export const MAX_FLOWS_PER_REQUEST = 1000;

export const predictRequestSchema = z.union([
  packetInputSchema,
  z.object({ flows: z.array(flowRecordInputSchema).min(1) }).strict(),
  flowRecordInputSchema,
]);

export type PredictRequest =
  | { kind: 'packet'; packet: PacketInput }
  | { kind: 'flow'; record: FlowRecordInput }
  | { kind: 'batch'; records: FlowRecordInput[] };

/**
 * Chooses the request form by its keys before validating, so errors name the field of the form the caller
 * meant (`len` → packet, `flows` → batch, anything else → one flow record) instead of a union's noise.
 */
export function classifyPredictRequest(
  body: unknown,
  validate: <T extends z.ZodType>(schema: T, value: unknown, root: string) => z.infer<T>,
): PredictRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('body must be a JSON object', { field: 'body' });
  }
  if ('len' in body || 'source_port' in body || 'dest_port' in body) {
    return { kind: 'packet', packet: validate(packetInputSchema, body, 'body') };
  }
  if ('flows' in body) {
    const flows: unknown = Reflect.get(body, 'flows');
    if (Array.isArray(flows) && flows.length > MAX_FLOWS_PER_REQUEST) {
      throw new PayloadTooLargeError(
        `At most ${MAX_FLOWS_PER_REQUEST} flows per request (got ${flows.length})`,
        {
          field: 'flows',
          limit: MAX_FLOWS_PER_REQUEST,
        },
      );
    }
    const parsed = validate(
      z.object({ flows: z.array(flowRecordInputSchema).min(1) }).strict(),
      body,
      'body',
    );
    return { kind: 'batch', records: parsed.flows.map(toRecord) };
  }
  return { kind: 'flow', record: toRecord(validate(flowRecordInputSchema, body, 'body')) };
}

function toRecord(value: Record<string, unknown>): FlowRecordInput {
  const record: FlowRecordInput = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string' || typeof entry === 'number') record[key] = entry;
  }
  return record;
}

export interface PredictDependencies {
  scorer: PredictionScorer;
  predictions: PredictionRepository;
  publisher: PredictionPublisher;
  clock: Clock;
  /** Paces the requests' page writes (`pageWritePacer`); absent = each goes to the store at once. */
  pace?: () => Promise<void> | undefined;
  /**
   * Told when predictions Kafka refused could not be recorded for the republish sweep either (the store failed
   * right after storing them): they stay in history but will not reach the stream unless republished by hand.
   */
  onUnrecordedRepublish?: (predictionIds: readonly string[], error: unknown) => void;
}

/**
 * Lets requests through to scoring and the prediction store at most once per `intervalMs`, all the waiting ones
 * together, so that they share one model run and one page write (the scorer and the store coalesce what they
 * are given in one event-loop turn).
 * Each page write costs ~1 ms of SDK CPU here and ~1.2 ms in dynalite whatever its size, so at 2,000 req/s
 * pages of ~2 requests (what a fast write gives when every request is sent on at once) cost more than a core;
 * paced, there are at most 1000 / intervalMs writes a second. A request that finds no write in the last
 * `intervalMs` goes on at once (no wait when the load is light), as do the others of its event-loop turn.
 */
export function pageWritePacer(intervalMs: number, now: () => number = () => performance.now()) {
  let lastRelease = Number.NEGATIVE_INFINITY;
  let releasing = false;
  let waiting: (() => void)[] = [];
  let scheduled = false;
  // Requests of the rest of a releasing event-loop turn go on with the released ones, into the same page.
  const openTurn = () => {
    lastRelease = now();
    releasing = true;
    setImmediate(() => {
      releasing = false;
    });
  };
  const release = () => {
    scheduled = false;
    openTurn();
    const released = waiting;
    waiting = [];
    for (const resolve of released) resolve();
  };
  return (): Promise<void> | undefined => {
    if (releasing) return undefined;
    const at = now();
    if (waiting.length === 0 && at - lastRelease >= intervalMs) {
      openTurn();
      return undefined;
    }
    return new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setTimeout(release, Math.max(0, lastRelease + intervalMs - at));
      }
    });
  };
}

export interface ScoredResult extends RecordScore {
  prediction_id: string;
}

export type PredictResponse =
  | { status: 'success'; prediction: number }
  | { status: 'success'; prediction: number; result: ScoredResult }
  | { status: 'success'; predictions: ScoredResult[] };

/**
 * POST /api/predict: score, store each prediction (capture id `api`; the store names it after the page it
 * lands in, shared with concurrent requests), publish; answer in the caller's form once it is stored.
 */
export async function predict(deps: PredictDependencies, request: PredictRequest): Promise<PredictResponse> {
  const scoredAt = deps.clock.now().toISOString();
  const toPrediction = (
    kind: 'flow' | 'packet',
    input: Prediction['input'],
    score: RecordScore,
  ): PredictionDraft => ({
    schema_version: PREDICTION_SCHEMA_VERSION,
    capture_id: 'api',
    kind,
    scored_at: scoredAt,
    label: score.label,
    probability: score.probability,
    anomaly_score: score.anomaly_score,
    verdict: score.verdict,
    decided_by: score.decided_by,
    model_version: score.model_version,
    input,
  });

  // Paced before scoring, not only before storing: the requests released together are also scored together
  // (one packet-model run for all of them instead of one per event-loop turn, ~25 µs each).
  const paced = deps.pace?.();
  if (paced) await paced;
  let drafts: PredictionDraft[];
  if (request.kind === 'packet') {
    const score = await deps.scorer.scorePacket(request.packet);
    drafts = [toPrediction('packet', { ...request.packet }, score)];
  } else {
    const records = request.kind === 'flow' ? [request.record] : request.records;
    const scores = await deps.scorer.scoreFlows(records);
    drafts = records.map((record, i) => {
      const score = scores[i];
      if (!score) throw new Error('scorer returned fewer scores than records');
      return toPrediction('flow', { ...record }, score);
    });
  }
  const predictions = await deps.predictions.putApiPredictions(drafts);
  const publish = await publishQuietly(deps.publisher, predictions);
  // Stored, not streamed: recorded with their page for the republish sweep. The answer stays a success (the
  // predictions are in history), so a failure to record is reported, not thrown.
  const unpublished = publish.unacknowledgedApi ?? [];
  if (unpublished.length > 0) {
    await deps.predictions
      .recordApiUnpublished(unpublished)
      .catch((error: unknown) => deps.onUnrecordedRepublish?.(unpublished, error));
  }

  const first = predictions[0];
  if (!first) throw new Error('no prediction made');
  if (request.kind === 'packet') return { status: 'success', prediction: first.probability };
  const results = predictions.map(resultOf);
  if (request.kind === 'flow')
    return { status: 'success', prediction: first.probability, result: resultOf(first) };
  return { status: 'success', predictions: results };
}

function resultOf(p: Prediction): ScoredResult {
  return {
    prediction_id: p.prediction_id,
    label: p.label,
    probability: p.probability,
    anomaly_score: p.anomaly_score,
    verdict: p.verdict,
    decided_by: p.decided_by,
    model_version: p.model_version,
  };
}

/** The prediction is stored already; a stream outage must not fail the request (issue 6 republishes). */
async function publishQuietly(
  publisher: PredictionPublisher,
  predictions: Prediction[],
): Promise<PublishResult> {
  try {
    return await publisher.publish(predictions);
  } catch (error) {
    return {
      status: 'failed',
      published: 0,
      failed: predictions.length,
      message: error instanceof Error ? error.message : String(error),
      unacknowledgedApi: predictions.map((p) => p.prediction_id),
    };
  }
}
