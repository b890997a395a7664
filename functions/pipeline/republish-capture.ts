import { NotFoundError, ValidationError } from '../platform/errors.js';
import type {
  CaptureRepository,
  Clock,
  PredictionPublisher,
  PredictionRepository,
  PublishResult,
} from '../platform/ports.js';
import type { Prediction } from '../records/prediction.js';
import {
  flowIndexOfPredictionId,
  isUnacknowledged,
  normalizeUnacknowledged,
  subtractRanges,
  type UnacknowledgedFlows,
  unacknowledgedCount,
} from '../records/prediction-message.js';

/**
 * The durable retry path of publishing. score-flows stores every prediction before it publishes it and records on
 * the capture which flows Kafka did not acknowledge (`publish.unacknowledged`, flow-index ranges). This use case
 * reads exactly those predictions back from the prediction store, publishes them, and records what is still
 * missing (nothing → `published`). A lease on the capture keeps two retries from publishing the same predictions
 * at the same time; flows that were acknowledged are never selected again (unless the stored ranges are marked
 * inexact because they were joined to stay small).
 */

export interface RepublishDependencies {
  captures: CaptureRepository;
  predictions: PredictionRepository;
  publisher: PredictionPublisher;
  clock: Clock;
  /** A retry that crashed holds the capture's publish lease this long. */
  leaseS: number;
  /** Predictions read per history page and published per call. */
  pageSize?: number;
}

export type RepublishOutcome =
  | { outcome: 'republished'; captureId: string; attempted: number; publish: PublishResult }
  | { outcome: 'nothing_to_publish'; captureId: string; publish: PublishResult | null }
  | { outcome: 'busy'; captureId: string };

/** What the retry must publish: the recorded set, or every flow when the record predates it or nothing was tried. */
export function unacknowledgedTarget(
  publish: PublishResult | null,
  predictions: number,
): UnacknowledgedFlows | undefined {
  if (publish?.status === 'published' || predictions === 0) return undefined;
  if (publish?.unacknowledged) return publish.unacknowledged;
  // Not configured (nothing attempted): every flow, exactly. A failure recorded without its set: every flow,
  // some of which may have been acknowledged (a second message, one document).
  const attempted = publish !== null && publish.status !== 'not_configured';
  return { ranges: [[1, predictions]], exact: !attempted };
}

export async function republishCapture(
  deps: RepublishDependencies,
  captureId: string,
): Promise<RepublishOutcome> {
  const capture = await deps.captures.get(captureId);
  if (!capture) throw new NotFoundError(`Capture ${captureId} not found`, { captureId });
  if (capture.status !== 'SCORED') {
    throw new ValidationError(
      `Capture ${captureId} is ${capture.status}: only SCORED captures have predictions to publish`,
      { field: 'id', status: capture.status },
    );
  }
  const total = capture.score?.predictions ?? 0;
  const target = unacknowledgedTarget(capture.publish, total);
  if (!target) return { outcome: 'nothing_to_publish', captureId, publish: capture.publish };
  if (!(await deps.captures.claimRepublish(captureId, deps.clock.now().getTime(), deps.leaseS))) {
    return { outcome: 'busy', captureId };
  }

  const pageSize = deps.pageSize ?? 500;
  const wanted = unacknowledgedCount(target);
  const acknowledged: [number, number][] = [];
  let attempted = 0;
  let message: string | undefined;
  let notConfigured = false;
  let brokerFailed = false;
  const publishSelected = async (selected: Prediction[]) => {
    const result = await deps.publisher.publish(selected);
    attempted += selected.length;
    if (result.status === 'not_configured') {
      notConfigured = true;
      message = result.message;
      return;
    }
    const missing = result.unacknowledged;
    for (const prediction of selected) {
      const index = flowIndexOfPredictionId(prediction.prediction_id);
      if (index !== undefined && !(missing && isUnacknowledged(missing, index)))
        acknowledged.push([index, index]);
    }
    if (result.failed > 0) {
      // Kafka is failing again: stop here; what was not tried stays in the recorded set.
      brokerFailed = true;
      message = result.message;
    }
  };

  let failure: unknown;
  try {
    let cursor: string | undefined;
    let found = 0;
    do {
      const page = await deps.predictions.history({
        limit: pageSize,
        captureId,
        ...(cursor ? { cursor } : {}),
      });
      const selected = page.items.filter((p) => {
        const index = flowIndexOfPredictionId(p.prediction_id);
        return index !== undefined && isUnacknowledged(target, index);
      });
      found += selected.length;
      if (selected.length > 0) await publishSelected(selected);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && !notConfigured && !brokerFailed && found < wanted);
  } catch (error) {
    failure = error;
  }
  // Whatever happened, record what is still missing (the target less what Kafka acknowledged) and release the lease.
  const done = normalizeUnacknowledged(acknowledged, true, Number.MAX_SAFE_INTEGER).ranges;
  const remaining = notConfigured
    ? target
    : normalizeUnacknowledged(subtractRanges(target.ranges, done), target.exact);
  const stillMissing = remaining.ranges.length > 0 ? remaining : undefined;
  const failed = unacknowledgedCount(stillMissing);
  const publish: PublishResult = {
    status: notConfigured
      ? 'not_configured'
      : failed === 0
        ? 'published'
        : failed < total
          ? 'partial'
          : 'failed',
    published: Math.max(0, total - failed),
    failed,
    ...(message && failed > 0 ? { message } : {}),
    ...(stillMissing ? { unacknowledged: stillMissing } : {}),
  };
  await deps.captures.recordPublish(captureId, publish);
  if (failure !== undefined) throw failure;
  return { outcome: 'republished', captureId, attempted, publish };
}

