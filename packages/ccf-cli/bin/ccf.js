#!/usr/bin/env node
// Entry point for `npx ccf`: runs the compiled CLI (built by `npm install` through the `prepare` script).
import('../../../dist/functions/cli/main.js').catch((error) => {
  process.stderr.write(
    `ccf: could not start (${error instanceof Error ? error.message : String(error)}); run \`npm install\` first.\n`,
  );
  process.exit(1);
});
