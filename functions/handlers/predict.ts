import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import { classifyPredictRequest, predict } from '../pipeline/predict.js';
import {
  type ApiEvent,
  httpHandler,
  httpOptionsFor,
  json,
  jsonBody,
  validate,
} from '../platform/http-middleware.js';

/** POST /api/predict: the seed's packet contract, one flow record, or `{flows: [...]}`. */
export function createPredictHandler(container: Container) {
  return httpHandler(async (event: ApiEvent, _context: Context) => {
    const body = jsonBody(event, z.unknown());
    const request = classifyPredictRequest(body, validate);
    const scorer = await container.scorer();
    return json(200, await predict({ ...container, scorer }, request));
  }, httpOptionsFor(container.config));
}

export const handler = lazyHandler(() => createPredictHandler(defaultContainer()));
