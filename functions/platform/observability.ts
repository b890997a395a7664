import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

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

export { MetricUnit } from '@aws-lambda-powertools/metrics';
