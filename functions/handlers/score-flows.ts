import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { scoreCapture } from '../pipeline/score-capture.js';
import { tracingEnabled } from '../platform/config.js';
import { MetricUnit, metrics } from '../platform/observability.js';
import { s3RecordsHandler } from './s3-records.js';

/**
 * S3 ObjectCreated on features/ (one features part) → its predictions in DynamoDB (+ published); the capture
 * SCORED with its summary once every part is scored.
 */
export function createScoreFlowsHandler(container: Container) {
  return s3RecordsHandler(
    'score-flows',
    async (key) => {
      const result = await scoreCapture(
        {
          store: container.store,
          captures: container.captures,
          predictions: container.predictions,
          publisher: container.publisher,
          scorer: await container.scorer(),
          clock: container.clock,
          batchSize: container.config.SCORE_BATCH_SIZE,
          parsedWaitS: container.config.PARSED_WAIT_S,
        },
        key,
      );
      if (result.outcome === 'scored') {
        metrics.addMetric('FlowsScored', MetricUnit.Count, result.summary.predictions);
        return { key, outcome: 'scored', detail: `${result.summary.predictions} predictions` };
      }
      if (result.outcome === 'part') return { key, outcome: 'part', detail: `from flow ${result.firstFlow}` };
      return { key, outcome: 'skipped', detail: result.reason };
    },
    { tracing: tracingEnabled(container.config) },
  );
}

export const handler = lazyHandler(() => createScoreFlowsHandler(defaultContainer()));
