import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';

/**
 * One logger, one metrics buffer and one tracer per container, shared by every handler.
 * Their own settings (POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_DISABLED, ...) are read by Powertools itself;
 * the tracer switches itself off outside Lambda.
 */
export const SERVICE_NAME = 'ccf-catcher';
export const METRICS_NAMESPACE = 'CcfCatcher';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ serviceName: SERVICE_NAME, namespace: METRICS_NAMESPACE });
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

export { MetricUnit };

/**
 * Flushes metrics (EMF) after each invocation and counts invocations, so no invocation publishes an
 * empty set (Powertools warns about those); with POWERTOOLS_METRICS_DISABLED (local runtime) nothing is printed.
 */
export function metricsMiddleware(): MiddlewareObj {
  const flush = logMetrics(metrics, { captureColdStartMetric: true });
  return {
    before: async (request) => {
      metrics.addMetric('Invocations', MetricUnit.Count, 1);
      await flush.before?.(request);
    },
    after: flush.after,
    onError: flush.onError,
  };
}
