import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  type CcfError,
  ConfigError,
  ConflictError,
  DependencyError,
  FeatureSchemaError,
  isCcfError,
  LimitExceededError,
  NotACaptureError,
  NotFoundError,
  PayloadTooLargeError,
  PcapFormatError,
  ValidationError,
} from './errors.js';

/**
 * The one mapping from errors to HTTP responses, used by every HTTP handler.
 * Body: `{ error, message, details }`. 400: the body cannot be read (malformed JSON, wrong content type);
 * 422: it can be read but breaks the schema (unknown field, wrong type, missing columns); 404; 413.
 * Anything else is a 500 whose message never leaves the server (it is logged with the request id).
 */
export interface HttpErrorBody {
  error: string;
  message: string;
  details: Record<string, unknown>;
}

export interface HttpError {
  statusCode: number;
  body: HttpErrorBody;
}

/** `ValidationError` with this `details.reason` means the request body could not be read at all. */
export const UNREADABLE_BODY = 'unreadable_body';

function statusOf(error: CcfError): number | undefined {
  if (error instanceof ValidationError) return error.details.reason === UNREADABLE_BODY ? 400 : 422;
  if (error instanceof FeatureSchemaError) return 422;
  if (error instanceof NotACaptureError || error instanceof PcapFormatError) return 422;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof PayloadTooLargeError || error instanceof LimitExceededError) return 413;
  return undefined;
}

/**
 * A feature whose backing service is not configured here (e.g. search without OpenSearch) or is unreachable:
 * 503, naming only the dependency, never the internal message (errors >= 500 keep their text in the logs).
 */
function unavailableOf(error: CcfError): HttpError | undefined {
  if (!(error instanceof ConfigError || error instanceof DependencyError)) return undefined;
  const dependency = error.details.dependency ?? error.details.setting;
  return {
    statusCode: 503,
    body: {
      error: 'SERVICE_UNAVAILABLE',
      message:
        'This feature is temporarily unavailable: a service it depends on is not configured or not reachable',
      details: dependency === undefined ? {} : { dependency },
    },
  };
}

export function httpErrorOf(error: unknown): HttpError {
  if (isCcfError(error)) {
    const unavailable = unavailableOf(error);
    if (unavailable) return unavailable;
    const statusCode = statusOf(error);
    if (statusCode !== undefined) {
      return {
        statusCode,
        body: { error: error.code, message: error.message, details: { ...error.details } },
      };
    }
  }
  return {
    statusCode: 500,
    body: { error: 'INTERNAL', message: 'Internal server error', details: {} },
  };
}

export function httpErrorResponse(error: unknown): APIGatewayProxyResult & { statusCode: number } {
  const mapped = httpErrorOf(error);
  return {
    statusCode: mapped.statusCode,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(mapped.body),
  };
}
