import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CfnOutput,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cw_actions,
  Duration,
  aws_lambda_destinations as destinations,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  Stack,
  type StackProps,
  aws_s3 as s3,
  aws_s3_notifications as s3n,
  aws_sns as sns,
  aws_lambda_event_sources as sources,
  aws_sqs as sqs,
  aws_sns_subscriptions as subscriptions,
  aws_events_targets as targets,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stages.js';
import { CAPTURE_PREFIXES } from './constructs/capture-bucket.js';
import { HandlerFunction, type HandlerFunctionProps } from './constructs/handler-function.js';
import { DEAD_LETTER_TOPIC, INDEXER_CONSUMER_GROUP, PREDICTIONS_TOPIC } from './constructs/kafka-cluster.js';
import { KafkaTopics } from './constructs/kafka-topic.js';
import { OnnxRuntimeLayer } from './constructs/onnxruntime-layer.js';
import { RestApi } from './constructs/rest-api.js';
import { REPO_ROOT } from './paths.js';
import type { StatefulStack } from './stateful-stack.js';

/** Handler entry points (owned by the pipeline and streaming code), one Lambda each. */
export const HANDLER_ENTRIES = {
  uploadPcap: 'functions/handlers/upload-pcap.ts',
  parseCapture: 'functions/handlers/parse-capture.ts',
  scoreFlows: 'functions/handlers/score-flows.ts',
  predict: 'functions/handlers/predict.ts',
  history: 'functions/handlers/history.ts',
  captureStatus: 'functions/handlers/capture-status.ts',
  republishCapture: 'functions/handlers/republish-capture.ts',
  republishSweep: 'functions/handlers/republish-sweep.ts',
  indexFlows: 'functions/handlers/index-flows.ts',
  searchFlows: 'functions/handlers/search-flows.ts',
} as const;
export type HandlerName = keyof typeof HANDLER_ENTRIES;

/** Files the app needs from other areas of the repo before it can synthesize. */
export function missingPrerequisites(root: string = REPO_ROOT): string[] {
  const needed = [...Object.values(HANDLER_ENTRIES), 'models/manifest.json', 'protocol'];
  return needed.filter((path) => !existsSync(join(root, path)));
}

/** The functions that load onnxruntime: the only ones that get the layer. */
export const SCORING_HANDLERS: readonly HandlerName[] = ['scoreFlows', 'predict'];

export interface StatelessStackProps extends StackProps {
  readonly config: StageConfig;
  readonly stateful: StatefulStack;
  /** Where handler entries, models/ and protocol/ are read from (default: the repo root). */
  readonly sourceRoot?: string;
}

/** Code and wiring: functions, layer, triggers, API, alarms. Safe to destroy and redeploy. */
export class StatelessStack extends Stack {
  readonly functions: Record<HandlerName, HandlerFunction>;
  readonly failureQueues: Record<'parseCapture' | 'scoreFlows' | 'indexFlows', sqs.Queue>;
  readonly api: RestApi;
  readonly layer: OnnxRuntimeLayer;
  readonly topics: KafkaTopics;
  readonly alarmTopic: sns.Topic;
  /** The stateful stack's indexer and search roles, imported so grants land in this stack. */
  readonly importedRoles: { readonly indexer: iam.IRole; readonly search: iam.IRole };

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const { network, kafka } = stateful;
    const bucket = stateful.captures.bucket;
    const table = stateful.records.table;
    const domain = stateful.search.domain;

    this.layer = new OnnxRuntimeLayer(this, 'OnnxRuntime');
    this.topics = new KafkaTopics(this, 'KafkaTopics', config, network, kafka);

