#!/usr/bin/env bash
# The prepared GPU check of nnlock's CUDA path, in two steps:
#
#   bash bench/cuda.sh pack   here, in a checkout with node_modules: puts into .gpu/ (git-ignored)
#                             what a bare GPU machine lacks: a Node.js binary (xz), the Node-API
#                             headers, and the benchmark and the CUDA tests bundled to plain
#                             JavaScript (esbuild). About 30 MiB; carry it with the run.
#   bash bench/cuda.sh        on the GPU machine, from the repository root: builds the addon
#                             against that machine's PyTorch (LIBTORCH_USE_PYTORCH=1, as
#                             native/find-libtorch.mjs finds it), runs the CUDA tests
#                             (test/nn/device*.test.ts), and measures ResNet-20 training and
#                             evaluation images/s against PyTorch on the same GPU (bench/cuda.ts
#                             and bench/cuda_torch.py), writing bench/results/cuda.md and
#                             cuda.json, and copying them with the logs to $OUT when it is set.
#
# Budget: under 8 minutes on one GPU (build about 2 minutes on 16 cores, tests under a minute,
# benchmark 1 to 2 minutes); each step has its own time limit. Without a GPU (or without a CUDA
# PyTorch) it says so in one line and exits 3, having built and written nothing.
#
# Environment: PYTHON (default python3: the interpreter that holds the GPU's PyTorch), NODE
# (default: node on PATH, else .gpu/node.xz), DEVICE (default cuda:0), NNLOCK_CUDA_JOBS (compile
# jobs, default the core count).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PACK=$ROOT/.gpu
say() { printf 'bench/cuda.sh: %s\n' "$*"; }
die() { # message [exit code, default 1]
  say "$1" >&2
  exit "${2:-1}"
}

pack() {
  [ -x node_modules/.bin/esbuild ] || die "pack needs this checkout's node_modules (esbuild)"
  mkdir -p "$PACK/node-api" "$PACK/node_modules/sharp"
  local node_bin
  node_bin=$(command -v node) || die 'pack needs node on PATH'
  if [ ! -s "$PACK/node.xz" ] || [ "$node_bin" -nt "$PACK/node.xz" ]; then
    say "compressing $node_bin ($(node --version)) into .gpu/node.xz (a minute)"
    xz -6 -T0 -c "$node_bin" >"$PACK/node.xz.part" && mv "$PACK/node.xz.part" "$PACK/node.xz" || die 'xz failed'
  fi
  # Node-API's C headers (Node's own) and node-addon-api's C++ ones: all the addon includes of Node.
  local nodeinc=/usr/include/node
  [ -f "$nodeinc/node_api.h" ] || nodeinc=$(dirname "$(dirname "$node_bin")")/include/node
  for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$nodeinc/$h" "$PACK/node-api/" || die "no $h in $nodeinc"; done
  cp node_modules/node-addon-api/napi*.h "$PACK/node-api/" || die 'no node-addon-api headers'
  # The bundles import no npm package at run time except sharp (images; unused here): a stub.
  printf '{"name":"sharp","version":"0.0.0-gpu-stub","main":"index.js"}\n' >"$PACK/node_modules/sharp/package.json"
  printf 'module.exports = function sharp() { throw new Error("sharp is not on this machine (bench/cuda.sh pack stub)"); };\n' >"$PACK/node_modules/sharp/index.js"
  local esb=(node_modules/.bin/esbuild --bundle --platform=node --format=esm --target=node20 --log-level=warning --external:sharp)
  "${esb[@]}" --outfile="$PACK/cuda-bench.mjs" bench/cuda.ts || die 'bundling bench/cuda.ts failed'
  for t in device device-cuda; do "${esb[@]}" --outfile="$PACK/$t.test.mjs" "test/nn/$t.test.ts" || die "bundling test/nn/$t.test.ts failed"; done
  say "packed .gpu/ ($(du -sh "$PACK" | cut -f1)): carry it (run's carry: [\".gpu\"]) and run \`bash bench/cuda.sh\` there"
}

[ "${1:-}" = pack ] && {
  pack
  exit 0
}
[ $# -eq 0 ] || die "usage: bash bench/cuda.sh [pack]" 2

PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda:0}
LOGS=$(mktemp -d /tmp/nnlock-cuda.XXXXXX)
START=$SECONDS

