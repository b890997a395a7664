/**
 * CloudFormation custom resource (behind the CDK Provider framework) that makes the predictions topic
 * exist on the MSK cluster with at least the configured partition count and the configured retention.
 * Runs inside the VPC next to the brokers and authenticates with SASL/IAM (OAUTHBEARER tokens signed
 * with the function's role). Deleting the resource leaves the topic in place: records may still be
 * unconsumed, and the topic goes away with the cluster.
 */
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { type Admin, ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { z } from 'zod';

export const topicPropertiesSchema = z.object({
  BootstrapBrokers: z.string().min(1),
  Topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
  Partitions: z.coerce.number().int().min(1).max(1000),
  /** '-1' = the cluster default (MSK Serverless rejects explicit replication factors). */
  ReplicationFactor: z.coerce.number().int().min(-1).max(5),
  RetentionMs: z.coerce.number().int().min(60_000),
});
export type TopicProperties = z.infer<typeof topicPropertiesSchema>;

const eventSchema = z.discriminatedUnion('RequestType', [
  z.object({ RequestType: z.literal('Create'), ResourceProperties: topicPropertiesSchema }),
  z.object({
    RequestType: z.literal('Update'),
    PhysicalResourceId: z.string(),
    ResourceProperties: topicPropertiesSchema,
  }),
  z.object({ RequestType: z.literal('Delete'), PhysicalResourceId: z.string() }),
]);

export interface TopicResourceResponse {
  PhysicalResourceId: string;
  Data?: { Topic: string; Partitions: number };
}

/** Describes what has to change so the live topic matches the wanted one. */
export type TopicPlan =
  | { readonly action: 'create' }
  | { readonly action: 'add-partitions'; readonly from: number; readonly to: number }
  | { readonly action: 'keep' };

export class TopicShrinkError extends Error {
  override readonly name = 'TopicShrinkError';
}

/** Kafka can add partitions but never remove them (it would re-key existing records). */
export function planTopic(existingPartitions: number | null, wanted: number): TopicPlan {
  if (existingPartitions === null) return { action: 'create' };
  if (existingPartitions < wanted) return { action: 'add-partitions', from: existingPartitions, to: wanted };
  if (existingPartitions > wanted) {
    throw new TopicShrinkError(
      `topic has ${existingPartitions} partitions; Kafka cannot reduce them to ${wanted} (raise the stage's topicPartitions instead)`,
    );
  }
  return { action: 'keep' };
}

function region(): string {
  const value = process.env.AWS_REGION;
  if (value === undefined || value === '') throw new Error('AWS_REGION is not set');
  return value;
}

function adminFor(brokers: string): Admin {
  const kafka = new Kafka({
    clientId: 'ccf-topic-provisioner',
    brokers: brokers.split(',').map((broker) => broker.trim()),
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region: region() })).token }),
    },
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    logLevel: logLevel.WARN,
  });
  return kafka.admin();
}

async function ensureTopic(properties: TopicProperties): Promise<number> {
  const admin = adminFor(properties.BootstrapBrokers);
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    let existing: number | null = null;
    if (topics.includes(properties.Topic)) {
      const metadata = await admin.fetchTopicMetadata({ topics: [properties.Topic] });
      existing = metadata.topics[0]?.partitions.length ?? 0;
    }
    const plan = planTopic(existing, properties.Partitions);
    const retention = { name: 'retention.ms', value: String(properties.RetentionMs) };
    if (plan.action === 'create') {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: properties.Topic,
            numPartitions: properties.Partitions,
            replicationFactor: properties.ReplicationFactor,
            configEntries: [retention],
          },
        ],
      });
    } else {
      if (plan.action === 'add-partitions') {
        await admin.createPartitions({ topicPartitions: [{ topic: properties.Topic, count: plan.to }] });
      }
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: properties.Topic, configEntries: [retention] }],
      });
    }
    return properties.Partitions;
  } finally {
    await admin.disconnect();
  }
}

export async function handler(rawEvent: unknown): Promise<TopicResourceResponse> {
  const event = eventSchema.parse(rawEvent);
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const properties = event.ResourceProperties;
  const partitions = await ensureTopic(properties);
  return {
    // Same id across updates: changing partitions or retention never "replaces" the topic.
    PhysicalResourceId:
      event.RequestType === 'Update' ? event.PhysicalResourceId : `kafka-topic:${properties.Topic}`,
    Data: { Topic: properties.Topic, Partitions: partitions },
  };
}
