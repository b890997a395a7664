/**
 * The `ccf` command. Each command lives in commands/<name>-command.ts and exports register<Name>Command;
 * this file lists them (one import and one call each) and hands the run to run-command, the one place that
 * turns outcomes into exit statuses and messages.
 */
import { Command } from 'commander';
import { runProgram } from './run-command.js';

// The AWS SDK version is pinned on purpose (releases from 2027 need Node 22; see README): its Node 20 notice
// would only be noise on every `ccf upload`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type Register = (program: Command) => void;

/**
 * Every command, in help order, loaded on demand: module loading (zod schemas, the inference code, the HTTP
 * client) was ~0.2 s of every run, and `ccf packets` needs none of what `ccf upload` loads.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  packets: async () => (await import('./commands/packets-command.js')).registerPacketsCommand,
  flows: async () => (await import('./commands/flows-command.js')).registerFlowsCommand,
  predict: async () => (await import('./commands/predict-command.js')).registerPredictCommand,
  analyze: async () => (await import('./commands/analyze-command.js')).registerAnalyzeCommand,
  upload: async () => (await import('./commands/upload-command.js')).registerUploadCommand,
};

const program = new Command('ccf')
  .description('CCF-Catcher: packet captures to per-packet tables, flow features and verdicts')
  .version('0.1.0')
  .showHelpAfterError('(run ccf --help or ccf <command> --help for usage)');

// A known command name first: register only that one. Anything else (help, version, a typo that commander
// answers with suggestions): register them all.
const requested = process.argv[2];
const wanted = requested !== undefined && requested in COMMANDS ? [requested] : Object.keys(COMMANDS);
for (const name of wanted) {
  const load = COMMANDS[name];
  if (load) (await load())(program);
}

process.exitCode = await runProgram(program, process.argv, { debug: process.env.CCF_DEBUG === '1' });