    // Names as parsed by functions/platform/config.ts (the one place that reads the environment).
    const common = {
      CAPTURE_BUCKET: bucket.bucketName,
      TABLE_NAME: table.tableName,
      MAX_UPLOAD_BYTES: String(config.upload.maxBytes),
      UPLOAD_URL_EXPIRY_S: String(config.upload.presignExpirySeconds),
      RETENTION_DAYS: String(config.recordTtlDays),
      CORS_ORIGINS: config.upload.allowedOrigins.join(','),
    };
    // MSK here accepts IAM-authenticated clients only (SASL/OAUTHBEARER over TLS).
    const kafkaEnv = { KAFKA_BROKERS: kafka.bootstrapBrokersSaslIam, KAFKA_AUTH: 'iam' };
    // The platform config requires the bucket and table names in every function (names only: access
    // is granted per function below).
    const openSearchEnv = { ...common, OPENSEARCH_URL: `https://${domain.domainEndpoint}` };
    const kafkaVpc = { vpc: network.vpc, subnets: network.subnets, securityGroups: [network.kafkaClientSg] };
    const searchVpc = {
      vpc: network.vpc,
      subnets: network.subnets,
      securityGroups: [network.searchClientSg],
    };
    // index-flows also produces: poison records go to the dead-letter topic.
    const indexerVpc = { ...searchVpc, securityGroups: [network.searchClientSg, network.kafkaClientSg] };
    // The OpenSearch resource policy names these roles, so they live with the domain; importing them
    // mutable lets grants made here land in policies owned by this stack (no dependency cycle).
    const indexerRole = iam.Role.fromRoleArn(this, 'IndexerRole', stateful.search.indexerRole.roleArn, {
      mutable: true,
    });
    const searchRole = iam.Role.fromRoleArn(this, 'SearchRole', stateful.search.searchRole.roleArn, {
      mutable: true,
    });

    const sourceRoot = props.sourceRoot ?? REPO_ROOT;
    this.importedRoles = { indexer: indexerRole, search: searchRole };
    const make = (
      name: HandlerName,
      fnProps: Omit<HandlerFunctionProps, 'entry' | 'config' | 'dataRoot'>,
    ): HandlerFunction =>
      new HandlerFunction(this, name.charAt(0).toUpperCase() + name.slice(1), {
        ...fnProps,
        entry: join(sourceRoot, HANDLER_ENTRIES[name]),
        dataRoot: sourceRoot,
        config,
      });
    const scoring = { onnxRuntimeLayer: this.layer.layer };

    this.functions = {
      uploadPcap: make('uploadPcap', {
        description: 'POST /api/upload_pcap: presigned POST for uploads/ and a PENDING capture record',
        sizing: config.functions.api,
        environment: common,
      }),
      parseCapture: make('parseCapture', {
        description:
          'S3 uploads/: streams the capture into packets/, flows/ and features/ parts (with flow context)',
        sizing: config.functions.parse,
        environment: common,
        // models/: the manifest's flow_context (the window the context columns use); the models are not loaded.
        data: ['protocol', 'models'],
      }),
      scoreFlows: make('scoreFlows', {
        description: 'S3 features/ (one part): scores its flows, stores and publishes the predictions',
        sizing: config.functions.score,
        environment: { ...common, ...kafkaEnv },
        data: ['models'],
        vpc: kafkaVpc,
        ...scoring,
      }),
      predict: make('predict', {
        description: 'POST /api/predict: scores packets or flow records',
        sizing: config.functions.api,
        environment: { ...common, ...kafkaEnv },
        data: ['models'],
        vpc: kafkaVpc,
        ...scoring,
      }),
      history: make('history', {
        description: 'GET /api/history: predictions, newest first, paginated',
        sizing: config.functions.api,
        environment: common,
      }),
      captureStatus: make('captureStatus', {
        description: 'GET /api/captures/{id}: status, counts, summary and download links',
        sizing: config.functions.api,
        environment: common,
      }),
      republishCapture: make('republishCapture', {
        description:
          'POST /api/captures/{id}/publish: republishes the predictions Kafka did not acknowledge (retry path)',
        sizing: config.functions.api,
        environment: { ...common, ...kafkaEnv },
        vpc: kafkaVpc,
      }),
      republishSweep: make('republishSweep', {
        description:
          'Every 5 minutes: republishes what Kafka did not acknowledge, for every capture awaiting it',
        sizing: config.functions.api,
        environment: { ...common, ...kafkaEnv },
        vpc: kafkaVpc,
      }),
      indexFlows: make('indexFlows', {
        description: `MSK ${PREDICTIONS_TOPIC}: bulk-indexes predictions into OpenSearch`,
        sizing: config.functions.index,
        environment: { ...openSearchEnv, ...kafkaEnv },
        vpc: indexerVpc,
        role: indexerRole,
      }),
      searchFlows: make('searchFlows', {
        description: 'GET /api/flows: searches indexed flows in OpenSearch',
        sizing: config.functions.api,
        environment: openSearchEnv,
        vpc: searchVpc,
        role: searchRole,
      }),
    };
    const fns = this.functions;

