/**
 * The `ccf` command. Each command lives in commands/<name>-command.ts and exports register<Name>Command;
 * this file lists them (one import and one call each) and hands the run to run-command, the one place that
 * turns outcomes into exit statuses and messages.
 */
import { Command } from 'commander';
import { registerAnalyzeCommand } from './commands/analyze-command.js';
import { registerFlowsCommand } from './commands/flows-command.js';
import { registerPacketsCommand } from './commands/packets-command.js';
import { registerPredictCommand } from './commands/predict-command.js';
import { registerUploadCommand } from './commands/upload-command.js';
import { runProgram } from './run-command.js';

// The AWS SDK version is pinned on purpose (releases from 2027 need Node 22; see README): its Node 20 notice
// would only be noise on every `ccf upload`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command('ccf')
  .description('CCF-Catcher: packet captures to per-packet tables, flow features and verdicts')
  .version('0.1.0')
  .showHelpAfterError('(run ccf --help or ccf <command> --help for usage)');

registerPacketsCommand(program);
registerFlowsCommand(program);
registerPredictCommand(program);
registerAnalyzeCommand(program);
registerUploadCommand(program);

process.exitCode = await runProgram(program, process.argv, { debug: process.env.CCF_DEBUG === '1' });
