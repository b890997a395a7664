import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStage, STAGE_NAMES, STAGES, UnknownStageError } from '../../infra/config/stages.js';
import {
  planTopic,
  TopicShrinkError,
  handler as topicHandler,
  topicPropertiesSchema,
} from '../../infra/functions/kafka-topic-handler.js';
import { bundleImportsOnnxRuntimeStatically } from '../../infra/lib/constructs/handler-function.js';
import { REPO_ROOT } from '../../infra/lib/paths.js';

describe('stage config', () => {
  it('resolves each known stage to its own config', () => {
    for (const name of STAGE_NAMES) expect(resolveStage(name)).toBe(STAGES[name]);
    expect(STAGE_NAMES).toEqual(['dev', 'staging', 'prod']);
  });

  it('refuses an unknown or missing stage with the list of valid ones', () => {
    expect(() => resolveStage('qa')).toThrow(UnknownStageError);
    expect(() => resolveStage('qa')).toThrow('Unknown stage "qa": expected one of dev, staging, prod');
    expect(() => resolveStage(undefined)).toThrow('No stage given: pass -c stage=<dev|staging|prod>');
    expect(() => resolveStage('PROD')).toThrow(UnknownStageError);
  });

  it('keeps every stage deployable: even brokers and zone-aware nodes over 2 AZs, sane limits', () => {
    for (const config of Object.values(STAGES)) {
      if (config.kafka.mode === 'provisioned') {
        expect(config.kafka.brokerCount % config.maxAzs, config.name).toBe(0);
        expect(config.kafka.topicReplicationFactor ?? 0, config.name).toBeLessThanOrEqual(
          config.kafka.brokerCount,
        );
      } else {
        // MSK Serverless fixes the replication factor itself.
        expect(config.kafka.topicReplicationFactor, config.name).toBeNull();
      }
      if (config.search.zoneAwareness) expect(config.search.dataNodes % 2, config.name).toBe(0);
      expect(config.functions.api.timeoutSeconds, config.name).toBeLessThanOrEqual(29);
      expect(config.upload.maxBytes, config.name).toBeLessThanOrEqual(5 * 2 ** 30);
      expect(config.lifecycle.derivedExpireDays, config.name).toBeGreaterThanOrEqual(
        config.lifecycle.uploadsExpireDays,
      );
    }
    expect(STAGES.prod.retainData).toBe(true);
    expect(STAGES.dev.retainData).toBe(false);
  });

  it('the CDK entry point fails with a clear message for an unknown stage', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'infra', 'bin', 'app.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'qa' }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'ccf-catcher infra: Unknown stage "qa": expected one of dev, staging, prod (-c stage=<name>)',
    );
  });
});

describe('Kafka topic provisioner', () => {
  it('creates a missing topic, grows partitions, never shrinks them', () => {
    expect(planTopic(null, 6)).toEqual({ action: 'create' });
    expect(planTopic(3, 6)).toEqual({ action: 'add-partitions', from: 3, to: 6 });
    expect(planTopic(6, 6)).toEqual({ action: 'keep' });
    expect(() => planTopic(12, 6)).toThrow(TopicShrinkError);
  });

  it('leaves the topic in place on Delete (no broker contacted) and refuses malformed events', async () => {
    await expect(
      topicHandler({ RequestType: 'Delete', PhysicalResourceId: 'kafka-topic:network_predictions' }),
    ).resolves.toEqual({ PhysicalResourceId: 'kafka-topic:network_predictions' });
    await expect(
      topicHandler({ RequestType: 'Create', ResourceProperties: { Topic: 'network_predictions' } }),
    ).rejects.toThrow();
  });

  it('parses CloudFormation properties (strings) and refuses bad topic names', () => {
    const parsed = topicPropertiesSchema.parse({
      BootstrapBrokers: 'b-1.example:9098,b-2.example:9098',
      Topic: 'network_predictions',
      Partitions: '6',
      ReplicationFactor: '-1',
      RetentionMs: '259200000',
    });
    expect(parsed).toMatchObject({ Partitions: 6, ReplicationFactor: -1, RetentionMs: 259_200_000 });
    expect(() => topicPropertiesSchema.parse({ ...parsed, Topic: 'bad topic' })).toThrow();
    expect(() => topicPropertiesSchema.parse({ ...parsed, Partitions: '0' })).toThrow();
  });
});

describe('bundle check for onnxruntime-node', () => {
  it('tells a load-time import from a lazy one', () => {
    expect(
      bundleImportsOnnxRuntimeStatically('import{InferenceSession as a,Tensor as b}from"onnxruntime-node";'),
    ).toBe(true);
    expect(bundleImportsOnnxRuntimeStatically("var x=1;import * as ort from 'onnxruntime-node';")).toBe(true);
    expect(bundleImportsOnnxRuntimeStatically('import"onnxruntime-node";')).toBe(true);
    expect(bundleImportsOnnxRuntimeStatically('const ort=await import("onnxruntime-node");')).toBe(false);
    expect(bundleImportsOnnxRuntimeStatically('export const x = "no onnxruntime here";')).toBe(false);
  });
});
