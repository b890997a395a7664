import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas/api-gateway';
import middy, { type MiddlewareObj } from '@middy/core';
import httpCors from '@middy/http-cors';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { type PlatformConfig, tracingEnabled } from './config.js';
import { isCcfError, ValidationError } from './errors.js';
import { httpErrorResponse, UNREADABLE_BODY } from './http-errors.js';
import { logger, metrics, metricsMiddleware, tracingMiddleware } from './observability.js';

/**
 * The middy stack every HTTP handler shares: Powertools context/metrics/tracing, CORS on every response
 * (errors included), and the one error mapping. Handlers stay "event in, core call, response out".
 */
/**
 * The part of the API Gateway envelope the handlers read, validated with the Powertools schema's own field
 * definitions. The full schema also walks `requestContext` (identity, authorizer, …) field by field, which
 * cost ~0.1 ms of a ~0.5 ms request and is read by nothing here; the multi-value copies of the headers and
 * query are not read either (the single-value ones are).
 */
const apiEventSchema = APIGatewayProxyEventSchema.pick({
  httpMethod: true,
  path: true,
  resource: true,
  headers: true,
  queryStringParameters: true,
  pathParameters: true,
  body: true,
  isBase64Encoded: true,
});
export type ApiEvent = z.infer<typeof apiEventSchema>;
export type ApiResult = APIGatewayProxyResult;
export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

export interface HttpOptions {
  corsOrigins: string;
  /** X-Ray tracing (`tracingEnabled(config)`); off locally, so the tracer is never loaded there. */
  tracing?: boolean;
  /**
   * Not in Lambda (no `AWS_LAMBDA_FUNCTION_NAME`: the local server, tests): the logger gets the context only when
   * a request logs (`errorMapping`), and middy's early timeout is off. Otherwise Powertools' `injectLambdaContext`,
   * which also re-rolls the debug sampling and resets appended keys per invocation.
   */
  local?: boolean;
}

/**
 * The one error mapping. Outside Lambda (`local`) it also gives the logger the invocation's context, right before
 * it logs: these are the only log lines of the HTTP handlers, and `logger.addContext` on every request (what
 * `injectLambdaContext` does in Lambda) read an environment variable per call through Powertools (~2% of a
 * POST /api/predict's CPU at 2,000 req/s). The local server runs invocations concurrently through one logger, so
 * a context set at the start of a request could not be relied on by the time it logged anyway.
 */
function errorMapping(local: boolean): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      const error = request.error;
      const response = httpErrorResponse(error);
      const logs = response.statusCode >= 500 || isCcfError(error);
      if (logs && local) logger.addContext(request.context);
      if (response.statusCode >= 500) {
        logger.error('request failed', { error: error instanceof Error ? error : String(error) });
      } else if (isCcfError(error)) {
        logger.info('request refused', { code: error.code, status: response.statusCode });
      }
      request.response = response;
    },
  };
}

/** Validates the API Gateway envelope with the Powertools schema (a malformed event is a 400, not a crash). */
function parseEnvelope(event: APIGatewayProxyEvent): ApiEvent {
  const result = apiEventSchema.safeParse(event);
  if (!result.success) {
    const field = result.error.issues[0]?.path.join('.') ?? 'event';
    throw new ValidationError(`Not an API Gateway proxy event (${field})`, {
      field,
      reason: UNREADABLE_BODY,
    });
  }
  return result.data;
}

/** The HTTP options of a container: its CORS origins and whether to trace. */
export function httpOptionsFor(config: PlatformConfig): HttpOptions {
  return {
    corsOrigins: config.CORS_ORIGINS,
    tracing: tracingEnabled(config),
    local: config.AWS_LAMBDA_FUNCTION_NAME === undefined,
  };
}

export function httpHandler(core: ApiHandler, options: HttpOptions) {
  const origins = options.corsOrigins.split(',').map((origin) => origin.trim());
  const local = options.local ?? false;
  // middy's early timeout (answer 5 ms before the Lambda deadline) arms a timer and races a promise per request;
  // the local server has no Lambda deadline to beat, so there it is off. In Lambda it stays at middy's default.
  const base = middy<APIGatewayProxyEvent, APIGatewayProxyResult>(local ? { timeoutEarlyInMillis: 0 } : {});
  const tracing = tracingMiddleware(options.tracing ?? false);
  if (tracing) base.use(tracing);
  if (!local) base.use(injectLambdaContext(logger, { resetKeys: true }));
  // With metrics disabled (the local runtime, tests) the middleware has nothing to do: not in the chain at all,
  // since middy awaits every step of it on every request.
  if (!metrics.off) base.use(metricsMiddleware());
  return base
    .use(
      httpCors({
        origins,
        headers: 'Content-Type,X-Api-Key,Authorization,Idempotency-Key',
        exposeHeaders: 'X-Next-Cursor,Link',
        methods: 'GET,POST,OPTIONS',
      }),
    )
    .use(errorMapping(local))
    .handler(async (event, context) => {
      // Parsed once, here: the schema walks the whole event, so it is not worth doing twice per request.
      const parsed = parseEnvelope(event);
      // CORS preflight: an empty answer; http-cors adds the Access-Control-* headers on the way out.
      if (parsed.httpMethod === 'OPTIONS') return { statusCode: 204, headers: {}, body: '' };
      return core(parsed, context);
    });
}

/** Reads a JSON body: unreadable → 400, schema violations → 422 naming the first offending field. */
export function jsonBody<T extends z.ZodType>(event: ApiEvent, schema: T): z.infer<T> {
  const text = bodyText(event);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      `Request body is not valid JSON: ${error instanceof Error ? error.message : 'parse error'}`,
      { field: 'body', reason: UNREADABLE_BODY },
    );
  }
  return validate(schema, value, 'body');
}

export function bodyText(event: ApiEvent): string {
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new ValidationError('Request body is empty', { field: 'body', reason: UNREADABLE_BODY });
  }
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && typeof value === 'string') return value;
  }
  return undefined;
}

/** zod → `ValidationError` whose `details.field` is the dotted path of the first issue. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, root: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  let path = issue ? issue.path.map(String).join('.') : '';
  if (issue && issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    path = [path, issue.keys[0]].filter((part) => part !== '').join('.');
  }
  const field = path === '' ? root : path;
  throw new ValidationError(`${field}: ${issue?.message ?? 'invalid'}`, {
    field,
    issues: result.error.issues
      .slice(0, 10)
      .map((i) => `${i.path.map(String).join('.') || root}: ${i.message}`),
  });
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}
