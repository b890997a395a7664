import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS } from './dynamodb-repositories.js';

/**
 * The table as the repositories expect it (the CDK stack defines the same keys, index and TTL attribute).
 * Used by the local runtime and the tests to create it in dynalite.
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.timeIndexPartitionKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.timeIndexSortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE_KEYS.timeIndex,
        KeySchema: [
          { AttributeName: TABLE_KEYS.timeIndexPartitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.timeIndexSortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** Creates the table unless it exists; turns TTL on where the server supports it (dynalite does not). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (error) {
    if (
      error instanceof ResourceInUseException ||
      (error instanceof Error && error.name === 'ResourceInUseException')
    ) {
      return 'exists';
    }
    throw error;
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      }),
    );
  } catch {
    // dynalite has no TTL API: items keep their expires_at and simply do not expire locally.
  }
  return 'created';
}
