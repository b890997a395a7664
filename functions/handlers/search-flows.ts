import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { ConfigError } from '../platform/errors.js';
import { httpHandler, json } from '../platform/http-middleware.js';
import { createOpenSearchClient } from '../platform/opensearch-indexer.js';
import {
  type FlowSearchPage,
  type FlowSearchQuery,
  OpenSearchFlowSearch,
  resolveFlowSearch,
} from '../platform/opensearch-search.js';

/**
 * GET /api/flows?q=verdict:malicious ip:10.0.0.0/8 port:443 from:2024-01-01 … — flows and verdicts from
 * OpenSearch, newest first: `{status, total, items: [ECS documents], next_cursor}`; next page in `X-Next-Cursor`.
 */
export interface FlowSearch {
  search(query: FlowSearchQuery): Promise<FlowSearchPage>;
}

export function createSearchFlowsHandler(search: FlowSearch | undefined, corsOrigins: string) {
  return httpHandler(
    async (event) => {
      if (!search) {
        throw new ConfigError('Flow search is not configured (OPENSEARCH_URL unset)', {
          setting: 'OPENSEARCH_URL',
        });
      }
      const raw: Record<string, string | undefined> = {};
      for (const [key, value] of Object.entries(event.queryStringParameters ?? {})) {
        if (typeof value === 'string') raw[key] = value;
      }
      const query = resolveFlowSearch(raw);
      const page = await search.search(query);
      const headers: Record<string, string> = {};
      if (page.nextCursor) headers['X-Next-Cursor'] = page.nextCursor;
      return json(
        200,
        { status: 'success', total: page.total, items: page.items, next_cursor: page.nextCursor },
        headers,
      );
    },
    { corsOrigins },
  );
}

export function searchFor(container: Container): FlowSearch | undefined {
  const url = container.config.OPENSEARCH_URL;
  return url
    ? new OpenSearchFlowSearch(createOpenSearchClient({ url, awsRegion: container.config.AWS_REGION }))
    : undefined;
}

export const handler = lazyHandler(() => {
  const container = defaultContainer();
  return createSearchFlowsHandler(searchFor(container), container.config.CORS_ORIGINS);
});
