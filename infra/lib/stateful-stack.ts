import { CfnElement, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import type { StageConfig } from '../config/stages.js';
import { CaptureBucket } from './constructs/capture-bucket.js';
import { KafkaCluster } from './constructs/kafka-cluster.js';
import { Network } from './constructs/network.js';
import { RecordsTable } from './constructs/records-table.js';
import { SearchDomain } from './constructs/search-domain.js';

/**
 * Logical ids of the stateful resources, pinned so that moving a construct in the tree can never
 * replace (and so empty) a bucket, a table, the domain or the cluster. test/infra asserts them.
 */
export const STATEFUL_LOGICAL_IDS = {
  vpc: 'CcfVpc',
  captureBucket: 'CcfCaptureBucket',
  accessLogsBucket: 'CcfAccessLogsBucket',
  recordsTable: 'CcfRecordsTable',
  searchDomain: 'CcfSearchDomain',
  kafkaCluster: 'CcfKafkaCluster',
  indexerRole: 'CcfIndexerRole',
  searchRole: 'CcfSearchRole',
} as const;

function pinLogicalId(construct: IConstruct, logicalId: string): void {
  const resource = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnElement)) {
    throw new Error(`cannot pin ${construct.node.path}: it has no CloudFormation resource`);
  }
  resource.overrideLogicalId(logicalId);
}

export interface StatefulStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Everything that holds data or would be slow to recreate. Deployed first; rarely changes. */
export class StatefulStack extends Stack {
  readonly config: StageConfig;
  readonly network: Network;
  readonly captures: CaptureBucket;
  readonly records: RecordsTable;
  readonly search: SearchDomain;
  readonly kafka: KafkaCluster;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    this.network = new Network(this, 'Network', config);
    this.captures = new CaptureBucket(this, 'Captures', config);
    this.records = new RecordsTable(this, 'Records', config);
    this.search = new SearchDomain(this, 'Search', config, this.network);
    this.kafka = new KafkaCluster(this, 'Kafka', config, this.network);

    const ids = STATEFUL_LOGICAL_IDS;
    pinLogicalId(this.network.vpc, ids.vpc);
    pinLogicalId(this.captures.bucket, ids.captureBucket);
    pinLogicalId(this.captures.accessLogs, ids.accessLogsBucket);
    pinLogicalId(this.records.table, ids.recordsTable);
    pinLogicalId(this.search.domain, ids.searchDomain);
    pinLogicalId(this.kafka.node.findChild('Cluster'), ids.kafkaCluster);
    pinLogicalId(this.search.indexerRole, ids.indexerRole);
    pinLogicalId(this.search.searchRole, ids.searchRole);

    new CfnOutput(this, 'BucketName', { value: this.captures.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.records.table.tableName });
    new CfnOutput(this, 'OpenSearchEndpoint', { value: `https://${this.search.domain.domainEndpoint}` });
    new CfnOutput(this, 'KafkaClusterArn', { value: this.kafka.clusterArn });
  }
}
