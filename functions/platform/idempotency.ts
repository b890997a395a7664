import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { TABLE_KEYS } from './dynamodb-repositories.js';
import { ConflictError } from './errors.js';

/**
 * Powertools Idempotency (DynamoDB persistence) for client-keyed requests: a request repeated with the same
 * `Idempotency-Key` within `expiresAfterS` gets the first answer back and does its work once (for
 * POST /api/predict: one stored prediction, the same prediction ids). The records live in the pipeline's
 * table (pk = `idempotency#{function}`, sk = hash of the key, TTL `expires_at`); Powertools writes them with
 * a conditional PutItem and updates them with the answer, which dynalite supports (tested).
 *
 * The body is part of the record: the same key with another body is a 409, as is a key whose first request
 * is still running.
 */
export interface IdempotentRunner<T> {
  run(key: string, payload: unknown, work: () => Promise<T>, context?: Context): Promise<T>;
}

export interface IdempotencyOptions {
  client: DynamoDBClient;
  tableName: string;
  expiresAfterS: number;
  /** Separates the records of different functions sharing the table. */
  functionName: string;
}

interface Input {
  key: string;
  payload: unknown;
}

export function createIdempotentRunner<T>(options: IdempotencyOptions): IdempotentRunner<T> {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    keyAttr: TABLE_KEYS.partitionKey,
    sortKeyAttr: TABLE_KEYS.sortKey,
    staticPkValue: `idempotency#${options.functionName}`,
    expiryAttr: TABLE_KEYS.ttlAttribute,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    payloadValidationJmesPath: 'payload',
    expiresAfterSeconds: options.expiresAfterS,
  });
  // The work is the second argument: only the first (key + payload) is hashed and stored.
  const idempotent = makeIdempotent(async (_input: Input, work: () => Promise<T>): Promise<T> => work(), {
    persistenceStore,
    config,
    dataIndexArgument: 0,
  });
  return {
    async run(key, payload, work, context) {
      if (context) config.registerLambdaContext(context);
      try {
        return await idempotent({ key, payload }, work);
      } catch (error) {
        if (error instanceof IdempotencyValidationError) {
          throw new ConflictError(
            'This Idempotency-Key was used before with another request body',
            { field: 'Idempotency-Key' },
            { cause: error },
          );
        }
        if (error instanceof IdempotencyAlreadyInProgressError) {
          throw new ConflictError(
            'A request with this Idempotency-Key is still being processed',
            { field: 'Idempotency-Key' },
            { cause: error },
          );
        }
        throw error;
      }
    },
  };
}
