import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { parseCapture } from '../pipeline/parse-capture.js';
import { tracingEnabled } from '../platform/config.js';
import { MetricUnit, metrics } from '../platform/observability.js';
import { s3RecordsHandler } from './s3-records.js';

/** S3 ObjectCreated on uploads/ → packets/, flows/, features/ parts and the capture record (PARSED or FAILED). */
export function createParseCaptureHandler(container: Container) {
  return s3RecordsHandler(
    'parse-capture',
    async (key) => {
      const result = await parseCapture(
        {
          store: container.store,
          captures: container.captures,
          analyze: container.analyzer(),
          clock: container.clock,
          claimLeaseS: container.config.CLAIM_LEASE_S,
          newFlowContext: await container.flowContext(),
          featurePartFlows: container.config.FEATURE_PART_FLOWS,
        },
        key,
      );
      if (result.outcome === 'parsed') {
        metrics.addMetric('PacketsParsed', MetricUnit.Count, result.result.packets);
        metrics.addMetric('FlowsExtracted', MetricUnit.Count, result.result.flows);
        return {
          key,
          outcome: 'parsed',
          detail: `${result.result.packets} packets, ${result.result.flows} flows`,
        };
      }
      if (result.outcome === 'failed') {
        metrics.addMetric('CapturesFailed', MetricUnit.Count, 1);
        return { key, outcome: 'failed', detail: result.code };
      }
      return { key, outcome: 'skipped', detail: result.reason };
    },
    { tracing: tracingEnabled(container.config) },
  );
}

export const handler = lazyHandler(() => createParseCaptureHandler(defaultContainer()));
