import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetHashType, DockerImage, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { buildOnnxRuntimeLayer, layerArchFor } from '../../../layers/onnxruntime/build.js';
import { REPO_ROOT } from '../paths.js';
import { hashOf } from '../source-fingerprint.js';
import { LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME } from './handler-function.js';

/**
 * onnxruntime-node as a layer, pruned to the Linux binaries of the functions' architecture.
 * Built at synth by layers/onnxruntime/build.ts (a local copy, no Docker); the asset hash covers the
 * installed onnxruntime versions and the build script, so an upgrade publishes a new layer version.
 */
export class OnnxRuntimeLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const arch = layerArchFor(LAMBDA_ARCHITECTURE === lambda.Architecture.ARM_64 ? 'arm64' : 'x86_64');
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `onnxruntime-node for Node.js on linux/${arch}`,
      compatibleRuntimes: [LAMBDA_RUNTIME],
      compatibleArchitectures: [LAMBDA_ARCHITECTURE],
      code: lambda.Code.fromAsset(`${REPO_ROOT}/layers/onnxruntime`, {
        // Same onnxruntime-node build, architecture and build script → same layer (no rebuild).
        assetHashType: AssetHashType.CUSTOM,
        assetHash: hashOf(
          readFileSync(join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'),
          readFileSync(join(REPO_ROOT, 'node_modules', 'onnxruntime-common', 'package.json'), 'utf8'),
          readFileSync(join(REPO_ROOT, 'layers', 'onnxruntime', 'build.ts'), 'utf8'),
          arch,
        ),
        bundling: {
          // Never used: local bundling always succeeds or throws.
          image: DockerImage.fromRegistry('unused-local-bundling-only'),
          local: {
            tryBundle(outputDir: string): boolean {
              buildOnnxRuntimeLayer({ arch, outDir: outputDir, resolveFrom: REPO_ROOT });
              return true;
            },
          },
        },
      }),
    });
  }
}
