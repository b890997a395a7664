import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  type CcfError,
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
  if (error instanceof PayloadTooLargeError || error instanceof LimitExceededError) return 413;
  return undefined;
}

export function httpErrorOf(error: unknown): HttpError {
  if (isCcfError(error)) {
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
