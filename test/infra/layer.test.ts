import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/lib/paths.js';
import {
  buildOnnxRuntimeLayer,
  type LayerArch,
  type LayerBuildResult,
  layerArchFor,
} from '../../layers/onnxruntime/build.js';

type OnnxRuntime = typeof import('onnxruntime-node');

/** Lambda limit for function code plus layers, unzipped. */
const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 2 ** 20;

// ---- a tiny ONNX model written as protobuf bytes (onnx.proto3): Y = Add(X, X), X float[1,3] ----

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}
const key = (field: number, wireType: number) => varint((field << 3) | wireType);
const intField = (field: number, value: number) => [...key(field, 0), ...varint(value)];
const bytesField = (field: number, payload: readonly number[]) => [
  ...key(field, 2),
  ...varint(payload.length),
  ...payload,
];
const stringField = (field: number, text: string) => bytesField(field, [...Buffer.from(text, 'utf8')]);

function floatTensorValueInfo(name: string, dims: readonly number[]): number[] {
  const shape = dims.flatMap((dim) => bytesField(1, intField(1, dim))); // TensorShapeProto.dim{dim_value}
  const tensorType = [...intField(1, 1), ...bytesField(2, shape)]; // elem_type FLOAT, shape
  const typeProto = bytesField(1, tensorType); // TypeProto.tensor_type
  return [...stringField(1, name), ...bytesField(2, typeProto)]; // ValueInfoProto{name, type}
}

function tinyAddModel(): Uint8Array {
  const node = [
    ...stringField(1, 'X'),
    ...stringField(1, 'X'),
    ...stringField(2, 'Y'),
    ...stringField(4, 'Add'),
  ];
  const graph = [
    ...bytesField(1, node),
    ...stringField(2, 'double'),
    ...bytesField(11, floatTensorValueInfo('X', [1, 3])),
    ...bytesField(12, floatTensorValueInfo('Y', [1, 3])),
  ];
  const opset = [...stringField(1, ''), ...intField(2, 13)];
  const model = [
    ...intField(1, 8), // ir_version
    ...stringField(2, 'ccf-layer-test'),
    ...bytesField(7, graph),
    ...bytesField(8, opset),
  ];
  return Uint8Array.from(model);
}

const hostArch: LayerArch | null =
  process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') ? process.arch : null;

describe('onnxruntime layer build', () => {
  const dirs: string[] = [];
  const build = (arch: LayerArch): LayerBuildResult => {
    const outDir = mkdtempSync(join(tmpdir(), `ccf-layer-${arch}-`));
    dirs.push(outDir);
    return buildOnnxRuntimeLayer({ arch, outDir });
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('the arm64 layer (the one deployed) keeps only linux/arm64 binaries and no AWS SDK', () => {
    expect(layerArchFor('arm64')).toBe('arm64');
    const layer = build('arm64');
    const binaries = layer.files.filter((file) => file.includes('/bin/'));
    expect(binaries.sort()).toEqual([
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1',
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node',
    ]);
    expect(layer.files.some((file) => file.includes('@aws-sdk') || file.includes('/script/'))).toBe(false);
    expect(layer.files.some((file) => file.endsWith('.d.ts') || file.endsWith('.map'))).toBe(false);
    // ELF header: 64-bit, e_machine 0xB7 = AArch64.
    const binding = readFileSync(join(layer.outDir, binaries[1]!));
    expect([...binding.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(binding.readUInt16LE(18)).toBe(0xb7);
    console.info(
      `onnxruntime-node ${layer.onnxruntimeVersion} layer linux/arm64: ${(layer.unzippedBytes / 2 ** 20).toFixed(1)} MB unzipped, ${layer.files.length} files`,
    );
    expect(layer.unzippedBytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT_BYTES / 4);
  });

  describe.skipIf(hostArch === null)(
    `the layer built for this machine (linux/${hostArch}) loads and scores`,
    () => {
      let ort: OnnxRuntime;
      let layer: LayerBuildResult;
      beforeAll(() => {
        layer = build(hostArch ?? 'x64');
        // Resolve from inside the layer only: nothing may come from the repo's node_modules.
        const requireFromLayer = createRequire(join(layer.outDir, 'nodejs', 'node_modules', 'entry.cjs'));
        const resolved = requireFromLayer.resolve('onnxruntime-node');
        expect(resolved.startsWith(layer.outDir)).toBe(true);
        ort = requireFromLayer('onnxruntime-node') as OnnxRuntime;
      });

      it('runs a tiny model built in the test: Y = X + X', async () => {
        const session = await ort.InferenceSession.create(tinyAddModel());
        const x = new ort.Tensor('float32', Float32Array.from([1.5, -2, 0.25]), [1, 3]);
        const { Y } = await session.run({ X: x });
        expect(Array.from(Y!.data as Float32Array)).toEqual([3, -4, 0.5]);
        await session.release();
      });

      const manifestPath = join(REPO_ROOT, 'models', 'manifest.json');
      it.skipIf(!existsSync(manifestPath))(
        'runs every model of models/manifest.json on a zero row',
        async () => {
          const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
            models: Array<{ file: string }>;
          };
          const files = manifest.models.map((model) => model.file);
          expect(files.length).toBeGreaterThan(0);
          expect(
            readdirSync(join(REPO_ROOT, 'models'))
              .filter((file) => file.endsWith('.onnx'))
              .sort(),
          ).toEqual([...files].sort());
          for (const file of files) {
            const session = await ort.InferenceSession.create(join(REPO_ROOT, 'models', file));
            const feeds: Record<string, InstanceType<OnnxRuntime['Tensor']>> = {};
            for (const input of session.inputMetadata) {
              if (!input.isTensor) throw new Error(`${file}: input ${input.name} is not a tensor`);
              const dims = input.shape.map((dim) => (typeof dim === 'number' && dim > 0 ? dim : 1));
              const size = dims.reduce((product, dim) => product * dim, 1);
              expect(input.type, `${file}:${input.name}`).toBe('float32');
              feeds[input.name] = new ort.Tensor('float32', new Float32Array(size), dims);
            }
            const tensorOutputs = session.outputMetadata
              .filter((output) => output.isTensor)
              .map((o) => o.name);
            expect(tensorOutputs.length, file).toBeGreaterThan(0);
            const results = await session.run(feeds, tensorOutputs);
            for (const name of tensorOutputs) {
              const values = Array.from(results[name]!.data as ArrayLike<number | bigint>, Number);
              expect(values.length, `${file}:${name}`).toBeGreaterThan(0);
              expect(values.every(Number.isFinite), `${file}:${name}`).toBe(true);
            }
            await session.release();
          }
        },
      );
    },
  );
});
