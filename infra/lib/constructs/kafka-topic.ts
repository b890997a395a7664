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
import { DEAD_LETTER_TOPIC, type KafkaCluster, PREDICTIONS_TOPIC } from './kafka-cluster.js';
import type { Network } from './network.js';

/**
 * Creates (or grows) the Kafka topics on every deploy, from inside the VPC: `network_predictions`
 * (published by score-flows and predict, consumed by index-flows) and its dead-letter topic (poison
 * records copied there by index-flows). Nothing relies on broker-side auto-creation.
 */
export class KafkaTopics extends Construct {
  readonly predictions: CustomResource;
  readonly deadLetter: CustomResource;
  readonly provisioner: HandlerFunction;

  constructor(scope: Construct, id: string, config: StageConfig, network: Network, cluster: KafkaCluster) {
    super(scope, id);
    this.provisioner = new HandlerFunction(this, 'Provisioner', {
      entry: 'infra/functions/kafka-topic-handler.ts',
      description: `Creates the ${PREDICTIONS_TOPIC} and ${DEAD_LETTER_TOPIC} Kafka topics`,
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
        sid: 'ManageTopics',
        actions: [
          'kafka-cluster:CreateTopic',
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:AlterTopic',
          'kafka-cluster:DescribeTopicDynamicConfiguration',
          'kafka-cluster:AlterTopicDynamicConfiguration',
        ],
        resources: [cluster.dataArn('topic', PREDICTIONS_TOPIC), cluster.dataArn('topic', DEAD_LETTER_TOPIC)],
      }),
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: config.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    const topic = (resourceId: string, name: string, partitions: number, retentionHours: number) =>
      new CustomResource(this, resourceId, {
        serviceToken: provider.serviceToken,
        resourceType: 'Custom::KafkaTopic',
        properties: {
          BootstrapBrokers: cluster.bootstrapBrokersSaslIam,
          Topic: name,
          Partitions: partitions,
          ReplicationFactor: config.kafka.topicReplicationFactor ?? -1,
          RetentionMs: retentionHours * 3_600_000,
        },
      });
    this.predictions = topic(
      'Topic',
      PREDICTIONS_TOPIC,
      config.kafka.topicPartitions,
      config.kafka.topicRetentionHours,
    );
    this.deadLetter = topic(
      'DeadLetterTopic',
      DEAD_LETTER_TOPIC,
      config.kafka.deadLetterPartitions,
      config.kafka.deadLetterRetentionHours,
    );
  }
}
