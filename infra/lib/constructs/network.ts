import { aws_ec2 as ec2, aws_logs as logs, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../../config/stages.js';

/** Kafka over TLS with SASL/IAM: the only broker port the clients use. */
export const KAFKA_IAM_PORT = 9098;

/**
 * The VPC the data services live in. Isolated subnets only: nothing needs the internet, so there is
 * no NAT gateway. S3 and DynamoDB are reached through gateway endpoints (free); STS, Lambda and SQS
 * through interface endpoints, which the MSK event source mapping needs to invoke index-flows and to
 * deliver failed batches to its failure queue.
 * Security groups are defined here, next to the services they protect, so every rule lives in the
 * stateful stack and the stateless stack only attaches groups.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** On the MSK brokers. */
  readonly kafkaClusterSg: ec2.SecurityGroup;
  /** On functions that publish to or administer Kafka. */
  readonly kafkaClientSg: ec2.SecurityGroup;
  /** On the OpenSearch domain. */
  readonly searchDomainSg: ec2.SecurityGroup;
  /** On functions that call OpenSearch. */
  readonly searchClientSg: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, config: StageConfig) {
    super(scope, id);
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.logRetentionDays,
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.vpcCidr),
      maxAzs: config.maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    for (const [name, service] of [
      ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
      ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
      // The event source mapping's pollers run in these subnets and send failed batches to SQS.
      ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
    ] as const) {
      this.vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
      });
    }

    this.kafkaClientSg = new ec2.SecurityGroup(this, 'KafkaClientSg', {
      vpc: this.vpc,
      description: 'Functions that publish to or administer the MSK cluster',
    });
    this.kafkaClusterSg = new ec2.SecurityGroup(this, 'KafkaClusterSg', {
      vpc: this.vpc,
      description: 'MSK brokers: SASL/IAM over TLS from clients and from the Lambda event source mapping',
    });
    this.kafkaClusterSg.addIngressRule(
      this.kafkaClientSg,
      ec2.Port.tcp(KAFKA_IAM_PORT),
      'Kafka SASL/IAM from client functions',
    );
    // The MSK event source mapping polls with the cluster's own security group.
    this.kafkaClusterSg.addIngressRule(
      this.kafkaClusterSg,
      ec2.Port.tcp(KAFKA_IAM_PORT),
      'Kafka SASL/IAM from the Lambda event source mapping pollers',
    );

    this.searchClientSg = new ec2.SecurityGroup(this, 'SearchClientSg', {
      vpc: this.vpc,
      description: 'Functions that index into or search the OpenSearch domain',
    });
    this.searchDomainSg = new ec2.SecurityGroup(this, 'SearchDomainSg', {
      vpc: this.vpc,
      description: 'OpenSearch domain: HTTPS from the indexer and search functions only',
      allowAllOutbound: false,
    });
    this.searchDomainSg.addIngressRule(this.searchClientSg, ec2.Port.tcp(443), 'HTTPS from search clients');
  }
}
