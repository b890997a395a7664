import { Duration, RemovalPolicy, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../../config/stages.js';

/** Key prefixes written by the pipeline (see docs/pipeline.md). */
export const CAPTURE_PREFIXES = {
  uploads: 'uploads/',
  packets: 'packets/',
  flows: 'flows/',
  features: 'features/',
} as const;

/**
 * The capture bucket: uploads arrive by browser POST (presigned), derived CSVs are written by the
 * pipeline. SSE-S3 so a browser POST needs no KMS permissions; TLS only; no public access; server
 * access logs to a separate bucket; everything expires on the stage's schedule.
 */
export class CaptureBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, config: StageConfig) {
    super(scope, id);
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const autoDeleteObjects = !config.retainData;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects,
    });

    const derived = (prefix: string) => ({
      id: `expire-${prefix.replace('/', '')}`,
      prefix,
      expiration: Duration.days(config.lifecycle.derivedExpireDays),
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'capture-bucket/',
      cors: [
        {
          // Browser uploads use a presigned POST form; downloads use presigned GET links.
          allowedMethods: [s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: [...config.upload.allowedOrigins],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag', 'Location'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'expire-uploads',
          prefix: CAPTURE_PREFIXES.uploads,
          expiration: Duration.days(config.lifecycle.uploadsExpireDays),
        },
        derived(CAPTURE_PREFIXES.packets),
        derived(CAPTURE_PREFIXES.flows),
        derived(CAPTURE_PREFIXES.features),
      ],
      removalPolicy,
      autoDeleteObjects,
    });
  }
}
