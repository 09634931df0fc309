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

# 1b. What the tests and the demo use besides libtorch, so that no test is skipped on a fresh
#     machine: PyTorch and cryptography for the Python side and the interop tests, chromium for the
#     browser tests (never downloaded by npm), and Debian's real Fashion-MNIST for the demo without
#     fixtures. Each only when missing; NNLOCK_SETUP_NO_APT=1 skips this step (then those tests skip).
#     The Python checked is the system's (/usr/bin/python3, NNLOCK_TORCH_PYTHON to choose another):
#     that is where apt installs, whatever python3 a developer's PATH finds first.
missing=()
py="${NNLOCK_TORCH_PYTHON:-/usr/bin/python3}"
"$py" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
"$py" -c 'import cryptography' 2>/dev/null || missing+=(python3-cryptography)
"$py" -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
command -v chromium >/dev/null || missing+=(chromium)
# wrk: the load generator of bench/serve.ts (bench/lib/wrk.ts); a bench, not a test, but a fresh
# machine should run it as the README says.
command -v wrk >/dev/null || missing+=(wrk)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
# Gloo's headers, which libtorch's c10d headers include (native/src/c10d.cc); only for the system
# libtorch: an unpacked libtorch or Python's torch ships them in its own include/.
[ -n "${LIBTORCH:-}" ] || [ "${LIBTORCH_USE_PYTORCH:-}" = 1 ] || [ -f /usr/include/gloo/config.h ] || missing+=(libgloo-dev)
# A fast BLAS for the system libtorch: Debian's libtorch calls whatever libblas.so.3 resolves to, and
# without OpenBLAS that is netlib's reference BLAS. libtorch sends a convolution of one image (and
# every linear layer) through BLAS, not oneDNN: with the reference BLAS a single-image ResNet-20
# forward took 18 ms against 1.2 ms per image in batches (bench/serve-pool.ts). The OpenMP build,
# because libtorch's own threads are libgomp's: it then follows torch's thread count.
if [ -z "${LIBTORCH:-}" ] && [ "${LIBTORCH_USE_PYTORCH:-}" != 1 ] && [ -f /usr/include/ATen/ATen.h ]; then
  blas=$(readlink -f "/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/libblas.so.3" 2>/dev/null || true)
  case "$blas" in *openblas*) ;; *) missing+=(libopenblas0-openmp) ;; esac
fi
if [ ${#missing[@]} -gt 0 ] && [ "${NNLOCK_SETUP_NO_APT:-}" != 1 ]; then
  if command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing ${missing[*]} and no apt-get: the tests that need them will be skipped"
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
