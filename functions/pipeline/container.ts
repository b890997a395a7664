import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { FlowContext } from '../flows/flow-context.js';
import { loadManifest } from '../inference/manifest.js';
import { loadScorer } from '../inference/scorer.js';
import { createDocumentClient, createDynamoClient, createS3Client } from '../platform/aws-clients.js';
import { getConfig, type PlatformConfig } from '../platform/config.js';
import { DynamoCaptureRepository, DynamoPredictionRepository } from '../platform/dynamodb-repositories.js';
import { createIdempotentRunner, type IdempotentRunner } from '../platform/idempotency.js';
import { predictionPublisherFor } from '../platform/kafka-publisher.js';
import type {
  CaptureRepository,
  CaptureStore,
  Clock,
  IdSource,
  PredictionPublisher,
  PredictionRepository,
} from '../platform/ports.js';
import { S3CaptureStore } from '../platform/s3-capture-store.js';
import type { CaptureAnalyzer } from './capture-analysis.js';
import { createCaptureAnalyzer } from './capture-analyzer.js';
import type { PredictResponse } from './predict.js';
import { coalescePacketScoring, type FlowContextSource, type PredictionScorer } from './scoring.js';

/**
 * The composition root: adapters built once per container (Lambda cold start or local process) from the
 * parsed config. Heavy parts (ONNX sessions, protocol maps) are built on first use, so the upload and
 * history functions never load models.
 */
export interface Container {
  config: PlatformConfig;
  store: CaptureStore;
  captures: CaptureRepository;
  predictions: PredictionRepository;
  publisher: PredictionPublisher;
  clock: Clock;
  ids: IdSource;
  /** Powertools Idempotency for POST /api/predict requests that carry an `Idempotency-Key`. */
  idempotentPredict: IdempotentRunner<PredictResponse>;
  scorer(): Promise<PredictionScorer>;
  analyzer(): CaptureAnalyzer;
  /**
   * Capture-context accumulators configured as the models were trained (manifest `flow_context`), for
   * parse-capture; reads the manifest only, never the ONNX models.
   */
  flowContext(): Promise<() => FlowContextSource>;
}

/** How long a repeated Idempotency-Key gets the first answer back. */
const IDEMPOTENCY_EXPIRY_S = 3600;

export interface ContainerOverrides {
  /**
   * Replaces the container's publisher (by default Kafka when KAFKA_BROKERS is set, otherwise one that
   * stores nothing and reports "not configured").
   */
  publisher?: PredictionPublisher;
  scorer?: () => Promise<PredictionScorer>;
}

export function createContainer(config: PlatformConfig, overrides: ContainerOverrides = {}): Container {
  const s3 = createS3Client(config);
  const postS3 = config.S3_UPLOAD_ENDPOINT ? createS3Client(config, config.S3_UPLOAD_ENDPOINT) : s3;
  const documents = createDocumentClient(config);
  const repositoryOptions = {
    client: documents,
    tableName: config.TABLE_NAME,
    retentionDays: config.RETENTION_DAYS,
    timeIndexShards: config.TIME_INDEX_SHARDS,
  };
  let scorer: Promise<PredictionScorer> | undefined;
  let analyzer: CaptureAnalyzer | undefined;
  let flowContext: Promise<() => FlowContextSource> | undefined;
  const modelsDir = resolve(config.MODELS_DIR ?? 'models');
  return {
    config,
    store: new S3CaptureStore({ client: s3, postClient: postS3, bucket: config.CAPTURE_BUCKET }),
    captures: new DynamoCaptureRepository(repositoryOptions),
    predictions: new DynamoPredictionRepository(repositoryOptions),
    publisher: overrides.publisher ?? predictionPublisherFor(config),
    clock: { now: () => new Date() },
    ids: { newId: () => randomUUID() },
    idempotentPredict: createIdempotentRunner<PredictResponse>({
      client: createDynamoClient(config),
      tableName: config.TABLE_NAME,
      expiresAfterS: IDEMPOTENCY_EXPIRY_S,
      functionName: config.AWS_LAMBDA_FUNCTION_NAME ?? 'local-predict',
    }),
    scorer() {
      scorer ??= (
        overrides.scorer ?? (async () => coalescePacketScoring(await loadScorer({ modelsDir })))
      )().catch((error: unknown) => {
        scorer = undefined;
        throw error;
      });
      return scorer;
    },
    analyzer() {
      analyzer ??= createCaptureAnalyzer();
      return analyzer;
    },
    flowContext() {
      flowContext ??= loadManifest(modelsDir).then(
        (manifest) => {
          const spec = manifest.flow_context;
          return () => new FlowContext(spec ? { windowS: spec.window_s } : {});
        },
        (error: unknown) => {
          flowContext = undefined;
          throw error;
        },
      );
      return flowContext;
    },
  };
}

let processContainer: Container | undefined;

/** The container of this process, from `getConfig()` (Lambda: built at the first invocation of the container). */
export function defaultContainer(): Container {
  processContainer ??= createContainer(getConfig());
  return processContainer;
}

/**
 * A Lambda entry point built on first call, so importing a handler module (tests, the local runtime)
 * neither reads the environment nor connects anywhere.
 */
export function lazyHandler<E, C, R>(build: () => (event: E, context: C) => Promise<R>) {
  let built: ((event: E, context: C) => Promise<R>) | undefined;
  return (event: E, context: C): Promise<R> => {
    built ??= build();
    return built(event, context);
  };
}
