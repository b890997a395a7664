import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DependencyError,
  FeatureSchemaError,
  NotFoundError,
  PayloadTooLargeError,
  PcapFormatError,
  ValidationError,
} from '../../../functions/platform/errors.js';
import { httpErrorOf, UNREADABLE_BODY } from '../../../functions/platform/http-errors.js';

describe('the one error-to-HTTP mapping', () => {
  it('maps each domain error to its status and keeps its code, message and details', () => {
    expect(httpErrorOf(new ValidationError('bad', { reason: UNREADABLE_BODY })).statusCode).toBe(400);
    const unknownField = httpErrorOf(new ValidationError('Unknown field "x"', { field: 'x' }));
    expect(unknownField).toEqual({
      statusCode: 422,
      body: { error: 'VALIDATION', message: 'Unknown field "x"', details: { field: 'x' } },
    });
    expect(httpErrorOf(new FeatureSchemaError('Missing required columns: a')).statusCode).toBe(422);
    expect(httpErrorOf(new PcapFormatError('truncated record', 24, 'EPB')).statusCode).toBe(422);
    expect(httpErrorOf(new NotFoundError('no such capture')).statusCode).toBe(404);
    expect(httpErrorOf(new PayloadTooLargeError('too big', { limit: 10 })).statusCode).toBe(413);
  });

  it('answers 503 naming only the dependency when a backing service is missing or down', () => {
    const missing = httpErrorOf(new ConfigError('OPENSEARCH_URL is not set', { setting: 'OPENSEARCH_URL' }));
    expect(missing.statusCode).toBe(503);
    expect(missing.body.details).toEqual({ dependency: 'OPENSEARCH_URL' });
    expect(missing.body.message).not.toContain('not set');
    const down = httpErrorOf(
      new DependencyError('Kafka at 127.0.0.1:1 is unreachable', { dependency: 'kafka' }),
    );
    expect(down).toMatchObject({
      statusCode: 503,
      body: { error: 'SERVICE_UNAVAILABLE', details: { dependency: 'kafka' } },
    });
  });

  it('never exposes the message of an unexpected error', () => {
    const mapped = httpErrorOf(new Error('secret internal detail'));
    expect(mapped).toEqual({
      statusCode: 500,
      body: { error: 'INTERNAL', message: 'Internal server error', details: {} },
    });
  });
});
