#!/usr/bin/env bash
# The main demo: installs what is missing, then runs `nnlock demo` (the engine, and with the
# shared fixtures beside the project, a real model protected with tiered keys).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/nnlock.js demo "$@"
