#!/usr/bin/env bash
# The test command (README, .ci/run): install what is missing, build, run every test.
# Unit tests need no root; kernel and e2e tests skip with a printed reason without it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -eq 0 ]]; then bash scripts/deps.sh; else npm ci --no-audit --no-fund && npm run build; fi
npx vitest run
