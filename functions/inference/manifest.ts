import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../platform/errors.js';

/**
 * `models/manifest.json`, written by `models/training/train.sh`. Only the fields the scorer relies on are
 * strict; training data and metrics are carried through as documentation.
 */
const documentation = z.record(z.string(), z.unknown());

export const modelEntrySchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  kind: z.enum(['flow', 'packet']),
  description: z.string(),
  file: z
    .string()
    .regex(/^[\w.-]+\.onnx$/, 'a file name inside the models directory')
    .refine((name) => !name.startsWith('.'), 'no hidden files'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  feature_set: z.string().min(1),
  input: z.object({
    name: z.string().min(1),
    type: z.literal('float32'),
    features: z.array(z.string().min(1)).min(1),
  }),
  required_features: z.array(z.string().min(1)),
  /** Value given to an optional feature the record does not carry (packet model); null: every feature is required. */
  absent_value: z.number().nullable(),
  outputs: z.record(z.string(), z.string()),
  classes: z.array(z.string()).nullable(),
  thresholds: z.record(z.string(), z.number()),
  training_data: documentation,
  metrics: documentation,
});

/**
 * How the context columns (functions/flows/flow-context.ts) were computed for training. Serving must compute them
 * the same way, so the scorer refuses a bundle whose columns differ from the code's.
 */
export const flowContextSchema = z.object({
  columns: z.array(z.string().min(1)).min(1),
  window_s: z.number().positive(),
  absent_value: z.number(),
  description: z.string().optional(),
});

export const manifestSchema = z.object({
  manifest_version: z.literal(1),
  bundle_version: z.string().min(1),
  model_version: z.string().min(1),
  numeric_policy: z.string(),
  combination_policy: z
    .object({
      description: z.string(),
      /** Per attack class: P(class) at or above it flags the flow (the class must be the likeliest attack class). */
      classifier_thresholds: z.record(z.string(), z.number().min(0).max(1)),
      anomaly_threshold: z.number(),
      /** The same for flow-classifier-lone (flows without context); absent in bundles without that model. */
      lone_classifier_thresholds: z.record(z.string(), z.number().min(0).max(1)).optional(),
      target_benign_fpr: z.number(),
    })
    .loose(),
  models: z.array(modelEntrySchema).min(1),
  /** Absent in bundles trained without context features. */
  flow_context: flowContextSchema.optional(),
});

export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type ModelManifest = z.infer<typeof manifestSchema>;
export type FlowContextSpec = z.infer<typeof flowContextSchema>;

export const MANIFEST_FILE = 'manifest.json';

/** Reads and validates `<modelsDir>/manifest.json`; ModelError when missing or malformed. */
export async function loadManifest(modelsDir: string): Promise<ModelManifest> {
  const path = join(modelsDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelError(`Model manifest not readable: ${path}`, { path }, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`Model manifest is not JSON: ${path}`, { path }, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new ModelError(`Model manifest invalid at ${where || '(root)'}: ${issue?.message ?? 'unknown'}`, {
      path,
      field: where,
    });
  }
  for (const model of parsed.data.models) {
    const missing = model.required_features.filter((f) => !model.input.features.includes(f));
    if (missing.length > 0) {
      throw new ModelError(
        `Model ${model.name}: required features not among its inputs: ${missing.join(', ')}`,
        {
          model: model.name,
        },
      );
    }
  }
  return parsed.data;
}

/** Reads one model file and checks its sha256 against the manifest; ModelError when missing or altered. */
export async function readModelFile(modelsDir: string, entry: ModelEntry): Promise<Uint8Array> {
  const path = join(modelsDir, entry.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ModelError(`Model file not readable: ${path}`, { model: entry.name, path }, { cause: error });
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== entry.sha256) {
    throw new ModelError(
      `Model file ${entry.file} does not match the manifest (sha256 ${actual}, expected ${entry.sha256})`,
      {
        model: entry.name,
        path,
        expected: entry.sha256,
        actual,
      },
    );
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The entry of a named model; ModelError when the manifest lacks it. */
export function requireModel(manifest: ModelManifest, name: string): ModelEntry {
  const entry = manifest.models.find((m) => m.name === name);
  if (!entry) throw new ModelError(`Model manifest has no model named ${name}`, { model: name });
  return entry;
}
