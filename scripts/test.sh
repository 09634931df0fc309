#!/usr/bin/env bash
# The whole test suite: installs what is missing, type-checks, then runs every test file with
# node's own test runner. Tests use synthetic data only; none needs ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx --no-install tsc --noEmit
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 "${files[@]}"