# 1. A GPU, seen by the PyTorch the addon will be built against.
gpu=$("$PYTHON" -c 'import torch; print(torch.__version__, torch.version.cuda, int(torch.cuda.is_available()), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null) ||
  die "no GPU check possible: $PYTHON cannot import torch (set PYTHON to the interpreter that holds the GPU's PyTorch); nothing built, nothing measured" 3
read -r torch_version torch_cuda available gpu_name <<<"$gpu"
[ "$available" = 1 ] || die "no GPU here: PyTorch $torch_version (CUDA ${torch_cuda}) sees no CUDA device; nothing built, nothing measured" 3
say "PyTorch $torch_version (CUDA $torch_cuda) on $gpu_name"

# 2. Node: the machine's, else the packed one.
NODE=${NODE:-$(command -v node || true)}
if [ -z "$NODE" ]; then
  [ -s "$PACK/node.xz" ] || die 'no node here and no .gpu/node.xz: run `bash bench/cuda.sh pack` where the checkout has node_modules, and carry .gpu'
  NODE=/tmp/nnlock-node
  # xz where it is installed, else Python's lzma (every machine that can run this has Python).
  { xz -dc "$PACK/node.xz" 2>/dev/null || "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$PACK/node.xz"; } >"$NODE" &&
    chmod +x "$NODE" || die 'could not unpack .gpu/node.xz'
fi
say "node $("$NODE" --version)"

# 3. The addon, built against this PyTorch with the flags binding.gyp uses (find-libtorch.mjs
#    decides the libraries, the C++ ABI and whether c10d's NCCL group is compiled).
export LIBTORCH_USE_PYTORCH=1
find_libtorch() { PYTHON=$PYTHON "$NODE" native/find-libtorch.mjs "$@"; }
find_libtorch report | tee "$LOGS/build.log" || die "find-libtorch failed: $(tail -1 "$LOGS/build.log")"
napi=$PACK/node-api
[ -f "$napi/napi.h" ] || napi="$ROOT/node_modules/node-addon-api -I/usr/include/node"
BUILD=$PACK/build
mkdir -p "$BUILD"
read -r -a includes <<<"$(find_libtorch include)"
read -r -a libs <<<"$(find_libtorch libs)"
read -r -a defines <<<"$(find_libtorch defines)"
libdir=$(find_libtorch libdir)
flags=(-std=c++17 -fPIC -fexceptions -frtti -O2 -Wno-unused-parameter -Wno-deprecated-declarations
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS)
for d in "${defines[@]}"; do flags+=("-D$d"); done
# shellcheck disable=SC2206
flags+=(-I$napi)
for i in "${includes[@]}"; do flags+=("-I$i"); done
flags+=(-I"$ROOT/native/shim")
compile() { # file, extra flags...
  local f=$1
  shift
  timeout 300 g++ "${flags[@]}" "$@" -c "native/src/$f.cc" -o "$BUILD/$f.o" >"$LOGS/$f.log" 2>&1
}
say "building the addon ($(nproc) cores)"
pids=()
for f in addon handle convert dispatch runtime jit c10d; do
  compile "$f" &
  pids+=("$f:$!")
done
failed=()
for p in "${pids[@]}"; do wait "${p#*:}" || failed+=("${p%%:*}"); done
c10d_note='c10d compiled'
if [ "${#failed[@]}" -eq 1 ] && [ "${failed[0]}" = c10d ]; then
  # c10d's C++ API moves between libtorch versions: build the rest, and say so.
  cat "$LOGS/c10d.log" >>"$LOGS/build.log"
  say "c10d.cc does not compile against libtorch $torch_version (first error: $(grep -m1 'error' "$LOGS/c10d.log")); building without it (NNLOCK_C10D=0)"
  compile c10d -DNNLOCK_NO_C10D || die "c10d.cc fails even without c10d: $(grep -m1 error "$LOGS/c10d.log")"
  c10d_note="c10d left out: c10d.cc did not compile against this libtorch (see build.log)"
  failed=()
fi
for f in "${failed[@]}"; do cat "$LOGS/$f.log" >>"$LOGS/build.log"; done
[ "${#failed[@]}" -eq 0 ] || die "the build failed in ${failed[*]}: $(grep -m1 error "$LOGS/${failed[0]}.log")"
g++ -shared -o "$BUILD/nnlock.node" "$BUILD"/*.o -L"$libdir" -Wl,-rpath,"$libdir" -Wl,--no-as-needed "${libs[@]}" >>"$LOGS/build.log" 2>&1 || die "linking failed: $(tail -3 "$LOGS/build.log")"
export NNLOCK_ADDON=$BUILD/nnlock.node
say "built $NNLOCK_ADDON in $((SECONDS - START)) s ($c10d_note)"

# 4. The CUDA tests (bundled by pack; the TypeScript directly where tsx is installed).
tests=("$PACK/device.test.mjs" "$PACK/device-cuda.test.mjs")
runner=("$NODE" --test --test-concurrency=1)
if [ ! -f "${tests[0]}" ]; then
  tests=(test/nn/device.test.ts test/nn/device-cuda.test.ts)
  runner=("$NODE" --import tsx --test --test-concurrency=1)
fi
timeout 180 "${runner[@]}" "${tests[@]}" >"$LOGS/tests.log" 2>&1
tests_rc=$?
tests_line="CUDA tests: $(grep -E '^# (pass|fail|skipped)' "$LOGS/tests.log" | tr '\n' ' ')(exit $tests_rc)"
say "$tests_line"

# 5. The benchmark: nnlock against PyTorch on this GPU.
bench=("$NODE" "$PACK/cuda-bench.mjs")
[ -f "${bench[1]}" ] || bench=("$NODE" --import tsx bench/cuda.ts)
NNLOCK_BENCH_DIR=$ROOT/bench timeout 240 "${bench[@]}" --device "$DEVICE" --python "$PYTHON" --out "$ROOT/bench/results" 2>&1 | tee "$LOGS/bench.log"
bench_rc=${PIPESTATUS[0]}
if [ "$bench_rc" -eq 0 ]; then
  printf '\nBuilt by bench/cuda.sh against PyTorch %s (CUDA %s): %s. %s.\n' "$torch_version" "$torch_cuda" "$c10d_note" "$tests_line" >>bench/results/cuda.md
fi
if [ -n "${OUT:-}" ]; then
  cp "$LOGS/build.log" "$LOGS/tests.log" "$LOGS/bench.log" "$OUT/" 2>/dev/null
  [ "$bench_rc" -eq 0 ] && cp bench/results/cuda.md bench/results/cuda.json "$OUT/"
fi
say "done in $((SECONDS - START)) s: tests exit $tests_rc, benchmark exit $bench_rc (logs in $LOGS${OUT:+, copied to \$OUT})"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
