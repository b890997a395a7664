import { aws_dynamodb as dynamodb, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../../../functions/platform/dynamodb-repositories.js';
import type { StageConfig } from '../../config/stages.js';

/**
 * Captures and predictions in one on-demand table (single-table design of docs/pipeline.md: keys,
 * the time index and the TTL attribute come from the repositories that read and write it), with
 * point-in-time recovery, TTL on `expires_at`, and deletion protection where data is retained.
 */
export class RecordsTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, config: StageConfig) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      deletionProtection: config.retainData,
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.timeIndex,
      partitionKey: { name: TABLE_KEYS.timeIndexPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.timeIndexSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
