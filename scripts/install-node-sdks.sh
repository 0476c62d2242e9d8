#!/usr/bin/env bash
# Installs the official OpenAI and Anthropic Node SDKs (versions pinned in
# tests/gateway/sdk/package.json) and the SDK test script into DIR, for tests/gateway/sdk_test.cpp
# and the demo. Does nothing when DIR already holds the same package.json and both packages.
#   scripts/install-node-sdks.sh DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)/tests/gateway/sdk"
dir=${1:?usage: install-node-sdks.sh DIR}
mkdir -p "$dir"
if ! cmp -s "$src/package.json" "$dir/package.json" || [[ ! -d $dir/node_modules/openai || ! -d $dir/node_modules/@anthropic-ai/sdk ]]; then
  if ! command -v npm >/dev/null; then
    echo "install-node-sdks: npm is missing (scripts/install-deps.sh installs nodejs and npm)" >&2
    exit 1
  fi
  cp "$src/package.json" "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
cp "$src/sdk_test.mjs" "$dir/"
