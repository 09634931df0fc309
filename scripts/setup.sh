#!/usr/bin/env bash
# Installs what nnlock needs, and only what is missing: libtorch (Debian's libtorch-dev when no
# libtorch is found), npm packages, and the native addon. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1mnnlock setup:\033[0m %s\n' "$*"; }

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

# 3. The native addon, when it is missing or older than its sources.
addon=native/build/Release/nnlock.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp native/find-libtorch.mjs -newer "$addon" 2>/dev/null | head -n 1)" ]; then
  node native/find-libtorch.mjs report
  say "building the native addon (about a minute)"
  nodedir=()
  if [ -f /usr/include/node/node_api.h ]; then nodedir=(--nodedir=/usr); fi
  (cd native && npx --no-install node-gyp rebuild "${nodedir[@]}" -j "$(nproc)" --loglevel=error >/dev/null) || {
    echo "nnlock setup: the native build failed; rerun with: (cd native && npx node-gyp rebuild --nodedir=/usr)" >&2; exit 1; }
fi
say "ready ($(node native/find-libtorch.mjs report))"
