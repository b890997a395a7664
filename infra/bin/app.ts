/**
 * CDK entry point: `npx cdk synth|deploy -c stage=<dev|staging|prod> --all`.
 * Only the selected stage's stacks are in the assembly.
 */
import { App } from 'aws-cdk-lib';
import { resolveStage, UnknownStageError } from '../config/stages.js';
import { addCcfStage } from '../lib/ccf-app.js';
import { missingPrerequisites } from '../lib/stateless-stack.js';

const app = new App();
try {
  const config = resolveStage(app.node.tryGetContext('stage'));
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`cannot synthesize stage ${config.name}: missing ${missing.join(', ')}`);
  }
  addCcfStage(app, config);
  app.synth();
} catch (error) {
  if (
    !(error instanceof UnknownStageError) &&
    !(error instanceof Error && error.message.startsWith('cannot synth'))
  ) {
    throw error;
  }
  process.stderr.write(`ccf-catcher infra: ${error.message}\n`);
  process.exitCode = 1;
}