export type SweepOutcome = RepublishOutcome | { outcome: 'error'; captureId: string; message: string };

/**
 * The automatic retry: republishes every capture the store lists as awaiting it (up to `limit`, the
 * longest-waiting first), each on its own, so one capture that fails does not stop the others. A capture whose
 * retry still leaves flows unacknowledged stays listed for the next sweep; a retry holding the lease makes
 * this one skip the capture (`busy`).
 */
export async function sweepRepublish(deps: RepublishDependencies, limit: number): Promise<SweepResult> {
  const captureIds = await deps.captures.capturesAwaitingRepublish(limit);
  const outcomes: SweepOutcome[] = [];
  for (const captureId of captureIds) {
    try {
      outcomes.push(await republishCapture(deps, captureId));
    } catch (error) {
      outcomes.push({
        outcome: 'error',
        captureId,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return { captures: outcomes, apiPages: await republishApiPredictions(deps, limit) };
}

export interface SweepResult {
  captures: SweepOutcome[];
  apiPages: ApiRepublishOutcome[];
}

export type ApiRepublishOutcome =
  | { outcome: 'republished'; pageId: string; published: number; failed: number }
  | { outcome: 'error'; pageId: string; message: string };

/**
 * POST /api/predict's share of the sweep: the API predictions Kafka refused, recorded with their pages, are
 * published again (up to `limit` pages, the longest-waiting first); the acknowledged ones are unlisted, the
 * others stay for the next sweep. Kafka is at-least-once here as on the capture path: a message whose
 * acknowledgement was lost is sent again under the same prediction id (one document in OpenSearch).
 */
export async function republishApiPredictions(
  deps: {
    predictions: Pick<PredictionRepository, 'apiPredictionsAwaitingRepublish' | 'settleApiRepublish'>;
    publisher: PredictionPublisher;
  },
  limit: number,
): Promise<ApiRepublishOutcome[]> {
  const batches = await deps.predictions.apiPredictionsAwaitingRepublish(limit);
  const outcomes: ApiRepublishOutcome[] = [];
  for (const { pageId, predictions } of batches) {
    try {
      const publish = await deps.publisher.publish(predictions);
      // Without a broker nothing was attempted: the records stay for a sweep that has one.
      if (publish.status === 'not_configured') continue;
      const refused = new Set(publish.unacknowledgedApi ?? []);
      const acknowledged = predictions.map((p) => p.prediction_id).filter((id) => !refused.has(id));
      await deps.predictions.settleApiRepublish(pageId, acknowledged);
      outcomes.push({ outcome: 'republished', pageId, published: acknowledged.length, failed: refused.size });
    } catch (error) {
      outcomes.push({
        outcome: 'error',
        pageId,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return outcomes;
}
