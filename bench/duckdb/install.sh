#!/usr/bin/env bash
# bench/duckdb/install.sh DIR: puts the DuckDB peer (peer.mjs and npm's @duckdb/node-api at the
# version package-lock.json pins) into DIR, a directory of the bench's own output. Only
# `make bench` calls it (through bench/run.sh), never `make test`. Prints nothing on success;
# exits 1 with the reason when Node.js or npm is missing or the registry cannot be reached.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir=$1
mkdir -p "$dir"
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "duckdb peer: $tool not found (scripts/install-deps.sh --bench)"; exit 1; }
done
cp "$here/peer.mjs" "$dir/peer.mjs"
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" 2>/dev/null || [ ! -d "$dir/node_modules/@duckdb/node-api" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$dir/npm.log" 2>&1); then
    echo "duckdb peer: npm ci failed (see $dir/npm.log)"
    exit 1
  fi
fi
