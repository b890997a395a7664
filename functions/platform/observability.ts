import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MiddlewareObj } from '@middy/core';

/**
 * One logger, one metrics buffer and (when tracing is on) one tracer per container, shared by every handler.
 * Their own settings (POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_DISABLED, ...) are read by Powertools itself.
 */
export const SERVICE_NAME = 'ccf-catcher';
export const METRICS_NAMESPACE = 'CcfCatcher';

export const logger = new Logger({ serviceName: SERVICE_NAME });
/** Powertools' Metrics, with its (protected) disabled state readable here, as Powertools itself decided it. */
class ServiceMetrics extends Metrics {
  get off(): boolean {
    return this.isDisabled();
  }
}

export const metrics = new ServiceMetrics({ serviceName: SERVICE_NAME, namespace: METRICS_NAMESPACE });

let tracing: Promise<MiddlewareObj> | undefined;

/**
 * Powertools' `captureLambdaHandler` with one Tracer, imported on first use: importing the tracer loads the
 * X-Ray SDK, whose context tracking hooks every promise even when tracing is off. Handlers built with
 * `enabled = false` (local runtime, tests, POWERTOOLS_TRACE_ENABLED=false) never load it.
 */
export function tracingMiddleware(enabled: boolean): MiddlewareObj | undefined {
  if (!enabled) return undefined;
  const load = async (): Promise<MiddlewareObj> => {
    const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
      import('@aws-lambda-powertools/tracer'),
      import('@aws-lambda-powertools/tracer/middleware'),
    ]);
    return captureLambdaHandler(new Tracer({ serviceName: SERVICE_NAME }));
  };
  let loaded: MiddlewareObj | undefined;
  return {
    before: async (request) => {
      tracing ??= load();
      loaded = await tracing;
      await loaded.before?.(request);
    },
    after: async (request) => {
      await loaded?.after?.(request);
    },
    onError: async (request) => {
      await loaded?.onError?.(request);
    },
  };
}

export { MetricUnit };

/**
 * Flushes metrics (EMF) after each invocation and counts invocations, so no invocation publishes an
 * empty set (Powertools warns about those); with POWERTOOLS_METRICS_DISABLED (local runtime) nothing is printed.
 */
export function metricsMiddleware(): MiddlewareObj {
  // Disabled (the local runtime, tests, benches): nothing to count or flush. It matters beyond the saved work: the
  // local server runs concurrent invocations through one Metrics instance, where one invocation's flush empties
  // the store another one added to, and Powertools warned "No application metrics to publish" for each of them.
  if (metrics.off) return { before: () => undefined };
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
