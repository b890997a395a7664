import {
  ArnFormat,
  custom_resources as cr,
  Fn,
  aws_logs as logs,
  aws_msk as msk,
  Names,
  RemovalPolicy,
  Stack,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DEAD_LETTER_TOPIC } from '../../../functions/platform/kafka-dead-letter.js';
import { PREDICTIONS_TOPIC } from '../../../functions/records/prediction-message.js';
import type { StageConfig } from '../../config/stages.js';
import type { Network } from './network.js';

/** The topic every prediction is published to, and where index-flows copies poison records. */
export { DEAD_LETTER_TOPIC, PREDICTIONS_TOPIC };
/** Consumer group of the index-flows event source mapping. */
export const INDEXER_CONSUMER_GROUP = 'ccf-index-flows';

/**
 * MSK with IAM access control only (no unauthenticated or SCRAM access), TLS between clients and
 * brokers and inside the cluster. Serverless or provisioned per stage. The bootstrap string is not
 * a CloudFormation attribute of either kind, so it is read once per deploy with GetBootstrapBrokers.
 */
export class KafkaCluster extends Construct {
  readonly clusterArn: string;
  readonly clusterName: string;
  readonly bootstrapBrokersSaslIam: string;
  readonly mode: 'serverless' | 'provisioned';

  constructor(scope: Construct, id: string, config: StageConfig, network: Network) {
    super(scope, id);
    const kafka = config.kafka;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const subnetIds = network.vpc.selectSubnets(network.subnets).subnetIds;
    // MSK requires a name; derive a unique one from the construct path instead of hard-coding it.
    this.clusterName = Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.mode = kafka.mode;

    if (kafka.mode === 'serverless') {
      const cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
        clusterName: this.clusterName,
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [{ subnetIds, securityGroups: [network.kafkaClusterSg.securityGroupId] }],
      });
      cluster.applyRemovalPolicy(removalPolicy);
      this.clusterArn = cluster.attrArn;
    } else {
      const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
        retention: config.logRetentionDays,
        removalPolicy,
      });
      const cluster = new msk.CfnCluster(this, 'Cluster', {
        clusterName: this.clusterName,
        kafkaVersion: kafka.kafkaVersion,
        numberOfBrokerNodes: kafka.brokerCount,
        brokerNodeGroupInfo: {
          clientSubnets: subnetIds,
          instanceType: kafka.brokerInstanceType,
          securityGroups: [network.kafkaClusterSg.securityGroupId],
          storageInfo: { ebsStorageInfo: { volumeSize: kafka.brokerVolumeGb } },
        },
        clientAuthentication: {
          sasl: { iam: { enabled: true }, scram: { enabled: false } },
          unauthenticated: { enabled: false },
        },
        encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS', inCluster: true } },
        // Per-broker disk and CPU; consumer lag comes from the event source mapping (Lambda OffsetLag).
        enhancedMonitoring: 'PER_BROKER',
        loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } } },
      });
      cluster.applyRemovalPolicy(removalPolicy);
      this.clusterArn = cluster.attrArn;
    }

    const brokers = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      installLatestAwsSdk: false,
      onUpdate: {
        service: 'Kafka',
        action: 'getBootstrapBrokers',
        parameters: { ClusterArn: this.clusterArn },
        physicalResourceId: cr.PhysicalResourceId.of(this.clusterArn),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.clusterArn] }),
    });
    this.bootstrapBrokersSaslIam = brokers.getResponseField('BootstrapBrokerStringSaslIam');
  }

  /**
   * ARN of a topic or consumer group for kafka-cluster:* IAM actions:
   * arn:aws:kafka:<region>:<account>:<topic|group>/<cluster name>/<cluster uuid>/<name>.
   */
  dataArn(kind: 'topic' | 'group' | 'transactional-id', name: string): string {
    // Cluster ARN: arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>.
    const clusterUuid = Fn.select(2, Fn.split('/', this.clusterArn));
    return Stack.of(this).formatArn({
      service: 'kafka',
      resource: kind,
      resourceName: `${this.clusterName}/${clusterUuid}/${name}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }
}
