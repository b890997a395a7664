import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PlatformConfig } from './config.js';

/**
 * SDK clients, created once per container from config. With endpoints set (local servers) they use
 * path-style addressing and explicit credentials; on AWS the default credential chain and virtual hosts.
 */
function localCredentials(config: PlatformConfig) {
  return config.LOCAL_ACCESS_KEY_ID && config.LOCAL_SECRET_ACCESS_KEY
    ? { accessKeyId: config.LOCAL_ACCESS_KEY_ID, secretAccessKey: config.LOCAL_SECRET_ACCESS_KEY }
    : undefined;
}

export function createS3Client(config: PlatformConfig, endpoint = config.S3_ENDPOINT): S3Client {
  const credentials = localCredentials(config);
  return new S3Client({
    region: config.AWS_REGION,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
    // s3rver (and other S3-compatible stores) reject the CRC trailers the SDK sends by default.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The low-level client (Powertools idempotency sends its own marshalled commands). */
export function createDynamoClient(config: PlatformConfig): DynamoDBClient {
  const credentials = localCredentials(config);
  return new DynamoDBClient({
    region: config.AWS_REGION,
    ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

export function createDocumentClient(config: PlatformConfig): DynamoDBDocumentClient {
  const client = createDynamoClient(config);
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}
