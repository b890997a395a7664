import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { describeCapture } from '../pipeline/queries.js';
import { ValidationError } from '../platform/errors.js';
import { httpHandler, httpOptionsFor, json } from '../platform/http-middleware.js';

/** GET /api/captures/{id}: status, counts, summary, errors and presigned GET links. */
export function createCaptureStatusHandler(container: Container) {
  return httpHandler(async (event) => {
    const id = event.pathParameters?.id;
    if (!id) throw new ValidationError('path parameter id is required', { field: 'id' });
    const view = await describeCapture(
      {
        captures: container.captures,
        store: container.store,
        linkExpiryS: container.config.UPLOAD_URL_EXPIRY_S,
        now: () => container.clock.now(),
      },
      id,
    );
    return json(200, view);
  }, httpOptionsFor(container.config));
}

export const handler = lazyHandler(() => createCaptureStatusHandler(defaultContainer()));
