import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { type SweepOutcome, sweepRepublish } from '../pipeline/republish-capture.js';
import { logger } from '../platform/observability.js';

/**
 * Scheduled (EventBridge on AWS, a timer in the local runtime): republishes the predictions Kafka did not
 * acknowledge, for every capture the store lists as awaiting it. The manual path, POST
 * /api/captures/{id}/publish, stays for one capture at once. The event carries nothing the sweep needs.
 */
export function createRepublishSweepHandler(container: Container) {
  return async (): Promise<{ captures: number; outcomes: SweepOutcome[] }> => {
    const outcomes = await sweepRepublish(
      {
        captures: container.captures,
        predictions: container.predictions,
        publisher: container.publisher,
        clock: container.clock,
        leaseS: container.config.CLAIM_LEASE_S,
      },
      container.config.REPUBLISH_SWEEP_CAPTURES,
    );
    if (outcomes.length > 0) {
      logger.info('republish sweep', {
        captures: outcomes.length,
        outcomes: outcomes.map((o) => ({
          capture_id: o.captureId,
          outcome: o.outcome,
          ...(o.outcome === 'republished' ? { status: o.publish.status, failed: o.publish.failed } : {}),
          ...(o.outcome === 'error' ? { message: o.message } : {}),
        })),
      });
    }
    return { captures: outcomes.length, outcomes };
  };
}

export const handler = lazyHandler(() => createRepublishSweepHandler(defaultContainer()));
