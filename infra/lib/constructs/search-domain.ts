import {
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_logs as logs,
  aws_opensearchservice as opensearch,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../../config/stages.js';
import type { Network } from './network.js';

/** Index names the indexer writes and the search function reads (see docs/streaming.md). */
export const FLOW_INDEX_PATTERN = 'ccf-flows*';

/**
 * OpenSearch 2.x in the VPC: encryption at rest and node-to-node, HTTPS only with TLS 1.2+, slow and
 * error logs in CloudWatch. The domain's resource policy names only the indexer and search roles;
 * their identity policies are scoped to the flow indices, the bulk API and the index template.
 */
export class SearchDomain extends Construct {
  readonly domain: opensearch.Domain;
  /** Assumed by index-flows: writes documents and installs the index template. */
  readonly indexerRole: iam.Role;
  /** Assumed by search-flows: reads only. */
  readonly searchRole: iam.Role;

  constructor(scope: Construct, id: string, config: StageConfig, network: Network) {
    super(scope, id);
    const vpcLambdaPolicy = iam.ManagedPolicy.fromAwsManagedPolicyName(
      'service-role/AWSLambdaVPCAccessExecutionRole',
    );
    this.indexerRole = new iam.Role(this, 'IndexerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'index-flows: bulk-indexes predictions into the flow indices',
      // What the MSK event source mapping needs (describe cluster, VPC ENIs, logs).
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaMSKExecutionRole')],
    });
    this.searchRole = new iam.Role(this, 'SearchRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'search-flows: reads the flow indices',
      managedPolicies: [vpcLambdaPolicy],
    });

    const search = config.search;
    const subnets = network.vpc.selectSubnets(network.subnets).subnets;
    const domainSubnets = search.zoneAwareness ? subnets.slice(0, 2) : subnets.slice(0, 1);
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logGroup = (name: string) =>
      new logs.LogGroup(this, name, { retention: config.logRetentionDays, removalPolicy });

    this.domain = new opensearch.Domain(this, 'Domain', {
      version: opensearch.EngineVersion.OPENSEARCH_2_19,
      capacity: {
        dataNodes: search.dataNodes,
        dataNodeInstanceType: search.dataNodeInstanceType,
        ...(search.dedicatedManagerInstanceType === null
          ? {}
          : { masterNodes: 3, masterNodeInstanceType: search.dedicatedManagerInstanceType }),
        multiAzWithStandbyEnabled: false,
      },
      ebs: { enabled: true, volumeSize: search.volumeGb, volumeType: ec2.EbsDeviceVolumeType.GP3 },
      zoneAwareness: search.zoneAwareness ? { enabled: true, availabilityZoneCount: 2 } : { enabled: false },
      vpc: network.vpc,
      vpcSubnets: [{ subnets: domainSubnets }],
      securityGroups: [network.searchDomainSg],
      encryptionAtRest: { enabled: true },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
      logging: {
        slowSearchLogEnabled: true,
        slowSearchLogGroup: logGroup('SlowSearchLogs'),
        slowIndexLogEnabled: true,
        slowIndexLogGroup: logGroup('SlowIndexLogs'),
        appLogEnabled: true,
        appLogGroup: logGroup('AppLogs'),
      },
      removalPolicy,
    });

    const domainPaths = `${this.domain.domainArn}/*`;
    this.domain.addAccessPolicies(
      new iam.PolicyStatement({
        sid: 'IndexerReadWrite',
        principals: [new iam.ArnPrincipal(this.indexerRole.roleArn)],
        actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        resources: [domainPaths],
      }),
      new iam.PolicyStatement({
        sid: 'SearchRead',
        principals: [new iam.ArnPrincipal(this.searchRole.roleArn)],
        actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost'],
        resources: [domainPaths],
      }),
    );

    this.domain.grantIndexReadWrite(FLOW_INDEX_PATTERN, this.indexerRole);
    this.domain.grantPathReadWrite('_bulk', this.indexerRole);
    this.domain.grantPathReadWrite('_index_template/*', this.indexerRole);
    this.domain.grantIndexRead(FLOW_INDEX_PATTERN, this.searchRole);
  }
}
