#!/usr/bin/env bash
# Installs what nnlock needs, and only what is missing: libtorch (Debian's libtorch-dev when no
# libtorch is found), npm packages, and the native addon. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bold only on a terminal, and never when NO_COLOR is set (https://no-color.org): logs stay plain.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-}" != dumb ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '%snnlock setup:%s %s\n' "$bold" "$plain" "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "nnlock setup: need root to run: $*" >&2; exit 1; fi
}

# 1. libtorch. LIBTORCH or LIBTORCH_USE_PYTORCH=1 name one explicitly; otherwise the system's.
if [ -z "${LIBTORCH:-}" ] && [ "${LIBTORCH_USE_PYTORCH:-}" != 1 ] && [ ! -f /usr/include/ATen/ATen.h ]; then
  if command -v apt-get >/dev/null; then
    say "no libtorch found: installing Debian's libtorch-dev"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtorch-dev >/dev/null
  else
    echo "nnlock setup: no libtorch found and no apt-get: set LIBTORCH=/path/to/libtorch or LIBTORCH_USE_PYTORCH=1" >&2
    exit 1
  fi
fi

# 2. npm packages, when package.json or the lockfile changed since the last install.
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 3. The native addon, when it is missing or older than its sources (native/setup.mjs, which is
#    also `npx nnlock setup` in an installed package; its own lines are plain text).
node native/setup.mjs
