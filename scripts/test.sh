#!/usr/bin/env bash
# The whole test command (README, .ci/run): installs what is missing, type-checks, builds dist/,
# checks the layering and the lint and formatting, then runs every test file with node's own test
# runner. Tests use synthetic data only; none needs ../shared/data. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $*"; }
bash scripts/setup.sh
step "type-check (tsc --noEmit)"
npx --no-install tsc --noEmit
step "build dist/ (npm run build)"
npm run --silent build
step "layering (npm run lint:layers)"
node scripts/check-layers.mjs
step "lint and format check (biome ci)"
npx --no-install biome ci --colors="$([ -t 1 ] && [ -z "${NO_COLOR:-}" ] && echo force || echo off)" .
step "tests"
# Key files written by default go to $NNLOCK_KEYS_DIR (else ~/.nnlock/keys): never the home folder.
NNLOCK_KEYS_DIR="$(mktemp -d)"
export NNLOCK_KEYS_DIR
trap 'rm -rf "$NNLOCK_KEYS_DIR"' EXIT
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 "${files[@]}"
