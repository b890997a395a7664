#!/usr/bin/env node
// Entry point for `npx ccf`: runs the compiled CLI (built by `npm install` through the `prepare` script).
import nodeModule from 'node:module';

// On Node 22 (22.1 and later: the Lambda runtime's), V8's compiled code of the CLI's modules is kept between runs
// in the OS temp folder (node-compile-cache/): `ccf flows` on the 20,893-packet sample, 16 alternated pairs with
// and without it, took a median 0.93x the CPU (0.56 against 0.575 s). NODE_DISABLE_COMPILE_CACHE=1 turns it off.
// Node 20 has no such cache and skips this.
nodeModule.enableCompileCache?.();

import('../../../dist/functions/cli/main.js').catch((error) => {
  process.stderr.write(
    `ccf: could not start (${error instanceof Error ? error.message : String(error)}); run \`npm install\` first.\n`,
  );
  process.exit(1);
});
