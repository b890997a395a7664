import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveStage, STAGE_NAMES, type StageConfig, type StageName } from '../../../infra/config/stages.js';
import { addCcfStage, type CcfStacks } from '../../../infra/lib/ccf-app.js';
import { REPO_ROOT } from '../../../infra/lib/paths.js';
import { missingPrerequisites } from '../../../infra/lib/stateless-stack.js';

export interface SynthesizedStage {
  readonly config: StageConfig;
  readonly stacks: CcfStacks;
  readonly stateful: Template;
  readonly stateless: Template;
}

/**
 * Where handlers, models/ and protocol/ are read from. Always the repo in CI; a developer may point
 * CCF_INFRA_SOURCE_ROOT at a tree that has every handler while some are still being written.
 */
export const SOURCE_ROOT = resolve(process.env.CCF_INFRA_SOURCE_ROOT ?? REPO_ROOT);

/** Entries the app cannot synthesize without (handlers, models, protocol maps). */
export const MISSING = missingPrerequisites(SOURCE_ROOT);

/**
 * One cloud assembly for every stage, kept between runs: bundles are addressed by a hash of their
 * sources, so unchanged functions are bundled once per checkout and shared by the three stages.
 * CDK's built-in CloudFormation validation is left to `npm run synth` to keep the tests fast.
 */
const OUTDIR = join(REPO_ROOT, '.cache', 'cdk-test-assembly');

let synthesized: Record<StageName, SynthesizedStage> | undefined;

export function synthesizeStages(): Record<StageName, SynthesizedStage> {
  if (synthesized) return synthesized;
  process.env.CDK_VALIDATION = 'false';
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const result: Partial<Record<StageName, SynthesizedStage>> = {};
  for (const name of STAGE_NAMES) {
    const config = resolveStage(name);
    const app = new App({ context: { ...cdkJson.context, stage: name }, outdir: OUTDIR });
    const stacks = addCcfStage(app, config, { sourceRoot: SOURCE_ROOT });
    // Throws when any annotation is an error, i.e. an unsuppressed cdk-nag finding.
    app.synth();
    result[name] = {
      config,
      stacks,
      stateful: Template.fromStack(stacks.stateful),
      stateless: Template.fromStack(stacks.stateless),
    };
  }
  synthesized = result as Record<StageName, SynthesizedStage>;
  pruneUnusedAssets();
  return synthesized;
}

/** Drops bundles no stage references any more, so the kept assembly does not grow with every edit. */
function pruneUnusedAssets(): void {
  const used = new Set<string>();
  for (const file of readdirSync(OUTDIR).filter((name) => name.endsWith('.assets.json'))) {
    const manifest = JSON.parse(readFileSync(join(OUTDIR, file), 'utf8')) as {
      files?: Record<string, { source?: { path?: string } }>;
    };
    for (const entry of Object.values(manifest.files ?? {})) {
      if (entry.source?.path !== undefined) used.add(entry.source.path);
    }
  }
  for (const name of readdirSync(OUTDIR)) {
    if (name.startsWith('asset.') && !used.has(name))
      rmSync(join(OUTDIR, name), { recursive: true, force: true });
  }
}
