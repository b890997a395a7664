import { type App, Aspects, Tags } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { StageConfig } from '../config/stages.js';
import { applyNagSuppressions } from './nag-suppressions.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

export interface CcfStacks {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/** Stack names per stage: `Ccf-<stage>-Stateful`, `Ccf-<stage>-Stateless`. */
export function stackNames(config: StageConfig): { stateful: string; stateless: string } {
  const stage = config.name.charAt(0).toUpperCase() + config.name.slice(1);
  return { stateful: `Ccf-${stage}-Stateful`, stateless: `Ccf-${stage}-Stateless` };
}

/**
 * Adds one stage's stacks to the app, with cdk-nag's AwsSolutions pack checking every resource
 * (errors fail the synth; each suppression carries its reason in nag-suppressions.ts).
 */
export function addCcfStage(app: App, config: StageConfig, options: { sourceRoot?: string } = {}): CcfStacks {
  const names = stackNames(config);
  const env = config.env === null ? undefined : { account: config.env.account, region: config.env.region };
  const stateful = new StatefulStack(app, names.stateful, {
    config,
    env,
    description: `CCF-Catcher ${config.name}: network, capture bucket, records table, OpenSearch, MSK`,
    terminationProtection: config.retainData,
  });
  const stateless = new StatelessStack(app, names.stateless, {
    config,
    stateful,
    env,
    sourceRoot: options.sourceRoot,
    description: `CCF-Catcher ${config.name}: functions, layer, triggers, API, alarms`,
  });
  stateless.addStackDependency(stateful);
  for (const stack of [stateful, stateless]) {
    Tags.of(stack).add('project', 'ccf-catcher');
    Tags.of(stack).add('stage', config.name);
  }
  applyNagSuppressions({ stateful, stateless }, config);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { stateful, stateless };
}
