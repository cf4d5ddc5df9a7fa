#!/usr/bin/env bash
# The README's test command: installs what the suites need, then runs every node:test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
bash test/install-system-deps.sh
files=$(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files
