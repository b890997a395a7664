import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { classifyPredictRequest, predict } from '../pipeline/predict.js';
import {
  type ApiEvent,
  header,
  httpHandler,
  httpOptionsFor,
  json,
  jsonBody,
  validate,
} from '../platform/http-middleware.js';

/** A client-chosen key (e.g. a UUID) that makes a retried POST /api/predict answer the same, once. */
const idempotencyKeySchema = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII');

/**
 * POST /api/predict: the seed's packet contract, one flow record, or `{flows: [...]}`. With an
 * `Idempotency-Key` header, a repeat of the request (same key, same body, within an hour) gets the first
 * answer and stores nothing new (Powertools Idempotency).
 */
export function createPredictHandler(container: Container) {
  return httpHandler(async (event: ApiEvent, context: Context) => {
    const body = jsonBody(event, z.unknown());
    const request = classifyPredictRequest(body, validate);
    const scorer = await container.scorer();
    const work = () => predict({ ...container, scorer }, request);
    const key = header(event, 'Idempotency-Key');
    if (key === undefined) return json(200, await work());
    const checked = validate(idempotencyKeySchema, key, 'Idempotency-Key');
    return json(200, await container.idempotentPredict.run(checked, body, work, context));
  }, httpOptionsFor(container.config));
}

export const handler = lazyHandler(() => createPredictHandler(defaultContainer()));
