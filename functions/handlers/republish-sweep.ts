import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { type SweepResult, sweepRepublish } from '../pipeline/republish-capture.js';
import { logger } from '../platform/observability.js';

/**
 * Scheduled (EventBridge on AWS, a timer in the local runtime): republishes the predictions Kafka did not
 * acknowledge, for every capture the store lists as awaiting it and every API page with refused predictions.
 * The manual path, POST /api/captures/{id}/publish, stays for one capture at once. The event carries nothing
 * the sweep needs.
 */
export function createRepublishSweepHandler(container: Container) {
  return async (): Promise<SweepResult> => {
    const result = await sweepRepublish(
      {
        captures: container.captures,
        predictions: container.predictions,
        publisher: container.publisher,
        clock: container.clock,
        leaseS: container.config.CLAIM_LEASE_S,
      },
      container.config.REPUBLISH_SWEEP_CAPTURES,
    );
    if (result.captures.length > 0 || result.apiPages.length > 0) {
      logger.info('republish sweep', {
        captures: result.captures.map((o) => ({
          capture_id: o.captureId,
          outcome: o.outcome,
          ...(o.outcome === 'republished' ? { status: o.publish.status, failed: o.publish.failed } : {}),
          ...(o.outcome === 'error' ? { message: o.message } : {}),
        })),
        api_pages: result.apiPages.map((o) => ({
          page_id: o.pageId,
          outcome: o.outcome,
          ...(o.outcome === 'republished' ? { published: o.published, failed: o.failed } : {}),
          ...(o.outcome === 'error' ? { message: o.message } : {}),
        })),
      });
    }
    return result;
  };
}

export const handler = lazyHandler(() => createRepublishSweepHandler(defaultContainer()));
