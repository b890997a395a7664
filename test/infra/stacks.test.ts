import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_KEYS } from '../../functions/platform/dynamodb-repositories.js';
import { STAGE_NAMES, type StageName } from '../../infra/config/stages.js';
import { DEAD_LETTER_TOPIC, PREDICTIONS_TOPIC } from '../../infra/lib/constructs/kafka-cluster.js';
import { STATEFUL_LOGICAL_IDS } from '../../infra/lib/stateful-stack.js';
import { HANDLER_ENTRIES, type HandlerName, SCORING_HANDLERS } from '../../infra/lib/stateless-stack.js';
import { buildOnnxRuntimeLayer, directorySizeBytes } from '../../layers/onnxruntime/build.js';
import { MISSING, type SynthesizedStage, synthesizeStages } from './support/synth.js';

type Json = Record<string, unknown>;

function resourcesOf(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

function props(resource: Json): Json {
  return (resource.Properties ?? {}) as Json;
}

/** Logical id of the function built from one handler entry (HandlerFunction → `<Name>Function…`). */
function functionLogicalId(template: Template, name: HandlerName): string {
  const prefix = `${name.charAt(0).toUpperCase()}${name.slice(1)}Function`;
  const ids = Object.keys(resourcesOf(template, 'AWS::Lambda::Function')).filter((id) =>
    id.startsWith(prefix),
  );
  expect(ids, `one function for ${name}`).toHaveLength(1);
  return ids[0]!;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

function statementsOf(template: Template): Array<{ policy: string; statement: Statement }> {
  const out: Array<{ policy: string; statement: Statement }> = [];
  for (const [id, policy] of Object.entries(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const document = props(policy).PolicyDocument as { Statement: Statement[] };
    for (const statement of document.Statement) out.push({ policy: id, statement });
  }
  return out;
}

function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Policies attached to one function's role (by the role's logical id in the template). */
function policiesOfFunction(template: Template, functionId: string): Statement[] {
  const fn = resourcesOf(template, 'AWS::Lambda::Function')[functionId]!;
  const roleRef = JSON.stringify((props(fn).Role as Json) ?? {});
  const statements: Statement[] = [];
  for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const roles = JSON.stringify(props(policy).Roles ?? []);
    const roleId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(roleRef)?.[1];
    if (roleId !== undefined && roles.includes(`"${roleId}"`)) {
      statements.push(...(props(policy).PolicyDocument as { Statement: Statement[] }).Statement);
    }
  }
  return statements;
}

it('finds every handler entry, the models and the protocol maps the app bundles', () => {
  expect(MISSING).toEqual([]);
});

describe('CDK app: every stage synthesizes offline with cdk-nag clean', () => {
  let stages: Record<StageName, SynthesizedStage>;
  beforeAll(() => {
    stages = synthesizeStages();
  }, 420_000);

  describe.each(STAGE_NAMES)('stage %s', (stageName) => {
    const stage = () => stages[stageName];

    it('has no unsuppressed cdk-nag (AwsSolutions) errors or warnings', () => {
      for (const stack of [stage().stacks.stateful, stage().stacks.stateless]) {
        const annotations = Annotations.fromStack(stack);
        expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
        expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      }
    });

    it('pins the logical ids of every stateful resource', () => {
      const resources = stage().stateful.toJSON().Resources as Record<string, Json>;
      const expected: Record<keyof typeof STATEFUL_LOGICAL_IDS, string> = {
        vpc: 'AWS::EC2::VPC',
        captureBucket: 'AWS::S3::Bucket',
        accessLogsBucket: 'AWS::S3::Bucket',
        recordsTable: 'AWS::DynamoDB::Table',
        searchDomain: 'AWS::OpenSearchService::Domain',
        kafkaCluster:
          stage().config.kafka.mode === 'serverless' ? 'AWS::MSK::ServerlessCluster' : 'AWS::MSK::Cluster',
        indexerRole: 'AWS::IAM::Role',
        searchRole: 'AWS::IAM::Role',
      };
      // Literal ids: renaming one would replace (and empty) the resource on the next deploy.
      expect(STATEFUL_LOGICAL_IDS).toEqual({
        vpc: 'CcfVpc',
        captureBucket: 'CcfCaptureBucket',
        accessLogsBucket: 'CcfAccessLogsBucket',
        recordsTable: 'CcfRecordsTable',
        searchDomain: 'CcfSearchDomain',
        kafkaCluster: 'CcfKafkaCluster',
        indexerRole: 'CcfIndexerRole',
        searchRole: 'CcfSearchRole',
      });
      for (const [key, type] of Object.entries(expected)) {
        const id = STATEFUL_LOGICAL_IDS[key as keyof typeof STATEFUL_LOGICAL_IDS];
        expect(resources[id]?.Type, id).toBe(type);
      }
    });

    it('retains data only where the stage says so', () => {
      const resources = stage().stateful.toJSON().Resources as Record<string, Json>;
      const policy = stage().config.retainData ? 'Retain' : 'Delete';
      for (const id of ['CcfCaptureBucket', 'CcfRecordsTable', 'CcfSearchDomain', 'CcfKafkaCluster']) {
        expect(resources[id]?.DeletionPolicy, id).toBe(policy);
      }
      stage().stateful.hasResourceProperties('AWS::DynamoDB::Table', {
        DeletionProtectionEnabled: stage().config.retainData,
      });
    });

    it('capture bucket: encrypted, private, TLS only, CORS for browser POST, lifecycle per prefix', () => {
      const template = stage().stateful;
      template.resourceCountIs('AWS::S3::Bucket', 2);
      const bucket = props(template.toJSON().Resources.CcfCaptureBucket as Json);
      expect(bucket.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const cors = (bucket.CorsConfiguration as { CorsRules: Array<{ AllowedMethods: string[] }> }).CorsRules;
      expect(cors[0]?.AllowedMethods).toContain('POST');
      const rules = (bucket.LifecycleConfiguration as { Rules: Array<Json> }).Rules;
      const expiry = (prefix: string) => rules.find((rule) => rule.Prefix === prefix)?.ExpirationInDays;
      expect(expiry('uploads/')).toBe(stage().config.lifecycle.uploadsExpireDays);
      for (const prefix of ['packets/', 'flows/', 'features/']) {
        expect(expiry(prefix), prefix).toBe(stage().config.lifecycle.derivedExpireDays);
      }
      expect(bucket.LoggingConfiguration).toBeDefined();
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: 'CcfCaptureBucket' },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('records table: on-demand, PITR, TTL, SSE, keys and index of the pipeline repositories', () => {
      const table = props(stage().stateful.toJSON().Resources.CcfRecordsTable as Json);
      expect(table.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(table.TimeToLiveSpecification).toEqual({
        AttributeName: TABLE_KEYS.ttlAttribute,
        Enabled: true,
      });
      expect(table.SSESpecification).toEqual({ SSEEnabled: true });
      expect(table.KeySchema).toEqual([
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ]);
      expect(table.GlobalSecondaryIndexes).toEqual([
        {
          IndexName: TABLE_KEYS.timeIndex,
          KeySchema: [
            { AttributeName: TABLE_KEYS.timeIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.timeIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]);
    });

    it('network: isolated subnets, no NAT, S3/DynamoDB gateway and STS/Lambda/SQS interface endpoints', () => {
      const template = stage().stateful;
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::InternetGateway', 0);
      template.resourceCountIs('AWS::EC2::Subnet', 2);
      const endpoints = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).map((endpoint) =>
        JSON.stringify(props(endpoint).ServiceName),
      );
      for (const service of ['.s3', '.dynamodb', '.sts', '.lambda', '.sqs']) {
        expect(
          endpoints.some((name) => name.includes(service)),
          service,
        ).toBe(true);
      }
      template.resourceCountIs('AWS::EC2::FlowLog', 1);
    });

    it('OpenSearch 2.19 in the VPC: encrypted at rest and node-to-node, HTTPS only, sized per stage', () => {
      const search = stage().config.search;
      stage().stateful.hasResourceProperties('AWS::OpenSearchService::Domain', {
        EngineVersion: 'OpenSearch_2.19',
        EncryptionAtRestOptions: { Enabled: true },
        NodeToNodeEncryptionOptions: { Enabled: true },
        DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-PFS-2023-10' },
        VPCOptions: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() },
        ClusterConfig: Match.objectLike({
          InstanceCount: search.dataNodes,
          InstanceType: search.dataNodeInstanceType,
          ZoneAwarenessEnabled: search.zoneAwareness,
          DedicatedMasterEnabled: search.dedicatedManagerInstanceType !== null,
        }),
      });
    });

    it('OpenSearch resource policy names only the indexer and search roles', () => {
      const template = stage().stateful;
      const policies = Object.values(resourcesOf(template, 'Custom::OpenSearchAccessPolicy'));
      expect(policies).toHaveLength(1);
      const text = JSON.stringify(props(policies[0]!));
      expect(text).toContain('CcfIndexerRole');
      expect(text).toContain('CcfSearchRole');
      expect(text).not.toMatch(/\\"AWS\\":\\"\*\\"/);
    });

    it('MSK with IAM auth only and TLS, serverless or provisioned per stage', () => {
      const kafka = stage().config.kafka;
      if (kafka.mode === 'serverless') {
        stage().stateful.hasResourceProperties('AWS::MSK::ServerlessCluster', {
          ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
        });
        stage().stateful.resourceCountIs('AWS::MSK::Cluster', 0);
      } else {
        stage().stateful.hasResourceProperties('AWS::MSK::Cluster', {
          NumberOfBrokerNodes: kafka.brokerCount,
          BrokerNodeGroupInfo: Match.objectLike({ InstanceType: kafka.brokerInstanceType }),
          ClientAuthentication: {
            Sasl: { Iam: { Enabled: true }, Scram: { Enabled: false } },
            Unauthenticated: { Enabled: false },
          },
          EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
        });
        stage().stateful.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
      }
    });

    it('every function: bundled Node 22 on arm64, traced, JSON logs with retention', () => {
      const template = stage().stateless;
      // The handlers, the topic provisioner, and CDK's custom-resource provider and notification handler.
      template.resourceCountIs('AWS::Lambda::Function', Object.keys(HANDLER_ENTRIES).length + 3);
      for (const name of Object.keys(HANDLER_ENTRIES) as HandlerName[]) {
        const fn = props(resourcesOf(template, 'AWS::Lambda::Function')[functionLogicalId(template, name)]!);
        expect(fn.Runtime, name).toBe('nodejs22.x');
        expect(fn.Architectures, name).toEqual(['arm64']);
        expect(fn.TracingConfig, name).toEqual({ Mode: 'Active' });
        expect(fn.Handler, name).toBe('index.handler');
        expect((fn.LoggingConfig as Json).LogFormat, name).toBe('JSON');
      }
      const retention = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup')).map(
        (group) => props(group).RetentionInDays,
      );
      expect(retention.length).toBeGreaterThanOrEqual(Object.keys(HANDLER_ENTRIES).length);
      expect(new Set(retention)).toEqual(new Set([stage().config.logRetentionDays]));
    });

    it('the onnxruntime layer (arm64) is attached to the scoring functions only', () => {
      const template = stage().stateless;
      const layers = resourcesOf(template, 'AWS::Lambda::LayerVersion');
      expect(Object.keys(layers)).toHaveLength(1);
      const layerId = Object.keys(layers)[0]!;
      expect(props(layers[layerId]!).CompatibleArchitectures).toEqual(['arm64']);
      expect(props(layers[layerId]!).CompatibleRuntimes).toEqual(['nodejs22.x']);
      for (const name of Object.keys(HANDLER_ENTRIES) as HandlerName[]) {
        const fn = props(resourcesOf(template, 'AWS::Lambda::Function')[functionLogicalId(template, name)]!);
        if (SCORING_HANDLERS.includes(name)) {
          expect(fn.Layers, name).toEqual([{ Ref: layerId }]);
          expect((fn.Environment as { Variables: Json }).Variables.MODELS_DIR, name).toBe('/var/task/models');
        } else {
          expect(fn.Layers, name).toBeUndefined();
        }
        // parse-capture computes the flow context of the features parts: it reads the manifest, not the models.
        if (name === 'parseCapture')
          expect((fn.Environment as { Variables: Json }).Variables.MODELS_DIR, name).toBe('/var/task/models');
      }
    });

    it('VPC placement: Kafka publishers, the indexer and search in the VPC; the rest outside', () => {
      const indexFlows = props(
        resourcesOf(stage().stateless, 'AWS::Lambda::Function')[
          functionLogicalId(stage().stateless, 'indexFlows')
        ]!,
      );
      expect((indexFlows.VpcConfig as { SecurityGroupIds: unknown[] }).SecurityGroupIds).toHaveLength(2);
      const template = stage().stateless;
      const inVpc: HandlerName[] = [
        'scoreFlows',
        'predict',
        'republishCapture',
        'republishSweep',
        'indexFlows',
        'searchFlows',
      ];
      for (const name of Object.keys(HANDLER_ENTRIES) as HandlerName[]) {
        const fn = props(resourcesOf(template, 'AWS::Lambda::Function')[functionLogicalId(template, name)]!);
        expect(fn.VpcConfig !== undefined, name).toBe(inVpc.includes(name));
      }
    });

    it('S3 notifications route uploads/ to parse-capture and features/ to score-flows', () => {
      const template = stage().stateless;
      const parse = functionLogicalId(template, 'parseCapture');
      const score = functionLogicalId(template, 'scoreFlows');
      template.hasResourceProperties('Custom::S3BucketNotifications', {
        NotificationConfiguration: {
          LambdaFunctionConfigurations: Match.arrayEquals([
            {
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
              LambdaFunctionArn: { 'Fn::GetAtt': [parse, 'Arn'] },
            },
            {
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'features/' }] } },
              LambdaFunctionArn: { 'Fn::GetAtt': [score, 'Arn'] },
            },
          ]),
        },
      });
      for (const id of [parse, score]) {
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: { Ref: id },
          MaximumRetryAttempts: 2,
          DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
        });
      }
    });

    it('MSK event source for index-flows: batch size, start, partial failures, failure destination', () => {
      const template = stage().stateless;
      const indexer = stage().config.indexer;
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: functionLogicalId(template, 'indexFlows') },
        Topics: [PREDICTIONS_TOPIC],
        BatchSize: indexer.batchSize,
        StartingPosition: 'TRIM_HORIZON',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: indexer.retryAttempts,
        BisectBatchOnFunctionError: true,
        DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'ccf-index-flows' },
      });
    });

    it('MSK error handling is in provisioned mode, bounded, and matches what index-flows answers', async () => {
      // Lambda honours partial batch responses, split-on-error and retry limits for Kafka event sources only in
      // provisioned poller mode; without it the settings above would be ignored and a failed record would be
      // retried forever or skipped. Pin all of it, plus the record → response contract the handler relies on.
      const template = stage().stateless;
      const indexer = stage().config.indexer;
      const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).map(props);
      expect(mappings).toHaveLength(1);
      const mapping = mappings[0]!;
      expect(mapping.ProvisionedPollerConfig).toEqual({
        MinimumPollers: 1,
        MaximumPollers: indexer.maxPollers,
      });
      // Bounded: an infinite retry (-1) would block a partition behind one bad batch.
      expect(indexer.retryAttempts).toBeGreaterThanOrEqual(0);
      expect(indexer.retryAttempts).toBeLessThanOrEqual(10_000);
      expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const destination = JSON.stringify(mapping.DestinationConfig);
      expect(destination).toContain('IndexFlowsFailures');

      // With ReportBatchItemFailures, index-flows answers {batchItemFailures: [{itemIdentifier: {partition:
      // "topic-partition", offset}}]} for records to retry (the MSK form), and an empty list when all succeeded.
      const { indexMskBatch } = await import('../../functions/handlers/index-flows.js');
      const { toMskEvent } = await import('../../functions/platform/kafka-msk-event.js');
      const event = toMskEvent(
        [0, 1].map((offset) => ({
          topic: PREDICTIONS_TOPIC,
          partition: 2,
          offset,
          timestamp: 0,
          key: Buffer.from('cap'),
          value: Buffer.from(`{"not":"a prediction ${offset}"}`),
        })),
        ['b-1.example:9098'],
      );
      const unreachable = async () => {
        throw new Error('down');
      };
      const failing = await indexMskBatch(event, {
        indexer: { indexDocuments: unreachable },
        poison: { send: unreachable },
      });
      expect(failing.response).toEqual({
        batchItemFailures: [
          { itemIdentifier: { partition: `${PREDICTIONS_TOPIC}-2`, offset: 0 } },
          { itemIdentifier: { partition: `${PREDICTIONS_TOPIC}-2`, offset: 1 } },
        ],
      });
      const stored = await indexMskBatch(event, {
        indexer: { indexDocuments: unreachable },
        poison: { send: async () => undefined },
      });
      expect(stored.response).toEqual({ batchItemFailures: [] });
    });

    it('Kafka clients authenticate with IAM on MSK (KAFKA_AUTH=iam wherever KAFKA_BROKERS is set)', () => {
      const template = stage().stateless;
      const withBrokers = Object.values(resourcesOf(template, 'AWS::Lambda::Function'))
        .map((fn) => ((props(fn).Environment as { Variables?: Json } | undefined)?.Variables ?? {}) as Json)
        .filter((variables) => 'KAFKA_BROKERS' in variables);
      // score-flows, predict, republish-capture, republish-sweep, index-flows.
      expect(withBrokers).toHaveLength(5);
      for (const variables of withBrokers) expect(variables.KAFKA_AUTH).toBe('iam');
    });

    it('runs the republish sweep every 5 minutes', () => {
      const template = stage().stateless;
      const sweepId = Object.keys(resourcesOf(template, 'AWS::Lambda::Function')).find((id) =>
        id.startsWith('RepublishSweep'),
      );
      expect(sweepId).toBeDefined();
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(5 minutes)',
        State: 'ENABLED',
        Targets: [{ Arn: { 'Fn::GetAtt': [sweepId, 'Arn'] } }],
      });
    });

    it('creates the predictions and dead-letter topics with the stage partitions on deploy', () => {
      const kafka = stage().config.kafka;
      stage().stateless.resourceCountIs('Custom::KafkaTopic', 2);
      stage().stateless.hasResourceProperties('Custom::KafkaTopic', {
        Topic: PREDICTIONS_TOPIC,
        Partitions: kafka.topicPartitions,
        ReplicationFactor: kafka.topicReplicationFactor ?? -1,
        RetentionMs: kafka.topicRetentionHours * 3_600_000,
      });
      stage().stateless.hasResourceProperties('Custom::KafkaTopic', {
        Topic: DEAD_LETTER_TOPIC,
        Partitions: kafka.deadLetterPartitions,
        RetentionMs: kafka.deadLetterRetentionHours * 3_600_000,
      });
    });

    it('REST API: API key on every method, validators, throttling, usage plan, access logs', () => {
      const template = stage().stateless;
      const api = stage().config.api;
      const methods = Object.values(resourcesOf(template, 'AWS::ApiGateway::Method')).map(props);
      const routes = methods.filter((method) => method.HttpMethod !== 'OPTIONS');
      expect(routes).toHaveLength(6);
      for (const method of routes) {
        expect(method.ApiKeyRequired).toBe(true);
        expect(method.RequestValidatorId).toBeDefined();
      }
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        Throttle: { RateLimit: api.rateLimitPerSecond, BurstLimit: api.burstLimit },
        Quota: { Limit: api.quotaPerDay, Period: 'DAY' },
      });
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: stageName,
        TracingEnabled: true,
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
        MethodSettings: [
          Match.objectLike({
            ThrottlingRateLimit: api.rateLimitPerSecond,
            ThrottlingBurstLimit: api.burstLimit,
            LoggingLevel: 'ERROR',
          }),
        ],
      });
    });

    it('alarms: errors and throttles per function, failure-queue depth, consumer lag, API 5xx', () => {
      const template = stage().stateless;
      const functions = Object.keys(HANDLER_ENTRIES).length;
      const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map(props);
      const byMetric = (metric: string) => alarms.filter((alarm) => alarm.MetricName === metric);
      expect(byMetric('Errors')).toHaveLength(functions);
      expect(byMetric('Throttles')).toHaveLength(functions);
      expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(3);
      expect(byMetric('5XXError')).toHaveLength(1);
      const lag = byMetric('OffsetLag');
      expect(lag).toHaveLength(1);
      expect(lag[0]?.Threshold).toBe(stage().config.alarms.consumerLagRecords);
      for (const alarm of alarms) expect(alarm.AlarmActions, String(alarm.AlarmDescription)).toHaveLength(1);
    });

    it('outputs the API URL, bucket name and OpenSearch endpoint', () => {
      const outputs = Object.keys(stage().stateless.toJSON().Outputs as Json);
      for (const name of ['ApiUrl', 'ApiKeyId', 'BucketName', 'OpenSearchEndpoint']) {
        expect(outputs).toContain(name);
      }
    });

    it('IAM: no wildcard actions; "*" resources only for actions that have no resource-level form', () => {
      const noResourceLevel = new Set([
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        's3:PutBucketNotification',
        's3:GetBucketNotification',
        'logs:PutResourcePolicy',
        'logs:DeleteResourcePolicy',
      ]);
      for (const template of [stage().stateful, stage().stateless]) {
        for (const { policy, statement } of statementsOf(template)) {
          const actions = asList(statement.Action);
          for (const action of actions) {
            expect(action === '*' || /^[a-z0-9-]+:\*$/.test(action), `${policy}: ${action}`).toBe(false);
          }
          if (asList(statement.Resource).includes('*')) {
            for (const action of actions)
              expect(noResourceLevel.has(action), `${policy}: ${action} on *`).toBe(true);
          }
        }
      }
    });

    it('IAM: each function reaches only its own prefixes, table access and topic', () => {
      const template = stage().stateless;
      const statementsFor = (name: HandlerName) =>
        policiesOfFunction(template, functionLogicalId(template, name)).map((statement) => ({
          actions: asList(statement.Action),
          resources: JSON.stringify(statement.Resource),
        }));
      const s3Resources = (name: HandlerName) =>
        statementsFor(name)
          .filter((statement) => statement.actions.some((action) => action.startsWith('s3:')))
          .map((statement) => statement.resources);
      expect(s3Resources('uploadPcap').every((resource) => resource.includes('/uploads/*'))).toBe(true);
      const parseWrites = statementsFor('parseCapture').filter((statement) =>
        statement.actions.includes('s3:PutObject'),
      );
      expect(parseWrites.map((statement) => statement.resources).join(' ')).not.toContain('/uploads/*');
      expect(s3Resources('scoreFlows').join(' ')).toContain('/features/*');
      expect(s3Resources('scoreFlows').join(' ')).not.toContain('/uploads/*');
      const historyActions = statementsFor('history').flatMap((statement) => statement.actions);
      expect(historyActions.some((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toBe(
        false,
      );
      expect(historyActions.some((action) => action.startsWith('s3:'))).toBe(false);
      for (const name of [...SCORING_HANDLERS, 'republishCapture', 'republishSweep'] as const) {
        const kafka = statementsFor(name).filter((statement) =>
          statement.actions.includes('kafka-cluster:WriteData'),
        );
        expect(kafka, name).toHaveLength(1);
        expect(kafka[0]?.resources, name).toContain(`/${PREDICTIONS_TOPIC}"`);
      }
      for (const name of ['uploadPcap', 'parseCapture', 'history', 'captureStatus', 'searchFlows'] as const) {
        const actions = statementsFor(name).flatMap((statement) => statement.actions);
        expect(
          actions.some((action) => action.startsWith('kafka-cluster:')),
          name,
        ).toBe(false);
      }
    });

    it('IAM: index-flows reads the predictions topic and writes only the dead-letter topic', () => {
      const template = stage().stateless;
      const indexer = JSON.stringify(
        Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
          .map(props)
          .filter((policy) => JSON.stringify(policy.Roles).includes('CcfIndexerRole')),
      );
      const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
        .map(props)
        .filter((policy) => JSON.stringify(policy.Roles).includes('CcfIndexerRole'))
        .flatMap((policy) => (policy.PolicyDocument as { Statement: Statement[] }).Statement);
      expect(indexer.length).toBeGreaterThan(0);
      const write = statements.filter((statement) =>
        asList(statement.Action).includes('kafka-cluster:WriteData'),
      );
      expect(write).toHaveLength(1);
      expect(JSON.stringify(write[0]?.Resource)).toContain(`/${DEAD_LETTER_TOPIC}"`);
      const read = statements.filter((statement) =>
        asList(statement.Action).includes('kafka-cluster:ReadData'),
      );
      expect(read).toHaveLength(1);
      expect(JSON.stringify(read[0]?.Resource)).toContain(`/${PREDICTIONS_TOPIC}"`);
    });
  });

  it('the arm64 layer plus the largest scoring bundle stay far below 250 MB unzipped', () => {
    const { stacks } = stages.prod;
    const outDir = mkdtempSync(join(tmpdir(), 'ccf-layer-size-'));
    const layer = buildOnnxRuntimeLayer({ arch: 'arm64', outDir });
    rmSync(outDir, { recursive: true, force: true });
    const bundles = SCORING_HANDLERS.map((name) =>
      directorySizeBytes(stacks.stateless.functions[name].bundleDir),
    );
    const total = layer.unzippedBytes + Math.max(...bundles);
    console.info(
      `unzipped: onnxruntime layer ${(layer.unzippedBytes / 2 ** 20).toFixed(1)} MB + function ${(Math.max(...bundles) / 2 ** 20).toFixed(1)} MB = ${(total / 2 ** 20).toFixed(1)} MB (limit 250 MB)`,
    );
    expect(total).toBeLessThan(100 * 2 ** 20);
  });
});
