import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { historyQuerySchema, listHistory } from '../pipeline/queries.js';
import { httpHandler, httpOptionsFor, json, validate } from '../platform/http-middleware.js';

/** GET /api/history: `[{id, input, result, timestamp, ...}]` newest first; next page in `X-Next-Cursor`. */
export function createHistoryHandler(container: Container) {
  return httpHandler(async (event) => {
    const query = validate(historyQuerySchema, event.queryStringParameters ?? {}, 'query');
    const page = await listHistory(container.predictions, query);
    const headers: Record<string, string> = {};
    if (page.nextCursor) {
      headers['X-Next-Cursor'] = page.nextCursor;
      const next = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && key !== 'cursor') next.set(key, String(value));
      }
      next.set('cursor', page.nextCursor);
      headers.Link = `<${event.path}?${next.toString()}>; rel="next"`;
    }
    return json(200, page.items, headers);
  }, httpOptionsFor(container.config));
}

export const handler = lazyHandler(() => createHistoryHandler(defaultContainer()));
