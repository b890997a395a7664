import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  Annotations,
  AssetStaging,
  Duration,
  type aws_ec2 as ec2,
  type aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { FunctionSizing, StageConfig } from '../../config/stages.js';
import { REPO_ROOT } from '../paths.js';
import { hashOf, sourceFingerprint } from '../source-fingerprint.js';

/** One architecture for every function and for the onnxruntime layer (Graviton: cheaper per GB-s). */
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;
export const ONNXRUNTIME_MODULE = 'onnxruntime-node';

/** A static `import … from "onnxruntime-node"` in an ESM bundle (minified or not); not `import(…)`. */
const STATIC_ONNXRUNTIME_IMPORT = /(?:^|[;\s}])import(?:[^;()'"]*?from)?\s*["']onnxruntime-node["']/m;

/** True when the bundled code loads onnxruntime-node at module load (not lazily with `import()`). */
export function bundleImportsOnnxRuntimeStatically(bundleSource: string): boolean {
  return STATIC_ONNXRUNTIME_IMPORT.test(bundleSource);
}

/** Repo folders copied next to a bundle (esbuild cannot inline data files). */
export type BundledData = 'models' | 'protocol';

/** What is copied of each folder: the model files only (not models/training/), all protocol maps. */
const BUNDLED_FILES: Readonly<Record<BundledData, readonly string[]>> = {
  models: ['manifest.json', '*.onnx'],
  protocol: ['*'],
};

export interface HandlerFunctionProps {
  /** Entry file exporting `handler`: absolute, or relative to the repo root. */
  readonly entry: string;
  readonly description: string;
  readonly config: StageConfig;
  readonly sizing: FunctionSizing;
  readonly environment?: Readonly<Record<string, string>>;
  /** The onnxruntime layer, for the functions that score. */
  readonly onnxRuntimeLayer?: lambda.ILayerVersion;
  readonly data?: readonly BundledData[];
  /** Folder holding the {@link BundledData} folders (default: the repo root). */
  readonly dataRoot?: string;
  readonly vpc?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly securityGroups: readonly ec2.ISecurityGroup[];
  };
  /** A role defined with the stateful resources (for resource policies that must name it). */
  readonly role?: iam.IRole;
}

/** What a bundle is built from (see sourceFingerprint): any change re-bundles. */
const BUNDLE_INPUTS = ['functions', 'infra/functions', 'package-lock.json', 'tsconfig.json'];

/** Absolute directory inside the function where {@link BundledData} lands. */
export function bundledDataDir(data: BundledData): string {
  return `/var/task/${data}`;
}

/**
 * A handler as an esbuild-bundled ESM NodejsFunction with the house defaults: Node 22 on arm64,
 * X-Ray tracing, JSON logs into a log group with the stage's retention, the AWS SDK bundled (the
 * version the code was tested with), source maps on. Bundles locally; never needs Docker.
 */
export class HandlerFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const entry = isAbsolute(props.entry) ? props.entry : join(REPO_ROOT, props.entry);
    if (!existsSync(entry)) {
      throw new Error(`handler entry ${props.entry} does not exist; it must export \`handler\``);
    }
    const { config } = props;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const data = props.data ?? [];
    const dataRoot = props.dataRoot ?? REPO_ROOT;
    for (const folder of data) {
      if (!existsSync(join(dataRoot, folder))) {
        throw new Error(`${props.entry} needs the repo's ${folder}/ folder, which does not exist`);
      }
    }
    const copyData: nodejs.ICommandHooks = {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) =>
        data.flatMap((folder) => [
          `mkdir -p "${join(outputDir, folder)}"`,
          ...BUNDLED_FILES[folder].map(
            (pattern) => `cp -R "${join(dataRoot, folder)}"/${pattern} "${join(outputDir, folder)}/"`,
          ),
        ]),
    };

    const bundling: nodejs.BundlingOptions = {
      forceDockerBundling: false,
      format: nodejs.OutputFormat.ESM,
      target: 'node22',
      platform: 'node',
      mainFields: ['module', 'main'],
      minify: true,
      sourceMap: true,
      sourceMapMode: nodejs.SourceMapMode.EXTERNAL,
      sourcesContent: false,
      // Native: never bundled. Provided by the layer where it is attached; the SDK is bundled.
      externalModules: [ONNXRUNTIME_MODULE],
      // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
      banner:
        "import { createRequire as __ccfCreateRequire } from 'node:module'; const require = __ccfCreateRequire(import.meta.url);",
    };
    const assetHash = hashOf(
      sourceFingerprint(REPO_ROOT, BUNDLE_INPUTS),
      sourceFingerprint(dataRoot, data),
      readFileSync(entry, 'utf8'),
      props.entry,
      JSON.stringify(bundling),
      JSON.stringify(data),
      LAMBDA_ARCHITECTURE.name,
    );

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry,
      handler: 'handler',
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: props.sizing.memoryMb,
      timeout: Duration.seconds(props.sizing.timeoutSeconds),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      layers: props.onnxRuntimeLayer ? [props.onnxRuntimeLayer] : undefined,
      role: props.role,
      ...(props.vpc
        ? {
            vpc: props.vpc.vpc,
            vpcSubnets: props.vpc.subnets,
            securityGroups: [...props.vpc.securityGroups],
          }
        : {}),
      environment: {
        CCF_STAGE: config.name,
        LOG_LEVEL: config.logLevel,
        POWERTOOLS_LOG_LEVEL: config.logLevel,
        POWERTOOLS_SERVICE_NAME: 'ccf-catcher',
        POWERTOOLS_METRICS_NAMESPACE: 'CcfCatcher',
        NODE_OPTIONS: '--enable-source-maps',
        ...(data.includes('models') ? { MODELS_DIR: bundledDataDir('models') } : {}),
        ...(data.includes('protocol') ? { CCF_PROTOCOL_DIR: bundledDataDir('protocol') } : {}),
        ...props.environment,
      },
      bundling: {
        ...bundling,
        assetHash,
        commandHooks: copyData,
      },
    });
    this.checkOnnxRuntimeImport(props);
  }

  /** Directory of the staged bundle (index.mjs and the copied data). */
  get bundleDir(): string {
    const staging = this.fn.node.findChild('Code').node.findChild('Stage');
    if (!(staging instanceof AssetStaging)) throw new Error(`${this.node.path}: no staged bundle`);
    return staging.absoluteStagedPath;
  }

  /**
   * A function without the layer whose bundle imports onnxruntime-node at load time would fail every
   * cold start with ERR_MODULE_NOT_FOUND: say so on every synth (the code must load the scorer lazily).
   */
  private checkOnnxRuntimeImport(props: HandlerFunctionProps): void {
    if (props.onnxRuntimeLayer !== undefined) return;
    const bundle = join(this.bundleDir, 'index.mjs');
    if (existsSync(bundle) && bundleImportsOnnxRuntimeStatically(readFileSync(bundle, 'utf8'))) {
      Annotations.of(this).addWarningV2(
        'ccf:onnxruntime-static-import',
        `${props.entry} imports onnxruntime-node at module load but has no onnxruntime layer: it would fail at cold start. Load the scorer with a dynamic import().`,
      );
    }
  }
}
