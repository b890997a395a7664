import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import {
  classifyPredictRequest,
  type PredictDependencies,
  pageWritePacer,
  predict,
} from '../pipeline/predict.js';
import {
  type ApiEvent,
  header,
  httpHandler,
  httpOptionsFor,
  json,
  jsonBody,
  validate,
} from '../platform/http-middleware.js';
import { logger } from '../platform/observability.js';

/** A client-chosen key (e.g. a UUID) that makes a retried POST /api/predict answer the same, once. */
const idempotencyKeySchema = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII');

/**
 * At most one API page write per this many ms from this handler's concurrent requests (`pageWritePacer`). In
 * Lambda a sandbox serves one request at a time, so requests never wait there. On the local server at 2,000
 * req/s pages hold ~8 requests instead of ~2–5 when dynalite answers fast. 8 ms was measured too (docs/pipeline.md,
 * round 5): pages of ~16 and ~0.1 ms less server CPU and 0.05 ms less dynalite CPU per request, but p99 median
 * 49 vs 43 ms over alternated benches (the wait is up to the interval for every request) and half the closed-loop
 * throughput at 10 connections, so 4 stays.
 */
const PAGE_WRITE_INTERVAL_MS = 4;

/** The body's form is chosen (and validated) by `classifyPredictRequest`; built once, not per request. */
const anyJson = z.unknown();

/**
 * POST /api/predict: the seed's packet contract, one flow record, or `{flows: [...]}`. With an
 * `Idempotency-Key` header, a repeat of the request (same key, same body, within an hour) gets the first
 * answer and stores nothing new (Powertools Idempotency).
 */
export function createPredictHandler(container: Container) {
  // The use case's dependencies, once the models are loaded (a failed load is retried by the next request).
  let dependencies: Promise<PredictDependencies> | undefined;
  const load = () => {
    dependencies ??= container.scorer().then(
      (scorer) => ({
        scorer,
        predictions: container.predictions,
        publisher: container.publisher,
        clock: container.clock,
        pace: pageWritePacer(PAGE_WRITE_INTERVAL_MS),
        onUnrecordedRepublish: (predictionIds, error) =>
          logger.warn('predictions Kafka refused could not be recorded for the republish sweep', {
            prediction_ids: predictionIds,
            error: error instanceof Error ? error.message : String(error),
          }),
      }),
      (error: unknown) => {
        dependencies = undefined;
        throw error;
      },
    );
    return dependencies;
  };
  return httpHandler(async (event: ApiEvent, context: Context) => {
    const body = jsonBody(event, anyJson);
    const request = classifyPredictRequest(body, validate);
    const deps = await load();
    const work = () => predict(deps, request);
    const key = header(event, 'Idempotency-Key');
    if (key === undefined) return json(200, await work());
    const checked = validate(idempotencyKeySchema, key, 'Idempotency-Key');
    return json(200, await container.idempotentPredict.run(checked, body, work, context));
  }, httpOptionsFor(container.config));
}

export const handler = lazyHandler(() => createPredictHandler(defaultContainer()));
