/**
 * Typed configuration for every deployable stage. `-c stage=<name>` picks one; nothing else in infra/
 * decides sizes, retention or thresholds.
 */

export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** MSK: serverless (pay per partition-hour and GB) or provisioned brokers (fixed hourly price). */
export type KafkaClusterConfig =
  | { readonly mode: 'serverless' }
  | {
      readonly mode: 'provisioned';
      /** e.g. `kafka.t3.small`, `kafka.m7g.large`. */
      readonly brokerInstanceType: string;
      /** Total broker count; must be a multiple of the number of availability zones. */
      readonly brokerCount: number;
      readonly brokerVolumeGb: number;
      /** Kafka version string accepted by AWS::MSK::Cluster. */
      readonly kafkaVersion: string;
    };

export interface SearchDomainConfig {
  readonly dataNodeInstanceType: string;
  readonly dataNodes: number;
  readonly volumeGb: number;
  /** Spread data nodes over the two availability zones (needs an even number of data nodes). */
  readonly zoneAwareness: boolean;
  /** Three dedicated cluster-manager nodes of this type, or none. */
  readonly dedicatedManagerInstanceType: string | null;
}

export interface FunctionSizing {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export interface StageConfig {
  readonly name: StageName;
  /** Explicit target; `null` = environment-agnostic (the CLI's default account and region at deploy). */
  readonly env: { readonly account: string; readonly region: string } | null;
  /** Retain stateful resources (bucket, tables, domain, cluster) when the stack is deleted. */
  readonly retainData: boolean;
  readonly logLevel: LogLevel;
  readonly logRetentionDays: number;
  readonly maxAzs: 2;
  readonly vpcCidr: string;
  readonly upload: {
    /** Upper bound of the presigned POST content-length-range. */
    readonly maxBytes: number;
    readonly presignExpirySeconds: number;
    /** Origins allowed to POST to the bucket and call the API from a browser. */
    readonly allowedOrigins: readonly string[];
  };
  readonly lifecycle: {
    readonly uploadsExpireDays: number;
    readonly derivedExpireDays: number;
  };
  /** DynamoDB TTL for capture and prediction items, in days. */
  readonly recordTtlDays: number;
  readonly search: SearchDomainConfig;
  readonly kafka: KafkaClusterConfig & {
    readonly topicPartitions: number;
    /** `null` lets the cluster choose (required for MSK Serverless, which always keeps 3 replicas). */
    readonly topicReplicationFactor: number | null;
    readonly topicRetentionHours: number;
    /** The poison-record topic index-flows writes to (network_predictions.dlq). */
    readonly deadLetterPartitions: number;
    readonly deadLetterRetentionHours: number;
  };
  readonly indexer: {
    readonly batchSize: number;
    readonly maxBatchingWindowSeconds: number;
    readonly retryAttempts: number;
    readonly maxPollers: number;
  };
  readonly functions: {
    readonly parse: FunctionSizing;
    readonly score: FunctionSizing;
    readonly api: FunctionSizing;
    readonly index: FunctionSizing;
  };
  readonly api: {
    readonly rateLimitPerSecond: number;
    readonly burstLimit: number;
    readonly quotaPerDay: number;
  };
  readonly alarms: {
    /** Lambda errors per 5 minutes that raise an alarm. */
    readonly functionErrors: number;
    /** Lambda OffsetLag (records) on the index-flows consumer that raises an alarm. */
    readonly consumerLagRecords: number;
    readonly api5xxPerFiveMinutes: number;
    /** Optional e-mail subscribed to the alarm topic. */
    readonly email: string | null;
  };
}

const MIB = 1024 * 1024;

const dev: StageConfig = {
  name: 'dev',
  env: null,
  retainData: false,
  logLevel: 'DEBUG',
  logRetentionDays: 7,
  maxAzs: 2,
  vpcCidr: '10.40.0.0/16',
  upload: { maxBytes: 512 * MIB, presignExpirySeconds: 900, allowedOrigins: ['*'] },
  lifecycle: { uploadsExpireDays: 7, derivedExpireDays: 14 },
  recordTtlDays: 14,
  search: {
    dataNodeInstanceType: 't3.small.search',
    dataNodes: 1,
    volumeGb: 10,
    zoneAwareness: false,
    dedicatedManagerInstanceType: null,
  },
  kafka: {
    mode: 'provisioned',
    brokerInstanceType: 'kafka.t3.small',
    brokerCount: 2,
    brokerVolumeGb: 20,
    kafkaVersion: '3.8.x',
    topicPartitions: 3,
    topicReplicationFactor: 2,
    topicRetentionHours: 72,
    deadLetterPartitions: 1,
    deadLetterRetentionHours: 336,
  },
  indexer: { batchSize: 100, maxBatchingWindowSeconds: 1, retryAttempts: 3, maxPollers: 2 },
  functions: {
    parse: { memoryMb: 2048, timeoutSeconds: 900 },
    score: { memoryMb: 2048, timeoutSeconds: 900 },
    api: { memoryMb: 512, timeoutSeconds: 29 },
    index: { memoryMb: 512, timeoutSeconds: 120 },
  },
  api: { rateLimitPerSecond: 20, burstLimit: 40, quotaPerDay: 20_000 },
  alarms: { functionErrors: 5, consumerLagRecords: 50_000, api5xxPerFiveMinutes: 10, email: null },
};

const staging: StageConfig = {
  ...dev,
  name: 'staging',
  logLevel: 'INFO',
  logRetentionDays: 30,
  vpcCidr: '10.41.0.0/16',
  upload: { maxBytes: 2048 * MIB, presignExpirySeconds: 900, allowedOrigins: ['*'] },
  lifecycle: { uploadsExpireDays: 14, derivedExpireDays: 30 },
  recordTtlDays: 30,
  search: {
    dataNodeInstanceType: 'm7g.large.search',
    dataNodes: 2,
    volumeGb: 50,
    zoneAwareness: true,
    dedicatedManagerInstanceType: null,
  },
  kafka: {
    mode: 'serverless',
    topicPartitions: 6,
    topicReplicationFactor: null,
    topicRetentionHours: 72,
    deadLetterPartitions: 1,
    deadLetterRetentionHours: 336,
  },
  indexer: { batchSize: 200, maxBatchingWindowSeconds: 1, retryAttempts: 5, maxPollers: 4 },
  functions: {
    ...dev.functions,
    parse: { memoryMb: 3008, timeoutSeconds: 900 },
    score: { memoryMb: 3008, timeoutSeconds: 900 },
  },
  api: { rateLimitPerSecond: 50, burstLimit: 100, quotaPerDay: 100_000 },
  alarms: { functionErrors: 3, consumerLagRecords: 100_000, api5xxPerFiveMinutes: 5, email: null },
};

const prod: StageConfig = {
  ...staging,
  name: 'prod',
  retainData: true,
  logLevel: 'INFO',
  logRetentionDays: 90,
  vpcCidr: '10.42.0.0/16',
  upload: { maxBytes: 4096 * MIB, presignExpirySeconds: 900, allowedOrigins: ['*'] },
  lifecycle: { uploadsExpireDays: 30, derivedExpireDays: 90 },
  recordTtlDays: 90,
  search: {
    dataNodeInstanceType: 'r7g.large.search',
    dataNodes: 2,
    volumeGb: 200,
    zoneAwareness: true,
    dedicatedManagerInstanceType: 'm7g.large.search',
  },
  kafka: {
    mode: 'provisioned',
    brokerInstanceType: 'kafka.m7g.large',
    brokerCount: 4,
    brokerVolumeGb: 200,
    kafkaVersion: '3.8.x',
    topicPartitions: 12,
    topicReplicationFactor: 3,
    topicRetentionHours: 168,
    deadLetterPartitions: 3,
    deadLetterRetentionHours: 720,
  },
  indexer: { batchSize: 500, maxBatchingWindowSeconds: 1, retryAttempts: 10, maxPollers: 12 },
  functions: {
    parse: { memoryMb: 4096, timeoutSeconds: 900 },
    score: { memoryMb: 4096, timeoutSeconds: 900 },
    api: { memoryMb: 1024, timeoutSeconds: 29 },
    index: { memoryMb: 1024, timeoutSeconds: 120 },
  },
  api: { rateLimitPerSecond: 200, burstLimit: 400, quotaPerDay: 1_000_000 },
  alarms: { functionErrors: 1, consumerLagRecords: 200_000, api5xxPerFiveMinutes: 1, email: null },
};

export const STAGES: Readonly<Record<StageName, StageConfig>> = { dev, staging, prod };

export class UnknownStageError extends Error {
  override readonly name = 'UnknownStageError';
  constructor(readonly requested: unknown) {
    super(
      requested === undefined || requested === ''
        ? `No stage given: pass -c stage=<${STAGE_NAMES.join('|')}> (e.g. npx cdk synth -c stage=dev)`
        : `Unknown stage ${JSON.stringify(requested)}: expected one of ${STAGE_NAMES.join(', ')} (-c stage=<name>)`,
    );
  }
}

function isStageName(value: unknown): value is StageName {
  return typeof value === 'string' && (STAGE_NAMES as readonly string[]).includes(value);
}

/** The config of the stage named by `-c stage=<name>`; any other value is an {@link UnknownStageError}. */
export function resolveStage(requested: unknown): StageConfig {
  if (!isStageName(requested)) throw new UnknownStageError(requested);
  return STAGES[requested];
}
