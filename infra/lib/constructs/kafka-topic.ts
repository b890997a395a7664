import {
  CustomResource,
  custom_resources as cr,
  aws_iam as iam,
  aws_logs as logs,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../../config/stages.js';
import { HandlerFunction } from './handler-function.js';
import { type KafkaCluster, PREDICTIONS_TOPIC } from './kafka-cluster.js';
import type { Network } from './network.js';

/** Creates (or grows) the predictions topic on every deploy, from inside the VPC. */
export class KafkaTopic extends Construct {
  readonly resource: CustomResource;
  readonly provisioner: HandlerFunction;

  constructor(scope: Construct, id: string, config: StageConfig, network: Network, cluster: KafkaCluster) {
    super(scope, id);
    this.provisioner = new HandlerFunction(this, 'Provisioner', {
      entry: 'infra/functions/kafka-topic-handler.ts',
      description: `Creates the ${PREDICTIONS_TOPIC} Kafka topic`,
      config,
      sizing: { memoryMb: 256, timeoutSeconds: 120 },
      vpc: { vpc: network.vpc, subnets: network.subnets, securityGroups: [network.kafkaClientSg] },
    });
    const fn = this.provisioner.fn;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConnectToCluster',
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'],
        resources: [cluster.clusterArn],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ManagePredictionsTopic',
        actions: [
          'kafka-cluster:CreateTopic',
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:AlterTopic',
          'kafka-cluster:DescribeTopicDynamicConfiguration',
          'kafka-cluster:AlterTopicDynamicConfiguration',
        ],
        resources: [cluster.dataArn('topic', PREDICTIONS_TOPIC)],
      }),
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: config.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.resource = new CustomResource(this, 'Topic', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: {
        BootstrapBrokers: cluster.bootstrapBrokersSaslIam,
        Topic: PREDICTIONS_TOPIC,
        Partitions: config.kafka.topicPartitions,
        ReplicationFactor: config.kafka.topicReplicationFactor ?? -1,
        RetentionMs: config.kafka.topicRetentionHours * 3_600_000,
      },
    });
  }
}
