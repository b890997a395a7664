import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { DependencyError } from '../platform/errors.js';
import { logger, metricsMiddleware, tracingMiddleware } from '../platform/observability.js';

export type S3Event = z.infer<typeof S3Schema>;

export interface RecordOutcome {
  key: string;
  outcome: string;
  detail?: string;
}

/** S3 delivers keys URL-encoded with '+' for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * Shared shape of the S3-triggered functions: the event is validated with the Powertools S3 schema, each
 * record is processed on its own, and any failed record fails the invocation after the others finished
 * (S3 invokes asynchronously: Lambda retries, then the failure destination). Work per record is idempotent,
 * so a retry redoes only what did not finish.
 */
export function s3RecordsHandler(
  name: string,
  perRecord: (key: string, bucket: string) => Promise<RecordOutcome>,
  options: { tracing?: boolean } = {},
) {
  const base = middy<S3Event, RecordOutcome[]>();
  const tracing = tracingMiddleware(options.tracing ?? false);
  if (tracing) base.use(tracing);
  return base
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(metricsMiddleware())
    .use(parser({ schema: S3Schema }))
    .handler(async (event: S3Event, _context: Context) => {
      const results = await Promise.allSettled(
        event.Records.map((record) => perRecord(decodeS3Key(record.s3.object.key), record.s3.bucket.name)),
      );
      const outcomes: RecordOutcome[] = [];
      const failures: string[] = [];
      results.forEach((result, i) => {
        const key = decodeS3Key(event.Records[i]?.s3.object.key ?? '');
        if (result.status === 'fulfilled') {
          outcomes.push(result.value);
          logger.info(`${name} record done`, { ...result.value });
        } else {
          const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
          failures.push(`${key}: ${message}`);
          logger.error(`${name} record failed`, {
            key,
            error: result.reason instanceof Error ? result.reason : message,
          });
        }
      });
      if (failures.length > 0) {
        throw new DependencyError(
          `${failures.length} of ${results.length} records failed: ${failures.join('; ')}`,
          {
            dependency: name,
          },
        );
      }
      return outcomes;
    });
}
