import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The one place that reads the environment. Parsed once (`getConfig()`), failing at cold start with the
 * name of the bad setting. Everything else receives a `PlatformConfig`.
 * The same settings point the code at AWS (no endpoints) or at the local servers (`S3_ENDPOINT`, `DYNAMODB_ENDPOINT`).
 */
const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .pipe(z.url().optional())
  .optional();

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const configSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Bucket holding uploads/, packets/, flows/ and features/. */
  CAPTURE_BUCKET: z.string().min(3),
  /** Single DynamoDB table for captures and predictions (design in docs/pipeline.md). */
  TABLE_NAME: z.string().min(3),
  /** Set for local servers (s3rver) or S3-compatible stores; unset on AWS. */
  S3_ENDPOINT: optionalUrl,
  /** Base URL presigned POST uploads go to when it differs from S3_ENDPOINT (the local runtime's policy-checking gateway). */
  S3_UPLOAD_ENDPOINT: optionalUrl,
  /** Set for dynalite; unset on AWS. */
  DYNAMODB_ENDPOINT: optionalUrl,
  /** Explicit credentials, for local servers only; on AWS the default provider chain is used. */
  LOCAL_ACCESS_KEY_ID: z.string().min(1).optional(),
  LOCAL_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Largest capture the presigned POST policy accepts. */
  MAX_UPLOAD_BYTES: positiveInt(2 * 1024 ** 3),
  /** Largest capture accepted inline (multipart/form-data through API Gateway; its payload limit is 10 MB, base64 adds a third). */
  INLINE_UPLOAD_MAX_BYTES: positiveInt(5 * 1024 ** 2),
  UPLOAD_URL_EXPIRY_S: positiveInt(900),
  /** TTL horizon for captures and predictions (DynamoDB `expires_at`). */
  RETENTION_DAYS: positiveInt(90),
  /** Write shards of the time index (spreads one capture's predictions over several partition keys). */
  TIME_INDEX_SHARDS: positiveInt(4),
  /** Flows scored per model call and per DynamoDB batch group. */
  SCORE_BATCH_SIZE: positiveInt(512),
  /**
   * Flows per features part (features/{id}/…): parse-capture writes a part, and score-flows scores it, while
   * the rest of the capture is still parsed. A multiple of the prediction page size (256).
   */
  FEATURE_PART_FLOWS: positiveInt(8192).refine((n) => n % 256 === 0, 'must be a multiple of 256'),
  /** A parse or score claim older than this is taken over by a redelivered event (crashed worker). */
  CLAIM_LEASE_S: positiveInt(900),
  MODELS_DIR: z.string().min(1).optional(),
  /**
   * The local runtime's republish sweep: every this many seconds, captures whose predictions Kafka did not all
   * acknowledge are republished (0 = off). On AWS an EventBridge schedule runs the same sweep.
   */
  REPUBLISH_SWEEP_S: z.coerce.number().int().min(0).default(60),
  /** Captures retried per sweep. */
  REPUBLISH_SWEEP_CAPTURES: positiveInt(20),
  /** How long score-flows (the last features part) waits for parse-capture to record PARSED. */
  PARSED_WAIT_S: positiveInt(30),
  /** Comma-separated origins allowed by CORS; '*' for any. */
  CORS_ORIGINS: z.string().min(1).default('*'),
  /**
   * Powertools' tracing switch (also read by the Tracer itself). The X-Ray SDK is loaded only when this is on
   * and the code runs in Lambda: it hooks every promise (async_hooks), which costs ~20% of a small request.
   */
  POWERTOOLS_TRACE_ENABLED: z.stringbool().default(true),
  /** Set by Lambda; absent in the local runtime and tests, where nothing would receive traces. */
  AWS_LAMBDA_FUNCTION_NAME: z.string().min(1).optional(),
  /** Streaming (issue 6): when unset, predictions are not published and captures say so. */
  KAFKA_BROKERS: z.string().trim().min(1).optional(),
  /**
   * How clients authenticate to the brokers: `iam` = SASL/OAUTHBEARER over TLS with the AWS MSK signer (MSK, set
   * by the CDK stack), `plaintext` = no TLS, no SASL (the local broker). Said explicitly, never guessed from a port.
   */
  KAFKA_AUTH: z.enum(['plaintext', 'iam']).default('plaintext'),
  OPENSEARCH_URL: optionalUrl,
});

export type PlatformConfig = z.infer<typeof configSchema>;

/** Whether handlers trace with X-Ray (and so load the tracer at all). */
export function tracingEnabled(
  config: Pick<PlatformConfig, 'POWERTOOLS_TRACE_ENABLED' | 'AWS_LAMBDA_FUNCTION_NAME'>,
): boolean {
  return config.POWERTOOLS_TRACE_ENABLED && config.AWS_LAMBDA_FUNCTION_NAME !== undefined;
}

export type EnvironmentSource = Readonly<Record<string, string | undefined>>;

/** Settings from an environment-like record; throws `ConfigError` naming the first bad setting and why. */
function parseSettings<T extends z.ZodType>(schema: T, source: EnvironmentSource): z.infer<T> {
  const result = schema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    const setting = issue ? issue.path.join('.') : 'unknown';
    throw new ConfigError(`Invalid setting ${setting}: ${issue?.message ?? 'invalid'}`, { setting });
  }
  return result.data;
}

/** Parses settings from an environment-like record; throws `ConfigError` naming the first bad setting. */
export function parseConfig(source: EnvironmentSource): PlatformConfig {
  return parseSettings(configSchema, source);
}

let cached: PlatformConfig | undefined;

/** The process's configuration, read from `process.env` once. */
export function getConfig(): PlatformConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** Settings of the `ccf upload` client (also from the environment, overridable by flags). */
export const clientConfigSchema = z.object({
  CCF_API_URL: z.url().default('http://localhost:3000'),
  CCF_API_KEY: z.string().min(1).optional(),
});
export type ClientConfig = z.infer<typeof clientConfigSchema>;

export function getClientConfig(): ClientConfig {
  return parseSettings(clientConfigSchema, process.env);
}

/** Where `../shared` lives (tests, bench). */
export function sharedDirectory(repoRoot: string): string {
  return process.env.CCF_SHARED_DIR ?? `${repoRoot}/../shared`;
}

/** Settings of the local runtime (`npm start`). */
export const localConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOCAL_S3_PORT: z.coerce.number().int().min(0).max(65535).default(4569),
  LOCAL_DYNAMODB_PORT: z.coerce.number().int().min(0).max(65535).default(4567),
  LOCAL_DATA_DIR: z.string().min(1).default('.local'),
  HOST: z.string().min(1).default('127.0.0.1'),
  KAFKA_BROKERS: z.string().trim().min(1).optional(),
  OPENSEARCH_URL: optionalUrl,
});
export type LocalConfig = z.infer<typeof localConfigSchema>;

export function getLocalConfig(): LocalConfig {
  return parseSettings(localConfigSchema, process.env);
}
