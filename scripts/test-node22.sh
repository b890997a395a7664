#!/usr/bin/env bash
# Runs the unit and CDK tests on Node 22, the Lambda runtime (nodejs22.x), next to the Node 20 of this machine:
# the code must run on both. Node 22 comes from scripts/node22.sh (fetched once from the npm registry, cached under
# .cache/). Usage: scripts/test-node22.sh [vitest args] (default: test/unit test/infra).
set -euo pipefail
cd "$(dirname "$0")/.."
node22="$(scripts/node22.sh)"
PATH="$(dirname "$node22"):$PATH"
echo "test-node22: $(node --version)"
if (($# == 0)); then set -- test/unit test/infra; fi
exec node node_modules/vitest/vitest.mjs run --outputFile.json=.cache/vitest-node22.json "$@"