    // Least privilege: each function gets exactly the prefixes and table access it uses.
    bucket.grantPut(fns.uploadPcap.fn, `${CAPTURE_PREFIXES.uploads}*`);
    table.grantReadWriteData(fns.uploadPcap.fn);
    bucket.grantRead(fns.parseCapture.fn, `${CAPTURE_PREFIXES.uploads}*`);
    for (const prefix of [CAPTURE_PREFIXES.packets, CAPTURE_PREFIXES.flows, CAPTURE_PREFIXES.features]) {
      bucket.grantPut(fns.parseCapture.fn, `${prefix}*`);
    }
    table.grantReadWriteData(fns.parseCapture.fn);
    bucket.grantRead(fns.scoreFlows.fn, `${CAPTURE_PREFIXES.features}*`);
    table.grantReadWriteData(fns.scoreFlows.fn);
    table.grantReadWriteData(fns.predict.fn);
    // Reads the stored predictions back and records the new publish result (with its lease) on the capture.
    table.grantReadWriteData(fns.republishCapture.fn);
    table.grantReadWriteData(fns.republishSweep.fn);
    // The automatic retry: captures Kafka did not acknowledge are listed in the table (a sparse index entry)
    // and republished on a schedule; POST /api/captures/{id}/publish stays for one capture at once.
    new events.Rule(this, 'RepublishSweepSchedule', {
      description: 'Republishes captures whose predictions Kafka did not acknowledge',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(fns.republishSweep.fn, { retryAttempts: 0 })],
    });
    table.grantReadData(fns.history.fn);
    table.grantReadData(fns.captureStatus.fn);
    for (const prefix of [CAPTURE_PREFIXES.packets, CAPTURE_PREFIXES.flows, CAPTURE_PREFIXES.features]) {
      bucket.grantRead(fns.captureStatus.fn, `${prefix}*`);
    }
    for (const publisher of [
      fns.scoreFlows.fn,
      fns.predict.fn,
      fns.republishCapture.fn,
      fns.republishSweep.fn,
    ]) {
      publisher.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ConnectIdempotentProducer',
          actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
          resources: [kafka.clusterArn],
        }),
      );
      publisher.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'PublishPredictions',
          actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
          resources: [kafka.dataArn('topic', PREDICTIONS_TOPIC)],
        }),
      );
      publisher.node.addDependency(this.topics.predictions);
    }

    // Failure destinations: S3 invokes asynchronously; after the retries the event lands here.
    const failureQueue = (id: string) =>
      new sqs.Queue(this, id, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
    this.failureQueues = {
      parseCapture: failureQueue('ParseCaptureFailures'),
      scoreFlows: failureQueue('ScoreFlowsFailures'),
      indexFlows: failureQueue('IndexFlowsFailures'),
    };
    for (const name of ['parseCapture', 'scoreFlows'] as const) {
      fns[name].fn.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        onFailure: new destinations.SqsDestination(this.failureQueues[name]),
      });
    }

    // Notifications on the stateful bucket, managed from this stack (the bucket stack must not
    // depend on the functions). The custom resource merges with other notifications on the bucket.
    const bucketRef = s3.Bucket.fromBucketAttributes(this, 'CaptureBucketRef', {
      bucketArn: bucket.bucketArn,
      bucketName: bucket.bucketName,
    });
    bucketRef.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new s3n.LambdaDestination(fns.parseCapture.fn),
      { prefix: CAPTURE_PREFIXES.uploads },
    );
    bucketRef.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new s3n.LambdaDestination(fns.scoreFlows.fn),
      { prefix: CAPTURE_PREFIXES.features },
    );

    // MSK → index-flows. Partial batch responses, bisecting, bounded retries and an on-failure
    // destination need the provisioned-poller mode of the Kafka event source mapping.
    const indexFlows = fns.indexFlows.fn;
    indexFlows.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConnectConsumeAndDeadLetter',
        actions: [
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeClusterDynamicConfiguration',
          'kafka-cluster:WriteDataIdempotently',
        ],
        resources: [kafka.clusterArn],
      }),
    );
    indexFlows.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteDeadLetters',
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
        resources: [kafka.dataArn('topic', DEAD_LETTER_TOPIC)],
      }),
    );
    indexFlows.node.addDependency(this.topics.deadLetter);
    indexFlows.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConsumePredictions',
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: [kafka.dataArn('topic', PREDICTIONS_TOPIC)],
      }),
    );
    indexFlows.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConsumerGroup',
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [kafka.dataArn('group', INDEXER_CONSUMER_GROUP)],
      }),
    );
    const indexerSource = new sources.ManagedKafkaEventSource({
      clusterArn: kafka.clusterArn,
      topic: PREDICTIONS_TOPIC,
      consumerGroupId: INDEXER_CONSUMER_GROUP,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: config.indexer.batchSize,
      maxBatchingWindow: Duration.seconds(config.indexer.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: config.indexer.retryAttempts,
      onFailure: new sources.SqsDlq(this.failureQueues.indexFlows),
      provisionedPollerConfig: { minimumPollers: 1, maximumPollers: config.indexer.maxPollers },
    });
    indexFlows.addEventSource(indexerSource);
    this.failureQueues.indexFlows.grantSendMessages(indexFlows);

    this.api = new RestApi(this, 'Api', config, {
      uploadPcap: fns.uploadPcap.fn,
      predict: fns.predict.fn,
      history: fns.history.fn,
      captureStatus: fns.captureStatus.fn,
      republishCapture: fns.republishCapture.fn,
      searchFlows: fns.searchFlows.fn,
    });

    this.alarmTopic = this.createAlarms(config);

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.api.url,
      description: 'Base URL for `ccf upload --api`',
    });
    new CfnOutput(this, 'ApiKeyId', {
      value: this.api.apiKey.keyId,
      description: 'aws apigateway get-api-key --api-key <id> --include-value',
    });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'OpenSearchEndpoint', { value: `https://${domain.domainEndpoint}` });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }

  private createAlarms(config: StageConfig): sns.Topic {
    const key = new kms.Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the CCF-Catcher alarm topic',
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true });
    if (config.alarms.email !== null)
      topic.addSubscription(new subscriptions.EmailSubscription(config.alarms.email));
    const action = new cw_actions.SnsAction(topic);
    const fiveMinutes = Duration.minutes(5);
    const alarm = (id: string, props: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, id, props);
      created.addAlarmAction(action);
      return created;
    };

    for (const [name, handler] of Object.entries(this.functions)) {
      alarm(`${name}Errors`, {
        alarmDescription: `${name}: more than ${config.alarms.functionErrors} errors in 5 minutes`,
        metric: handler.fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: config.alarms.functionErrors,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm(`${name}Throttles`, {
        alarmDescription: `${name}: invocations throttled`,
        metric: handler.fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    for (const [name, queue] of Object.entries(this.failureQueues)) {
      alarm(`${name}FailureQueueDepth`, {
        alarmDescription: `${name}: events in the failure destination (nothing is dropped; inspect and redrive)`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    alarm('IndexFlowsConsumerLag', {
      alarmDescription: `index-flows is more than ${config.alarms.consumerLagRecords} records behind ${PREDICTIONS_TOPIC}`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'OffsetLag',
        dimensionsMap: { FunctionName: this.functions.indexFlows.fn.functionName },
        statistic: 'Maximum',
        period: fiveMinutes,
      }),
      threshold: config.alarms.consumerLagRecords,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('Api5xx', {
      alarmDescription: `API: more than ${config.alarms.api5xxPerFiveMinutes} 5XX responses in 5 minutes`,
      metric: this.api.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: config.alarms.api5xxPerFiveMinutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return topic;
  }
}
