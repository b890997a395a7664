import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { republishCapture } from '../pipeline/republish-capture.js';
import { ValidationError } from '../platform/errors.js';
import { httpHandler, json } from '../platform/http-middleware.js';

/**
 * POST /api/captures/{id}/publish: the retry path for a capture whose predictions Kafka did not all acknowledge.
 * Publishes exactly the flows recorded on the capture as unacknowledged (read back from the prediction store) and
 * answers with the capture's new publish result; 409 while another retry of the same capture is running.
 */
export function createRepublishCaptureHandler(container: Container) {
  return httpHandler(
    async (event) => {
      const id = event.pathParameters?.id;
      if (!id) throw new ValidationError('path parameter id is required', { field: 'id' });
      const result = await republishCapture(
        {
          captures: container.captures,
          predictions: container.predictions,
          publisher: container.publisher,
          clock: container.clock,
          leaseS: container.config.CLAIM_LEASE_S,
        },
        id,
      );
      if (result.outcome === 'busy') {
        return json(409, {
          error: 'CONFLICT',
          message: `Capture ${id} is being republished by another request`,
          details: { captureId: id },
        });
      }
      return json(200, {
        status: 'success',
        capture_id: id,
        outcome: result.outcome,
        attempted: result.outcome === 'republished' ? result.attempted : 0,
        publish: result.publish,
      });
    },
    { corsOrigins: container.config.CORS_ORIGINS },
  );
}

export const handler = lazyHandler(() => createRepublishCaptureHandler(defaultContainer()));
