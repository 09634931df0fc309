#!/usr/bin/env bash
# Runs the benchmarks: bench/*.ts, or those named as arguments (bench/engine.ts, engine.ts or
# engine). Arguments after `--` go to every benchmark (e.g. `-- --quick --threads 1`).
# Installs what is missing first: the addon and npm packages (scripts/setup.sh) and, for the
# PyTorch peer runs, Debian's python3-torch (run with /usr/bin/python3). Results go to
# bench/results/<name>.json and .md.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1mnnlock bench:\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "nnlock bench: need root to run: $*" >&2; exit 1; fi
}

bash scripts/setup.sh

python=${NNLOCK_BENCH_PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import torch' >/dev/null 2>&1; then
  if [ "$python" = /usr/bin/python3 ] && command -v apt-get >/dev/null; then
    say "PyTorch is missing for $python: installing Debian's python3-torch"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
  else
    echo "nnlock bench: $python cannot import torch; install PyTorch for it or set NNLOCK_BENCH_PYTHON" >&2
    exit 1
  fi
fi

benches=()
extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
  name=${1#bench/}; name=${name%.ts}
  if [ ! -f "bench/$name.ts" ]; then
    echo "nnlock bench: no benchmark bench/$name.ts (have: $(cd bench && ls -1 ./*.ts | sed 's|^\./||; s|\.ts$||' | tr '\n' ' '))" >&2
    exit 1
  fi
  benches+=("bench/$name.ts")
  shift
done
if [ ${#benches[@]} -eq 0 ]; then mapfile -t benches < <(find bench -maxdepth 1 -name '*.ts' | sort); fi

mkdir -p bench/results
for b in "${benches[@]}"; do
  say "running $b"
  node --import tsx "$b" "${extra[@]}"
done
